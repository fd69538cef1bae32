import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBlock, createBlockFromRLP } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import { keccak256 } from '../crypto/crypto.ts'
import { blockOf, blockSize, decodeForeignBlock, serializeBlock } from './block.ts'
import { txCommonFor } from './common.ts'
import { createChainCommon } from './common.ts'
import { hasPinnedSender, pinRecoveredSender, rememberSerialized, serializedTx } from './transaction.ts'

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

describe('decoding a block from elsewhere', () => {
  for (const hardfork of ['london', 'prague'] as const) {
    it(`behavior: the same block as createBlockFromRLP, on the shared Commons (${hardfork})`, () => {
      const common = createChainCommon({ chainId: 901, hardfork })
      const transactions: TypedTransaction[] = [0, 1, 2, 3].map((i) =>
        i % 2 === 0
          ? createFeeMarket1559Tx({ nonce: BigInt(i), gasLimit: 50_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: TO, data: new Uint8Array(i * 40), chainId: 901n }, { common }).sign(KEY)
          : createLegacyTx({ nonce: BigInt(i), gasLimit: 50_000n, gasPrice: 10n ** 9n, to: TO }, { common }).sign(KEY),
      )
      const rlp = createBlock({ header: { number: 9n, gasLimit: 30_000_000n, baseFeePerGas: 7n }, transactions }, { common, setHardfork: false }).serialize()
      const reference = createBlockFromRLP(rlp, { common, setHardfork: false })
      const decoded = decodeForeignBlock(rlp, common)
      assert.deepEqual(decoded.hash(), reference.hash())
      assert.deepEqual(decoded.serialize(), rlp)
      assert.deepEqual(decoded.transactions.map((tx) => tx.hash()), reference.transactions.map((tx) => tx.hash()))
      assert.deepEqual(decoded.transactions.map((tx) => serializedTx(tx)), reference.transactions.map((tx) => tx.serialize()))
      assert.ok(decoded.transactions.every((tx) => tx.common === txCommonFor(common)), 'no transaction has a Common of its own')
      assert.equal(decoded.withdrawals?.length, reference.withdrawals?.length)
    })
  }

  it('behavior: refuses what createBlockFromRLP refuses', () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    const tx = createFeeMarket1559Tx({ nonce: 1n, gasLimit: 50_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: TO, chainId: 901n }, { common }).sign(KEY)
    const [header, , uncles, withdrawals] = RLP.decode(createBlock({ header: { number: 9n, gasLimit: 30_000_000n, baseFeePerGas: 7n } }, { common, setHardfork: false }).serialize()) as Uint8Array[][]
    const fields = RLP.decode(tx.serialize().subarray(1)) as Uint8Array[]
    const leadingZeroNonce = Uint8Array.of(2, ...RLP.encode([fields[0]!, Uint8Array.of(0, 1), ...fields.slice(2)]))
    const cases: Record<string, Uint8Array> = {
      'not a list': RLP.encode(Uint8Array.of(1, 2, 3)),
      'six values': RLP.encode([header!, [], uncles!, withdrawals!, [], []] as never),
      'no withdrawals under EIP-4895': RLP.encode([header!, [], uncles!] as never),
      'a transaction with a leading zero': RLP.encode([header!, [leadingZeroNonce], uncles!, withdrawals!] as never),
      'a truncated header': RLP.encode([header!.slice(0, 5), [], uncles!, withdrawals!] as never),
    }
    for (const [name, rlp] of Object.entries(cases)) {
      assert.throws(() => createBlockFromRLP(rlp, { common, setHardfork: false }), `${name}: the reference refuses it`)
      assert.throws(() => decodeForeignBlock(rlp, common), name)
    }
  })

  it('behavior: its transactions come unfrozen with no sender pinned, and pinRecoveredSender pins the signer (a changed signature, another one)', () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    const signed = [0, 1, 2].map((i) => createFeeMarket1559Tx({ nonce: BigInt(i), gasLimit: 50_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: TO, chainId: 901n }, { common }).sign(KEY))
    const signer = signed[0]!.getSenderAddress()
    // The last one with its s changed: still a valid signature, of another key.
    const fields = RLP.decode(signed[2]!.serialize().subarray(1)) as Uint8Array[]
    const s = fields.at(-1)!.slice()
    s[31]! ^= 1
    const altered = Uint8Array.of(2, ...RLP.encode([...fields.slice(0, -1), s]))
    const rlp = RLP.encode([createBlock({ header: { number: 9n, gasLimit: 30_000_000n, baseFeePerGas: 7n } }, { common, setHardfork: false }).header.raw(), [signed[0]!.serialize(), signed[1]!.serialize(), altered], [], []] as never)
    const decoded = decodeForeignBlock(rlp, common)
    assert.ok(decoded.transactions.every((tx) => !Object.isFrozen(tx) && !hasPinnedSender(tx)), 'nothing about a sender is taken on trust')
    const senders = decoded.transactions.map((tx) => pinRecoveredSender(tx, 901n).toString())
    assert.deepEqual(senders.slice(0, 2), [signer.toString(), signer.toString()])
    assert.notEqual(senders[2], signer.toString())
    assert.ok(decoded.transactions.every((tx) => Object.isFrozen(tx) && hasPinnedSender(tx)))
    assert.equal(decoded.transactions[2]!.getSenderAddress().toString(), senders[2])
  })
})
