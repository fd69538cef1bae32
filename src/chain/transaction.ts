/** Per-transaction facts computed once at admission and reused by execution. */
import type { Common } from '@ethereumjs/common'
import { createTxFromBlockBodyData, TransactionType, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bigIntToBytes, bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util'
import { compactSignature, keccak256, recoverPublicKey } from '../crypto/crypto.ts'
import { type RlpDecoded, rlpDecodeViews, rlpEncode, rlpListItems, rlpListPrefix, rlpStringAt } from '../utils/rlp.ts'
import { feeMarketTxFromFields } from './fee-market-tx.ts'
import { txCommonFor } from './common.ts'

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
}

/** Whether the transaction's sender is known without recovering it: pinned by one of the two above (an own `getSenderAddress`; ethereumjs' is on the prototype). */
export function hasPinnedSender(tx: TypedTransaction): boolean {
  return Object.hasOwn(tx, 'getSenderAddress')
}

/**
 * What a transaction arrived as, kept on the transaction itself: a property a `WeakMap` held
 * instead made every admitted transaction an ephemeron, which each young-generation collection
 * re-examines while the transaction lives (until its block is sealed). In a microbenchmark of
 * objects kept alive a block's worth, a WeakSet and a WeakMap entry each made the collections'
 * pauses 2.5–5× longer than a property did.
 */
const SERIALIZED = Symbol('serialized')
/** The bytes of a transaction frozen before they were remembered (tests, tools): it cannot take a property any more. */
const serializedFrozen = new WeakMap<TypedTransaction, Uint8Array>()

/**
 * Remember the bytes a transaction arrived as, and its hash — keccak of those bytes — where
 * ethereumjs caches it for a frozen tx (it would re-encode the whole tx to hash it). Call it
 * before the transaction is frozen (`pinSender` freezes it) to keep them on the transaction.
 */
export function rememberSerialized(tx: TypedTransaction, raw: Uint8Array): void {
  if (Object.isFrozen(tx)) serializedFrozen.set(tx, raw)
  else Object.defineProperty(tx, SERIALIZED, { value: raw })
  tx.cache.hash = keccak256(raw)
}

/** The bytes a transaction arrived as (re-encoding it costs a few µs per transaction). */
export function serializedTx(tx: TypedTransaction): Uint8Array {
  return (tx as { [SERIALIZED]?: Uint8Array })[SERIALIZED] ?? serializedFrozen.get(tx) ?? tx.serialize()
}

/**
 * Decode a signed transaction as the mempool leaves it for execution — with the chain's shared
 * transaction Common, sender recovered and pinned, bytes remembered — without the mempool's
 * admission checks (benchmarks, generated blocks, blocks re-executed from elsewhere).
 */
export function decodeTransaction(raw: Uint8Array, common: Common): TypedTransaction {
  const tx = txFromBodyData(raw, txCommonFor(common))
  rememberSerialized(tx, raw)
  pinRecoveredSender(tx, common.chainId())
  return tx
}

/**
 * A block body's transaction — a typed one's bytes, or a legacy one's fields — on the shared
 * transaction Common (`txCommonFor`), not frozen: an EIP-1559 transaction without ethereumjs'
 * constructor where `feeMarketTxFromFields` takes it (the same object), anything else through
 * ethereumjs' decoder, which takes it or throws its own error.
 */
export function txFromBodyData(data: Uint8Array | Uint8Array[], txCommon: Common): TypedTransaction {
  if (data instanceof Uint8Array && data[0] === TransactionType.FeeMarketEIP1559) {
    let fields: RlpDecoded | undefined
    try {
      fields = rlpDecodeViews(data.subarray(1))
    } catch {
      // ethereumjs' decoder names what is wrong.
    }
    const tx = Array.isArray(fields) ? feeMarketTxFromFields(fields, { common: txCommon, freeze: false }) : undefined
    if (tx !== undefined) return tx
  }
  return createTxFromBlockBodyData(data, { common: txCommon, freeze: false })
}

/**
 * Recover the sender of a decoded, not yet frozen transaction from its bytes (libsecp256k1) and
 * pin it (`pinSender`). Throws ethereumjs' error where the signature names no sender.
 */
export function pinRecoveredSender(tx: TypedTransaction, chainId: bigint): Address {
  return pinSender(tx, senderKeyFromRlp(serializedTx(tx), chainId))
}

/** Fields of each typed envelope, signature (yParity, r, s) included: EIP-2930, EIP-1559, EIP-7702. */
const TYPED_FIELDS: Readonly<Record<number, number>> = { 1: 11, 2: 12, 4: 13 }
const LEGACY_FIELDS = 9
/** secp256k1's n / 2, big-endian: a larger s is refused (EIP-2). */
const HALF_N = bigIntToBytes(0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n)

