import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBlock } from '@ethereumjs/block'
import { createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import { keccak256 } from '../crypto/crypto.ts'
import { blockOf, blockSize, serializeBlock } from './block.ts'
import { createChainCommon } from './common.ts'
import { rememberSerialized } from './transaction.ts'

const KEY = keccak256(Uint8Array.of(7))
const TO = `0x${'42'.repeat(20)}` as const

describe('block size', () => {
  for (const hardfork of ['london', 'prague'] as const) {
    it(`behavior: equals the length of the block's RLP (${hardfork}: ${hardfork === 'london' ? 'no withdrawals' : 'withdrawals'})`, () => {
      const common = createChainCommon({ chainId: 901, hardfork })
      // Payloads that cross each RLP length boundary: empty, 1 byte, 55/56 bytes, 256 bytes and more.
      const payloads = [0, 1, 54, 55, 56, 200, 256, 70_000].map((n) => new Uint8Array(n).fill(0x61))
      const transactions: TypedTransaction[] = payloads.flatMap((data, i) => [
        createFeeMarket1559Tx({ nonce: BigInt(2 * i), gasLimit: 10_000_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: TO, data, chainId: 901n }, { common }).sign(KEY),
        createLegacyTx({ nonce: BigInt(2 * i + 1), gasLimit: 10_000_000n, gasPrice: 10n ** 9n, to: TO, data }, { common }).sign(KEY),
      ])
      for (const tx of transactions) rememberSerialized(tx, tx.serialize())
      const reference = createBlock({ header: { number: 5n, gasLimit: 30_000_000n, baseFeePerGas: 7n }, transactions }, { common, setHardfork: false })
      for (const block of [reference, blockOf(reference.header, []), blockOf(reference.header, transactions.slice(0, 1))]) {
        assert.equal(blockSize(block), serializeBlock(block).length)
        assert.equal(blockSize(block), block.serialize().length)
      }
      // A block whose size differs by a byte is told apart: the transactions' lengths are counted.
      assert.notEqual(blockSize(blockOf(reference.header, transactions.slice(1))), reference.serialize().length)
    })
  }
})
