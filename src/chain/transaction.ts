/** Per-transaction facts computed once at admission and reused by execution. */
import type { Common } from '@ethereumjs/common'
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx'
import { Address } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { txCommonFor } from './common.ts'

const pinned = new WeakSet<TypedTransaction>()

/**
 * Recover the sender's public key once (or take `publicKey`, recovered from the same bytes
 * elsewhere, e.g. on a worker thread), cache it where ethereumjs looks for it (so
 * `verifySignature` does not recover it again), make `tx.getSenderAddress()` return the address
 * from then on, then freeze the tx (so ethereumjs caches its hash). ethereumjs re-hashes the
 * public key to an address with pure-JS keccak on every call — twice per executed tx; the profile
 * of `bench:exec` showed it at ~20% of a transfer.
 */
export function pinSender(tx: TypedTransaction, publicKey?: Uint8Array): Address {
  if (Object.isFrozen(tx)) throw new Error('pinSender needs an unfrozen transaction')
  const key = publicKey ?? tx.getSenderPublicKey()
  tx.cache.senderPubKey = key
  const sender = new Address(keccak256(key).subarray(12))
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender })
  Object.freeze(tx)
  pinned.add(tx)
  return sender
}

/**
 * Make `tx.getSenderAddress()` return `sender`, known from elsewhere (the block store keeps every
 * transaction's sender), then freeze the tx. No signature is checked: only for transactions this
 * node included itself.
 */
export function pinSenderAddress(tx: TypedTransaction, sender: Address): void {
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender })
  Object.freeze(tx)
  pinned.add(tx)
}

/** Whether the transaction's sender is known without recovering it. */
export function hasPinnedSender(tx: TypedTransaction): boolean {
  return pinned.has(tx)
}

const serialized = new WeakMap<TypedTransaction, Uint8Array>()

/**
 * Remember the bytes a transaction arrived as, and its hash — keccak of those bytes — where
 * ethereumjs caches it for a frozen tx (it would re-encode the whole tx to hash it).
 */
export function rememberSerialized(tx: TypedTransaction, raw: Uint8Array): void {
  serialized.set(tx, raw)
  tx.cache.hash = keccak256(raw)
}

/** The bytes a transaction arrived as (re-encoding it costs a few µs per transaction). */
export function serializedTx(tx: TypedTransaction): Uint8Array {
  return serialized.get(tx) ?? tx.serialize()
}

/**
 * Decode a signed transaction as the mempool leaves it for execution — with the chain's shared
 * transaction Common, sender recovered and pinned, bytes remembered — without the mempool's
 * admission checks (benchmarks, generated blocks, blocks re-executed from elsewhere).
 */
export function decodeTransaction(raw: Uint8Array, common: Common): TypedTransaction {
  const tx = createTxFromRLP(raw, { common: txCommonFor(common), freeze: false })
  pinSender(tx)
  rememberSerialized(tx, raw)
  return tx
}
