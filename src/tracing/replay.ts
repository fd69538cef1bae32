/**
 * Tracing what the chain already executed: a block re-run from its parent's state exactly as the
 * sequencer ran it (`execution/sequential-executor.ts`: the EIP-2935 prelude, then each
 * transaction with the block's gas so far), on a fresh state manager and VM — never the
 * sequencer's. Transactions before the traced one run untraced; between transactions the
 * event loop gets its turn and the clock is checked.
 */
import { type Block, createBlock } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { runTx } from '@ethereumjs/vm'
import type { BlockHashLookup } from '../execution/types.ts'
import { applyBlockPrelude, createExecutionVM } from '../execution/vm.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import { isTraceLimitError, type TraceBudget } from './budget.ts'
import { runTraced, yieldToEventLoop } from './run.ts'
import type { Tracer } from './types.ts'
import { bytesToHex } from '../utils/hex.ts'

export type ReplayBlockParameters = {
  readonly common: Common
  readonly block: Block
  /** The senders of the block's transactions, in order (the chain stores them). */
  readonly senders: readonly { readonly bytes: Uint8Array }[]
  /** The state after the parent block. */
  readonly parentState: StateReader
  readonly blockHash: BlockHashLookup
  readonly budget: TraceBudget
  readonly createTracer: () => Tracer
  /** Trace only this transaction (those before it run untraced, those after not at all); unset: every one. */
  readonly only?: number | undefined
}

/** geth's `txTraceResult`: the trace, or the error that stopped this transaction's trace. */
export type TxTraceResult = { txHash: string; result: unknown } | { txHash: string; error: string }

export async function replayBlock({ common, block, senders, parentState, blockHash, budget, createTracer, only }: ReplayBlockParameters): Promise<TxTraceResult[]> {
  const stateManager = new JournaledStateManager(parentState)
  const { vm, hashes } = await createExecutionVM(common, stateManager)
  hashes.lookup = blockHash
  const header = block.header
  const executing = createBlock({ header }, { common: vm.common })
  await applyBlockPrelude(vm.common, stateManager, header)
  const results: TxTraceResult[] = []
  let gasUsed = 0n
  let logCount = 0
  const last = only ?? block.transactions.length - 1
  for (let i = 0; i <= last; i++) {
    const tx = block.transactions[i]!
    await yieldToEventLoop()
    budget.checkTime()
    if (only !== undefined && i < only) {
      const result = await runTx(vm, { tx, block: executing, blockGasUsed: gasUsed })
      gasUsed += result.totalGasSpent
      logCount += result.receipt.logs.length
      continue
    }
    const tracer = createTracer()
    const txHash = bytesToHex(tx.hash())
    try {
      const result = await runTraced({ vm, stateManager, tracer, budget, tx, block: executing, sender: senders[i]!.bytes, runOptions: { blockGasUsed: gasUsed }, firstLogIndex: logCount })
      gasUsed += result.totalGasSpent
      logCount += result.receipt.logs.length
      results.push({ txHash, result: tracer.result() })
    } catch (error) {
      if (isTraceLimitError(error) || only !== undefined) throw error
      // The chain executed it, so this is a fault of the replay: report it and stop (state after it is unknown).
      results.push({ txHash, error: error instanceof Error ? error.message : String(error) })
      break
    }
  }
  return results
}
