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
import { bigIntToUnpaddedBytes, bytesToBigInt, bytesToUnprefixedHex, unprefixedHexToBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { createStateDelta, type StateDelta } from './types.ts'

export const DELTA_VERSION = 1

const sorted = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * An RLP list of items already encoded, copied into one allocation: `RLP.encode` spreads a list's
 * items into one call, which overflows the stack at a few hundred thousand (a genesis of a
 * million accounts is one delta).
 */
function rlpList(items: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const item of items) length += item.length
  const lengthBytes = length < 56 ? new Uint8Array(0) : bigIntToUnpaddedBytes(BigInt(length))
  const out = new Uint8Array(1 + lengthBytes.length + length)
  out[0] = length < 56 ? 0xc0 + length : 0xf7 + lengthBytes.length
  out.set(lengthBytes, 1)
  let at = 1 + lengthBytes.length
  for (const item of items) {
    out.set(item, at)
    at += item.length
  }
  return out
}

export function encodeStateDelta(delta: StateDelta): Uint8Array {
  const accounts = sorted(delta.accounts).map(([address, record]) =>
    RLP.encode(
      record === null
        ? [unprefixedHexToBytes(address)]
        : [unprefixedHexToBytes(address), bigIntToUnpaddedBytes(record.nonce), bigIntToUnpaddedBytes(record.balance), record.codeHash],
    ),
  )
  const storage = sorted(delta.storage).map(([address, slots]) =>
    rlpList([RLP.encode(unprefixedHexToBytes(address)), rlpList(sorted(slots).map(([slot, value]) => RLP.encode([unprefixedHexToBytes(slot), value])))]),
  )
  const cleared = [...delta.storageCleared].sort().map((address) => RLP.encode(unprefixedHexToBytes(address)))
  const code = sorted(delta.code).map(([, bytes]) => RLP.encode(bytes))
  return rlpList([RLP.encode(Uint8Array.of(DELTA_VERSION)), rlpList(accounts), rlpList(storage), rlpList(cleared), rlpList(code)])
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