/**
 * Whether `s` (big-endian, at most 32 bytes) is above n / 2. Compared byte by byte: as a bigint it
 * went through a hex string built a character at a time, ~1 KB of garbage per transaction.
 */
function aboveHalfN(s: Uint8Array): boolean {
  // Shorter is below 2^248, far below n / 2 (leading zeros included).
  if (s.length < HALF_N.length) return false
  for (let i = 0; i < s.length; i++) if (s[i] !== HALF_N[i]) return s[i]! > HALF_N[i]!
  return false
}

/** What libsecp256k1 needs to recover a transaction's signer. */
export type SignatureToRecover = {
  /** The signing hash: keccak256 of the transaction's fields without the signature. */
  readonly hash: Uint8Array
  /** r ‖ s, 64 bytes. */
  readonly signature: Uint8Array
  /** The recovery id, 0 or 1. */
  readonly recovery: number
}

/**
 * The signing hash and signature of a serialized signed transaction, taken straight from its RLP:
 * the bytes of its fields without the signature, under a list prefix of their own, as EIP-2718
 * and EIP-155 define it. Building an ethereumjs transaction for it — every field converted and
 * checked, then encoded again — was a third of a recovery worker's time per transaction; decoding
 * the fields into arrays and encoding them again, ~7% of what the sequencing thread allocated
 * under bench:e2e's batches. Undefined for whatever it does not take as it
 * is (a malformed or unknown envelope, a high s, a `v` that is not this chain's): ethereumjs
 * decides those, with its own error message. It checks the signature only: the other fields are
 * checked where the transaction is decoded (admission, a verifier's decoding).
 */
export function signatureFromRlp(raw: Uint8Array, chainId: bigint): SignatureToRecover | undefined {
  if (raw.length === 0) return undefined
  const type = raw[0]!
  const typed = type < 0x80
  const fieldCount = typed ? TYPED_FIELDS[type] : LEGACY_FIELDS
  if (fieldCount === undefined) return undefined
  // The fields are found in place (`rlpListItems`, as strict as decoding them): the unsigned
  // ones are a run of the bytes as they are, so only the list prefix around them is new.
  const list = rlpListItems(raw, typed ? 1 : 0)
  if (list === undefined || list.items.length !== fieldCount) return undefined
  const signatureAt = list.items[fieldCount - 3]!
  const [vBytes, r, s] = list.items.slice(-3).map((at) => rlpStringAt(raw, at))
  if (vBytes === undefined || r === undefined || s === undefined || r.length > 32 || s.length > 32) return undefined
  if (aboveHalfN(s)) return undefined
  const v = bytesToBigInt(vBytes)
  const unsigned = raw.subarray(list.start, signatureAt)
  let recovery: bigint
  // EIP-155: the chain id and two empty fields stand in for the signature.
  let tail = new Uint8Array()
  if (typed) {
    if (v > 1n) return undefined
    recovery = v
  } else if (v === 27n || v === 28n) {
    recovery = v - 27n
  } else if (v === chainId * 2n + 35n || v === chainId * 2n + 36n) {
    const id = rlpEncode(bigIntToUnpaddedBytes(chainId))
    tail = new Uint8Array(id.length + 2)
    tail.set(id)
    tail.fill(0x80, id.length)
    recovery = v - chainId * 2n - 35n
  } else {
    return undefined
  }
  const prefix = rlpListPrefix(unsigned.length + tail.length)
  const envelope = typed ? 1 : 0
  const message = new Uint8Array(envelope + prefix.length + unsigned.length + tail.length)
  if (typed) message[0] = type
  message.set(prefix, envelope)
  message.set(unsigned, envelope + prefix.length)
  message.set(tail, envelope + prefix.length + unsigned.length)
  return { hash: keccak256(message), signature: compactSignature(r, s), recovery: Number(recovery) }
}

/**
 * The sender's 64-byte public key from the transaction's RLP (`signatureFromRlp`), recovered on
 * this thread. Undefined for what `signatureFromRlp` does not take, and for a signature with no
 * key: ethereumjs decides those, with its own error message.
 */
export function senderKeyFromRlp(raw: Uint8Array, chainId: bigint): Uint8Array | undefined {
  const toRecover = signatureFromRlp(raw, chainId)
  if (toRecover === undefined) return undefined
  try {
    return recoverPublicKey(toRecover.hash, toRecover.signature, toRecover.recovery)
  } catch {
    return undefined
  }
}
