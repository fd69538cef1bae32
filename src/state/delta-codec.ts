/**
 * The binary encoding of a block's state delta (stored per block in LMDB, served by
 * `mosaic_getStateDelta`, applied by replicas). Version 1:
 *
 *   RLP([1, accounts, storage, cleared, code])
 *   accounts: [[address(20), nonce, balance, codeHash(32)] …] — a deleted account is [address]
 *   storage:  [[address(20), [[slot(32), value] …]] …]        — value stripped of leading zeros; empty = deleted
 *   cleared:  [address(20) …]                                 — storage wiped before `storage` applies
 *   code:     [bytecode …]                                    — keyed by keccak256(bytecode) on decode
 *
 * Addresses, slots and code are sorted, so one delta has one encoding.
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { createStateDelta, type StateDelta } from './types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export const DELTA_VERSION = 1

const sorted = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** Bytes a length takes in an RLP header. */
function lengthBytes(length: number): number {
  let count = 0
  for (let n = length; n > 0; n = Math.floor(n / 256)) count++
  return count
}

/** Bytes of an RLP header for a payload of `length`. */
const headerLength = (length: number): number => (length < 56 ? 1 : 1 + lengthBytes(length))

/** Bytes of `bytes` as an RLP string. */
const itemLength = (bytes: Uint8Array): number => (bytes.length === 1 && bytes[0]! < 0x80 ? 1 : headerLength(bytes.length) + bytes.length)

/** A non-negative integer's big-endian bytes without leading zeros (none for 0). */
function unpadded(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array()
  const hex = value.toString(16)
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex')
}

/**
 * Writes RLP into one buffer sized in advance. A delta is written straight into its encoding —
 * no item encoded apart and copied again, no list spread into one call (which overflows the stack
 * at a few hundred thousand items: a genesis of a million accounts is one delta).
 */
class RlpWriter {
  readonly out: Uint8Array
  private readonly buffer: Buffer
  private at = 0

  constructor(length: number) {
    this.out = new Uint8Array(length)
    this.buffer = Buffer.from(this.out.buffer, this.out.byteOffset, this.out.length)
  }

  header(length: number, base: 0x80 | 0xc0): void {
    if (length < 56) {
      this.out[this.at++] = base + length
      return
    }
    const count = lengthBytes(length)
    this.out[this.at] = base + 55 + count
    for (let i = count, n = length; i > 0; i--, n = Math.floor(n / 256)) this.out[this.at + i] = n % 256
    this.at += 1 + count
  }

  item(bytes: Uint8Array): void {
    if (bytes.length === 1 && bytes[0]! < 0x80) this.out[this.at++] = bytes[0]!
    else {
      this.header(bytes.length, 0x80)
      this.out.set(bytes, this.at)
      this.at += bytes.length
    }
  }

  /** Unprefixed hex of `bytes` bytes, as an RLP string. */
  hexItem(hex: string, bytes: number): void {
    this.header(bytes, 0x80)
    this.at += this.buffer.write(hex, this.at, bytes, 'hex')
  }

  get written(): number {
    return this.at
  }
}

/** RLP string length of `bytes` bytes given as hex (addresses, slots: never a single byte). */
const hexItemLength = (bytes: number): number => headerLength(bytes) + bytes

