import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bigIntToBytes, bytesToBigInt, bytesToHex, setLengthLeft } from '@ethereumjs/util'
import { wordRoundTrip } from '../../test/evm-programs.ts'
import { createChainCommon } from '../chain/common.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import { createExecutionVM } from './vm.ts'
import { stockHandlers, wordBytes, wordHandlers, wordValue } from './word-opcodes.ts'

const evmDir = new URL('.', import.meta.resolve('@ethereumjs/evm'))
const { Memory } = (await import(new URL('./memory.js', evmDir).href)) as { Memory: new () => { read(offset: number, size: number): Uint8Array } }
const { Stack } = (await import(new URL('./stack.js', evmDir).href)) as { Stack: new () => { push(value: bigint): void; getStack(): bigint[] } }

const MAX = (1n << 256n) - 1n
const emptyState: StateReader = { getAccount: () => undefined, getStorage: () => new Uint8Array(), getCode: () => undefined }
/** Words at every byte length, at the edges of the 32- and 64-bit halves, and pseudo-random ones. */
const words: bigint[] = [0n, 1n, 0xffn, 0x100n, (1n << 32n) - 1n, 1n << 32n, (1n << 64n) - 1n, 1n << 64n, (1n << 160n) - 1n, 1n << 255n, MAX]
for (let bits = 4n; bits <= 256n; bits += 4n) words.push(((1n << bits) - 1n) / 3n, 1n << (bits - 1n))
let seed = 0x9e3779b97f4a7c15n
for (let i = 0; i < 200; i++) {
  seed = (seed * 6364136223846793005n + 1442695040888963407n) & MAX
  words.push(seed >> BigInt(i % 256))
}

/** Runs `handler` on a fresh stack holding `push` and empty memory; returns both after. */
function run(handler: (runState: never) => void, push: readonly bigint[], memoryBytes = 96): { stack: bigint[]; memory: Uint8Array } {
  const runState = { stack: new Stack(), memory: new Memory() }
  for (const value of push) runState.stack.push(value)
  handler(runState as never)
  return { stack: runState.stack.getStack(), memory: runState.memory.read(0, memoryBytes) }
}

describe('MLOAD and MSTORE without string conversions', () => {
  it('unit: a word as bytes and back, as ethereumjs converts it, for every length and edge', () => {
    for (const word of words) {
      assert.deepEqual(wordBytes(word), setLengthLeft(bigIntToBytes(word), 32), `wordBytes(${word})`)
      assert.equal(wordValue(setLengthLeft(bigIntToBytes(word), 32)), bytesToBigInt(setLengthLeft(bigIntToBytes(word), 32)), `wordValue of ${word}`)
    }
    // Negative control: the comparison sees a word written in the other byte order.
    const reversed = wordBytes(0x0102n).reverse()
    assert.notDeepEqual(reversed, setLengthLeft(bigIntToBytes(0x0102n), 32))
  })

  it('behavior: the same stack and memory as ethereumjs\' own handlers, at aligned and unaligned offsets', () => {
    for (const word of words) {
      for (const offset of [0n, 1n, 31n, 33n, 64n]) {
        // MSTORE pops the offset first (top of the stack), then the word.
        assert.deepEqual(run(wordHandlers.mstore, [word, offset]), run(stockHandlers.mstore, [word, offset]), `MSTORE ${word} at ${offset}`)
        const stored = (handler: (runState: never) => void) => {
          const runState = { stack: new Stack(), memory: new Memory() }
          runState.stack.push(word)
          runState.stack.push(offset)
          stockHandlers.mstore(runState as never)
          runState.stack.push(offset)
          handler(runState as never)
          return runState.stack.getStack()
        }
        assert.deepEqual(stored(wordHandlers.mload), stored(stockHandlers.mload), `MLOAD of ${word} at ${offset}`)
      }
    }
    // MLOAD past the end of memory reads zeros and extends it, as ethereumjs' does.
    assert.deepEqual(run(wordHandlers.mload, [200n], 256), run(stockHandlers.mload, [200n], 256))
    // Negative control: the comparison sees a store at the wrong offset.
    assert.notDeepEqual(run(wordHandlers.mstore, [MAX, 1n]), run(stockHandlers.mstore, [MAX, 0n]))
  })

  it('behavior: a VM that mosaic builds runs code through them, with the gas ethereumjs charges', async () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    const { vm } = await createExecutionVM(common, new JournaledStateManager(emptyState))
    const table = (vm.evm as unknown as { _opcodeMap: { opHandler: unknown }[] })._opcodeMap
    assert.equal(table[0x51]!.opHandler, wordHandlers.mload)
    assert.equal(table[0x52]!.opHandler, wordHandlers.mstore)
    const { code, returns, gas } = wordRoundTrip
    const result = await vm.evm.runCode!({ code, gasLimit: 100_000n })
    assert.equal(result.exceptionError, undefined)
    assert.equal(bytesToHex(result.returnValue), returns)
    assert.equal(result.executionGasUsed, gas)
  })
})

