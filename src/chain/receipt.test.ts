import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { encodeReceipt as ethereumjsEncodeReceipt, type TxReceipt } from '@ethereumjs/vm'
import { createRandom } from '../utils/random.ts'
import { encodeReceipt } from './receipt.ts'

describe('receipt encoding', () => {
  it('behavior: the same bytes as @ethereumjs/vm for every transaction type, status and shape of logs', () => {
    const random = createRandom(5)
    for (let i = 0; i < 400; i++) {
      const logs = Array.from({ length: random.pick([0, 0, 1, 3, 20]) }, () => [
        random.bytes(20),
        Array.from({ length: random.int(5) }, () => random.bytes(32)),
        random.bytes(random.pick([0, 1, 31, 32, 56, 300, 5000])),
      ])
      const receipt = {
        status: random.chance(0.2) ? 0 : 1,
        cumulativeBlockGasUsed: BigInt(random.range(21_000, 2 ** 30)) * BigInt(random.range(1, 1000)),
        bitvector: random.chance(0.5) ? new Uint8Array(256) : random.bytes(256),
        logs,
      } as TxReceipt
      const type = random.pick([0, 1, 2, 3, 4] as const)
      assert.deepEqual(encodeReceipt(receipt, type), ethereumjsEncodeReceipt(receipt, type), `receipt ${i} (type ${type})`)
    }
  })

  it('behavior: pre-Byzantium receipts carry their state root instead of a status', () => {
    const receipt = { stateRoot: new Uint8Array(32).fill(7), cumulativeBlockGasUsed: 21_000n, bitvector: new Uint8Array(256), logs: [] } as TxReceipt
    assert.deepEqual(encodeReceipt(receipt, 0), ethereumjsEncodeReceipt(receipt, 0))
    // Negative control: the status form of the same receipt is other bytes.
    assert.notDeepEqual(encodeReceipt({ status: 1, cumulativeBlockGasUsed: 21_000n, bitvector: new Uint8Array(256), logs: [] }, 0), ethereumjsEncodeReceipt(receipt, 0))
  })
})
