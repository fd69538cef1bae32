/**
 * Runs one transaction with a tracer attached to the EVM's events, under a budget: the clock is
 * checked on every step, and every few milliseconds the step hands control back to the event
 * loop (a `step` listener taking a callback makes ethereumjs await it), so block production and
 * other requests go on while a long trace runs.
 */
import type { Block } from '@ethereumjs/block'
import type { EVM, InterpreterStep, Message } from '@ethereumjs/evm'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import { type RunTxOpts, type RunTxResult, runTx, type VM } from '@ethereumjs/vm'
import type { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { TraceBudget } from './budget.ts'
import type { CallType, TraceStateView, Tracer } from './types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/** How long the EVM may run before a step yields to the event loop. */
const YIELD_EVERY_MS = 5

const CALL_TYPES = new Set<string>(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL', 'CREATE', 'CREATE2'])

export type RunTracedParameters = {
  readonly vm: VM
  readonly stateManager: JournaledStateManager
  readonly tracer: Tracer
  readonly budget: TraceBudget
  readonly tx: TypedTransaction
  readonly block: Block
  /** The transaction's sender (already known: from the chain, or the impersonated caller of a call). */
  readonly sender: Uint8Array
  /** Passed to `runTx` (`blockGasUsed`, or the relaxed checks of a call). */
  readonly runOptions: Omit<RunTxOpts, 'tx' | 'block'>
  /** Logs the block's earlier transactions emitted (0 for a call). */
  readonly firstLogIndex: number
}

export function stateView(stateManager: JournaledStateManager): TraceStateView {
  return {
    account: (address) => stateManager.readAccount(address),
    storage: (address, slot) => stateManager.readStorage(address, slot),
    code: (address) => {
      const account = stateManager.readAccount(address)
      return account === undefined || equalsBytes(account.codeHash, KECCAK256_NULL) ? new Uint8Array() : stateManager.readCode(bytesToUnprefixedHex(account.codeHash))
    },
  }
}

/** Runs `tx` traced; the result's `tracer.result()` is then ready. A budget overrun throws `TraceLimitError`. */
export async function runTraced({ vm, stateManager, tracer, budget, tx, block, sender, runOptions, firstLogIndex }: RunTracedParameters): Promise<RunTxResult> {
  const evm = vm.evm as EVM
  let lastOp = ''
  let lastYield = Date.now()
  const onBefore = (message: Message) => {
    tracer.onEnter({ message, type: callType(message, lastOp), depth: message.depth })
  }
  const onAfter = (result: Parameters<Tracer['onExit']>[0]) => tracer.onExit(result)
  const onStep = (step: InterpreterStep, resolve?: (result?: unknown) => void) => {
    lastOp = step.opcode.name
    budget.checkTime()
    tracer.onStep(step)
    const now = Date.now()
    if (now - lastYield >= YIELD_EVERY_MS) {
      lastYield = now
      setImmediate(() => resolve?.())
    } else {
      resolve?.()
    }
  }
  tracer.onTxStart({
    from: sender,
    to: tx.to?.bytes,
    value: tx.value,
    gasLimit: tx.gasLimit,
    input: tx.data,
    coinbase: block.header.coinbase.bytes,
    firstLogIndex,
    state: stateView(stateManager),
    isPrecompile: (address) => evm.getPrecompile(new Address(address)) !== undefined,
    budget,
  })
  evm.events.on('beforeMessage', onBefore)
  evm.events.on('afterMessage', onAfter)
  evm.events.on('step', onStep)
  try {
    const result = await runTx(vm, { ...runOptions, tx, block })
    tracer.onTxEnd(result)
    return result
  } catch (error) {
    // The EVM may wrap or re-word what a hook threw: the budget remembers the limit hit.
    if (budget.exceeded !== undefined) throw budget.exceeded
    throw error
  } finally {
    evm.events.off('beforeMessage', onBefore)
    evm.events.off('afterMessage', onAfter)
    evm.events.off('step', onStep)
  }
}

/** The opcode that made a frame: the last one stepped (a frame starts right after its CALL/CREATE step). */
function callType(message: Message, lastOp: string): CallType {
  if (message.depth === 0) return message.to === undefined ? 'CREATE' : 'CALL'
  if (CALL_TYPES.has(lastOp)) return lastOp as CallType
  if (message.to === undefined) return message.salt === undefined ? 'CREATE' : 'CREATE2'
  return message.delegatecall ? 'DELEGATECALL' : message.isStatic ? 'STATICCALL' : 'CALL'
}

/** Waits for the event loop's next turn: between transactions of a replayed block. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
