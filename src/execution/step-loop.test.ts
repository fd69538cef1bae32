import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex } from '@ethereumjs/util'
import { wordRoundTrip } from '../../test/evm-programs.ts'
import { createChainCommon } from '../chain/common.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import { type GasHandler, syncGasHandlers } from './step-loop.ts'
import { createExecutionVM } from './vm.ts'

const evmDir = new URL('.', import.meta.resolve('@ethereumjs/evm'))
const { Stack } = (await import(new URL('./stack.js', evmDir).href)) as { Stack: new () => { push(value: bigint): void } }
const { dynamicGasHandlers } = (await import(new URL('./opcodes/gas.js', evmDir).href)) as { dynamicGasHandlers: Map<number, GasHandler> }

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const emptyState: StateReader = { getAccount: () => undefined, getStorage: () => new Uint8Array(), getCode: () => undefined }
/** The EVM's own copy of common carries the gas parameters the handlers read. */
const evmCommon = (await createExecutionVM(common, new JournaledStateManager(emptyState))).vm.evm.common
/** Offsets and lengths: zero, inside and across word edges, large, and past what gas can pay. */
const values = [0n, 1n, 31n, 32n, 33n, 64n, 95n, 1000n, 4096n, 65_537n, 1n << 32n, (1n << 64n) - 1n, (1n << 256n) - 1n]
/** Memory already used before the step, in words: none, a little, more than most accesses need. */
const memories = [0n, 3n, 40n]

type Outcome = { gas: bigint; memoryWordCount: bigint; highestMemCost: bigint } | { error: string }

/** A run state with `stack` (last is the top) and `words` of memory already paid for. */
function runStateWith(stack: readonly bigint[], words: bigint) {
  const s = new Stack()
  for (const value of stack) s.push(value)
  return { stack: s, memoryWordCount: words, highestMemCost: words * 3n + (words * words) / 512n, interpreter: { isStatic: () => false } }
}

async function outcome(handler: GasHandler, stack: readonly bigint[], words: bigint): Promise<Outcome> {
  const runState = runStateWith(stack, words)
  try {
    const gas = await handler(runState as never, 7n, evmCommon as never)
    return { gas, memoryWordCount: runState.memoryWordCount, highestMemCost: runState.highestMemCost }
  } catch (error) {
    return { error: String((error as { error?: string }).error ?? error) }
  }
}

describe('step loop', () => {
  it('unit: each synchronous gas handler charges what ethereumjs\' handler for its opcode charges, and moves memory the same', async () => {
    let compared = 0
    let priced = 0
    for (const [opcode, twin] of syncGasHandlers) {
      const stock = dynamicGasHandlers.get(opcode)
      assert.ok(stock !== undefined, `ethereumjs has no dynamic gas handler for 0x${opcode.toString(16)}`)
      for (const words of memories) {
        for (const a of values) {
          for (const b of values) {
            // Three words: [x, b, a] with a on top (the offset), b the next (length or value).
            const stack = [5n, b, a]
            const expected = await outcome(stock, stack, words)
            assert.deepEqual(await outcome(twin, stack, words), expected, `0x${opcode.toString(16)} stack ${stack} memory ${words} words`)
            compared++
            if ('gas' in expected) priced++
          }
        }
      }
    }
    assert.equal(compared, syncGasHandlers.size * memories.length * values.length ** 2)
    assert.ok(priced > compared / 2, `only ${priced} of ${compared} comparisons priced a step`)
    // Negative control: the comparison sees a handler priced as another opcode's (MSTORE8 for MSTORE).
    assert.notDeepEqual(await outcome(syncGasHandlers.get(0x53)!, [0n, 63n], 0n), await outcome(dynamicGasHandlers.get(0x52)!, [0n, 63n], 0n))
  })

  it('behavior: a VM that mosaic builds prices memory through them and returns what the code computes, with ethereumjs\' gas', async () => {
    const { vm } = await createExecutionVM(common, new JournaledStateManager(emptyState))
    const twins = syncGasHandlers as Map<number, GasHandler>
    const mstore = twins.get(0x52)!
    let calls = 0
    twins.set(0x52, (runState, gas, c) => {
      calls++
      return mstore(runState, gas, c)
    })
    try {
      const { code, returns, gas } = wordRoundTrip
      const result = await vm.evm.runCode!({ code, gasLimit: 100_000n })
      assert.equal(result.exceptionError, undefined)
      assert.equal(bytesToHex(result.returnValue), returns)
      assert.equal(result.executionGasUsed, gas)
      assert.equal(calls, 2, 'both MSTOREs priced by the synchronous handler')
      // With a step listener (a tracer), ethereumjs' own loop runs: the same result, its handlers.
      const steps: string[] = []
      vm.evm.events!.on('step', (step) => void steps.push(step.opcode.name))
      const traced = await vm.evm.runCode!({ code, gasLimit: 100_000n })
      assert.equal(bytesToHex(traced.returnValue), returns)
      assert.equal(traced.executionGasUsed, result.executionGasUsed)
      assert.equal(steps.length, 10)
      assert.equal(calls, 2, 'no synchronous handler under a tracer')
    } finally {
      twins.set(0x52, mstore)
    }
  })
})
