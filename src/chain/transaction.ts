/** Per-transaction facts computed once at admission and reused by execution. */
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'

/**
 * Recover the sender once and make `tx.getSenderAddress()` return it from then on, then freeze
 * the tx (so ethereumjs caches its hash). ethereumjs caches only the public key and re-hashes it
 * to an address with pure-JS keccak on every call — twice per executed tx; the profile of
 * `bench:exec` showed it at ~20% of a transfer.
 */
export function pinSender(tx: TypedTransaction): Address {
  if (Object.isFrozen(tx)) throw new Error('pinSender needs an unfrozen transaction')
  const sender = tx.getSenderAddress()
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender })
  Object.freeze(tx)
  return sender
}

const serialized = new WeakMap<TypedTransaction, Uint8Array>()

/** Remember the bytes a transaction arrived as. */
export function rememberSerialized(tx: TypedTransaction, raw: Uint8Array): void {
  serialized.set(tx, raw)
}

/** The bytes a transaction arrived as (re-encoding it costs a few µs per transaction). */
export function serializedTx(tx: TypedTransaction): Uint8Array {
  return serialized.get(tx) ?? tx.serialize()
}
