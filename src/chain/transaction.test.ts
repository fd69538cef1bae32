import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFeeMarket1559Tx, createTxFromRLP } from '@ethereumjs/tx'
import { Address } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { createChainCommon, txCommonFor } from './common.ts'
import { decodeTransaction, hasPinnedSender, pinSender, pinSenderAddress, rememberSerialized, serializedTx } from './transaction.ts'

const KEY = keccak256(Uint8Array.of(9))
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const signed = createFeeMarket1559Tx(
  { nonce: 3n, gasLimit: 21_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: new Address(new Uint8Array(20).fill(0x11)), value: 5n, chainId: 901n },
  { common },
).sign(KEY)
const raw = signed.serialize()
const unfrozen = () => createTxFromRLP(raw, { common: txCommonFor(common), freeze: false })

describe('transaction facts', () => {
  it('behavior: the bytes a transaction arrived as are handed back as they are, whether it was frozen before or after they were remembered', () => {
    const before = unfrozen()
    rememberSerialized(before, raw)
    pinSender(before)
    const after = createTxFromRLP(raw, { common: txCommonFor(common) })
    assert.ok(Object.isFrozen(after))
    rememberSerialized(after, raw)
    for (const tx of [before, after, decodeTransaction(raw, common)]) {
      assert.equal(serializedTx(tx), raw, 'the same bytes, not an encoding of them')
      assert.deepEqual(tx.hash(), keccak256(raw))
    }
    // Kept out of sight: no enumerable key, nothing in the JSON form.
    assert.deepEqual(Object.keys(before), Object.keys(after))
    assert.deepEqual(before.toJSON(), after.toJSON())
  })

  it('behavior: a transaction whose bytes were never remembered is encoded', () => {
    const tx = unfrozen()
    const bytes = serializedTx(tx)
    assert.notEqual(bytes, raw)
    assert.deepEqual(bytes, raw)
  })

  it('behavior: only a pinned transaction has a pinned sender — frozen alone is not pinned', () => {
    const fresh = unfrozen()
    const frozen = createTxFromRLP(raw, { common: txCommonFor(common) })
    assert.equal(hasPinnedSender(fresh), false)
    assert.equal(hasPinnedSender(frozen), false)
    const recovered = unfrozen()
    const sender = pinSender(recovered)
    assert.equal(hasPinnedSender(recovered), true)
    assert.deepEqual(sender, signed.getSenderAddress())
    const given = unfrozen()
    pinSenderAddress(given, sender)
    assert.equal(hasPinnedSender(given), true)
    assert.equal(given.getSenderAddress(), sender)
  })
})