export function encodeStateDelta(delta: StateDelta): Uint8Array {
  // First the sizes, then one buffer written in order.
  const accounts = sorted(delta.accounts).map(([address, record]) => {
    if (record === null) return { address, nonce: undefined, balance: undefined, codeHash: undefined, payload: hexItemLength(20) }
    const nonce = unpadded(record.nonce)
    const balance = unpadded(record.balance)
    return { address, nonce, balance, codeHash: record.codeHash, payload: hexItemLength(20) + itemLength(nonce) + itemLength(balance) + itemLength(record.codeHash) }
  })
  const storage = sorted(delta.storage).map(([address, map]) => {
    const slots = sorted(map).map(([slot, value]) => ({ slot, value, payload: hexItemLength(32) + itemLength(value) }))
    const slotsPayload = slots.reduce((sum, { payload }) => sum + headerLength(payload) + payload, 0)
    return { address, slots, slotsPayload, payload: hexItemLength(20) + headerLength(slotsPayload) + slotsPayload }
  })
  const cleared = [...delta.storageCleared].sort()
  const code = sorted(delta.code).map(([, bytes]) => bytes)
  const listPayload = (items: readonly { readonly payload: number }[]) => items.reduce((sum, { payload }) => sum + headerLength(payload) + payload, 0)
  const accountsPayload = listPayload(accounts)
  const storagePayload = listPayload(storage)
  const clearedPayload = cleared.length * hexItemLength(20)
  const codePayload = code.reduce((sum, bytes) => sum + itemLength(bytes), 0)
  const payload = 1 + [accountsPayload, storagePayload, clearedPayload, codePayload].reduce((sum, length) => sum + headerLength(length) + length, 0)
  const w = new RlpWriter(headerLength(payload) + payload)
  w.header(payload, 0xc0)
  w.item(Uint8Array.of(DELTA_VERSION))
  w.header(accountsPayload, 0xc0)
  for (const account of accounts) {
    w.header(account.payload, 0xc0)
    w.hexItem(account.address, 20)
    if (account.nonce === undefined) continue
    w.item(account.nonce)
    w.item(account.balance!)
    w.item(account.codeHash!)
  }
  w.header(storagePayload, 0xc0)
  for (const entry of storage) {
    w.header(entry.payload, 0xc0)
    w.hexItem(entry.address, 20)
    w.header(entry.slotsPayload, 0xc0)
    for (const { slot, value, payload } of entry.slots) {
      w.header(payload, 0xc0)
      w.hexItem(slot, 32)
      w.item(value)
    }
  }
  w.header(clearedPayload, 0xc0)
  for (const address of cleared) w.hexItem(address, 20)
  w.header(codePayload, 0xc0)
  for (const bytes of code) w.item(bytes)
  if (w.written !== w.out.length) throw new Error(`encodeStateDelta wrote ${w.written} of ${w.out.length} bytes`)
  return w.out
}

function corrupt(what: string): MosaicError {
  return new MosaicError('DELTA_INVALID', `invalid state delta: ${what}`)
}

function bytesOf(item: unknown, what: string, length?: number): Uint8Array {
  if (!(item instanceof Uint8Array) || (length !== undefined && item.length !== length)) {
    throw corrupt(`${what} must be ${length === undefined ? 'bytes' : `${length} bytes`}`)
  }
  return item
}

function listOf(item: unknown, what: string): unknown[] {
  if (!Array.isArray(item)) throw corrupt(`${what} must be a list`)
  return item
}

export function decodeStateDelta(bytes: Uint8Array): StateDelta {
  let decoded: unknown
  try {
    decoded = RLP.decode(bytes)
  } catch (error) {
    throw corrupt(`malformed RLP (${(error as Error).message})`)
  }
  const [version, accounts, storage, cleared, code, ...rest] = listOf(decoded, 'the delta')
  if (rest.length > 0) throw corrupt('too many fields')
  const v = bytesOf(version, 'the version')
  if (v.length !== 1 || v[0] !== DELTA_VERSION) throw corrupt(`unknown version ${bytesToUnprefixedHex(v)} (this node reads version ${DELTA_VERSION})`)
  const delta = createStateDelta()
  for (const item of listOf(accounts, 'accounts')) {
    const fields = listOf(item, 'an account')
    const address = bytesToUnprefixedHex(bytesOf(fields[0], 'an address', 20))
    if (fields.length === 1) delta.accounts.set(address, null)
    else if (fields.length === 4) {
      delta.accounts.set(address, {
        nonce: bytesToBigInt(bytesOf(fields[1], 'a nonce')),
        balance: bytesToBigInt(bytesOf(fields[2], 'a balance')),
        codeHash: bytesOf(fields[3], 'a code hash', 32),
      })
    } else throw corrupt('an account must have 1 or 4 fields')
  }
  for (const item of listOf(storage, 'storage')) {
    const [address, slots] = listOf(item, 'an account’s storage')
    const map = new Map<string, Uint8Array>()
    for (const entry of listOf(slots, 'slots')) {
      const [slot, value] = listOf(entry, 'a slot')
      const valueBytes = bytesOf(value, 'a slot value')
      if (valueBytes.length > 32 || valueBytes[0] === 0) throw corrupt('a slot value must be at most 32 bytes without leading zeros')
      map.set(bytesToUnprefixedHex(bytesOf(slot, 'a slot key', 32)), valueBytes)
    }
    delta.storage.set(bytesToUnprefixedHex(bytesOf(address, 'an address', 20)), map)
  }
  for (const address of listOf(cleared, 'cleared')) delta.storageCleared.add(bytesToUnprefixedHex(bytesOf(address, 'an address', 20)))
  for (const item of listOf(code, 'code')) {
    const bytecode = bytesOf(item, 'code')
    delta.code.set(bytesToUnprefixedHex(keccak256(bytecode)), bytecode)
  }
  return delta
}
