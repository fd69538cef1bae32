/**
 * Parsers for JSON-RPC parameters: each either returns a typed value or throws -32602 with a
 * message naming the parameter and what was expected.
 */
import type { AccessList } from '@ethereumjs/tx'
import { bigIntToUnpaddedBytes } from '@ethereumjs/util'
import { bytesToHex, bytesToUnprefixedHex, checkedHexToBytes } from '../utils/hex.ts'
import type { AccountOverride, BlockOverrides, StateOverrides } from '../execution/overrides.ts'
import type { CallRequest } from '../execution/simulate.ts'
import { invalidParams } from './errors.ts'

export type BlockTag = 'latest' | 'pending' | 'earliest' | 'safe' | 'finalized'
export type BlockRef = { tag: BlockTag } | { number: bigint } | { hash: Uint8Array; requireCanonical: boolean }

const QUANTITY = /^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/
const DATA = /^0x([0-9a-fA-F]{2})*$/

export function quantity(value: unknown, name: string): bigint {
  if (typeof value !== 'string' || !QUANTITY.test(value)) {
    throw invalidParams(`invalid ${name}: expected a hex quantity like 0x1a, got ${JSON.stringify(value)}`)
  }
  return BigInt(value)
}

export function data(value: unknown, name: string, length?: number): Uint8Array {
  if (typeof value !== 'string' || !DATA.test(value)) {
    throw invalidParams(`invalid ${name}: expected 0x-prefixed hex bytes, got ${JSON.stringify(value)?.slice(0, 80)}`)
  }
  const bytes = checkedHexToBytes(value)
  if (length !== undefined && bytes.length !== length) {
    throw invalidParams(`invalid ${name}: expected ${length} bytes, got ${bytes.length}`)
  }
  return bytes
}

export function address(value: unknown, name: string): Uint8Array {
  return data(value, name, 20)
}

export function hash(value: unknown, name: string): Uint8Array {
  return data(value, name, 32)
}

/** A storage slot: a quantity (`0x0`) or 32 bytes with leading zeros (`0x00…01`), as clients send either. */
export function storageSlot(value: unknown, name: string): bigint {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(value)) {
    throw invalidParams(`invalid ${name}: expected a hex number of at most 32 bytes, got ${JSON.stringify(value)}`)
  }
  return BigInt(value)
}

export function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidParams(`invalid ${name}: expected true or false, got ${JSON.stringify(value)}`)
  return value
}

const TAGS = new Set<string>(['latest', 'pending', 'earliest', 'safe', 'finalized'])

/** A block number or tag, or an EIP-1898 object `{ blockNumber }` / `{ blockHash, requireCanonical }`. */
export function blockRef(value: unknown, name = 'block'): BlockRef {
  if (value === undefined || value === null) return { tag: 'latest' }
  if (typeof value === 'string') {
    if (TAGS.has(value)) return { tag: value as BlockTag }
    if (QUANTITY.test(value)) return { number: BigInt(value) }
    throw invalidParams(`invalid ${name}: expected a block number or one of latest, pending, earliest, safe, finalized, got ${JSON.stringify(value)}`)
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>
    if (o.blockHash !== undefined) return { hash: hash(o.blockHash, `${name}.blockHash`), requireCanonical: o.requireCanonical === true }
    if (o.blockNumber !== undefined) return blockRef(o.blockNumber, `${name}.blockNumber`)
  }
  throw invalidParams(`invalid ${name}: expected a block number, tag or EIP-1898 object, got ${JSON.stringify(value)}`)
}

function optional<T>(value: unknown, parse: (v: unknown) => T): T | undefined {
  return value === undefined || value === null ? undefined : parse(value)
}

/** The transaction object of eth_call / eth_estimateGas. */
export function callRequest(value: unknown): CallRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParams(`invalid transaction: expected an object, got ${JSON.stringify(value)}`)
  }
  const o = value as Record<string, unknown>
  const input = o.input ?? o.data
  if (o.input !== undefined && o.data !== undefined && o.input !== o.data) {
    throw invalidParams('invalid transaction: both "data" and "input" are set and differ')
  }
  return {
    from: optional(o.from, (v) => address(v, 'transaction.from')),
    to: optional(o.to, (v) => address(v, 'transaction.to')),
    gas: optional(o.gas, (v) => quantity(v, 'transaction.gas')),
    gasPrice: optional(o.gasPrice, (v) => quantity(v, 'transaction.gasPrice')),
    maxFeePerGas: optional(o.maxFeePerGas, (v) => quantity(v, 'transaction.maxFeePerGas')),
    maxPriorityFeePerGas: optional(o.maxPriorityFeePerGas, (v) => quantity(v, 'transaction.maxPriorityFeePerGas')),
    value: optional(o.value, (v) => quantity(v, 'transaction.value')),
    data: optional(input, (v) => data(v, 'transaction.input')),
    nonce: optional(o.nonce, (v) => quantity(v, 'transaction.nonce')),
    accessList: optional(o.accessList, (v) => accessList(v, 'transaction.accessList')),
  }
}

/** Most entries, and most storage keys in all, of one access list in a call. */
export const MAX_ACCESS_LIST_ENTRIES = 10_000

/** An EIP-2930 access list: `[{ address, storageKeys: [32-byte keys] }]`. */
export function accessList(value: unknown, name: string): AccessList {
  if (!Array.isArray(value)) throw invalidParams(`invalid ${name}: expected an array of { address, storageKeys }, got ${JSON.stringify(value)?.slice(0, 80)}`)
  let count = 0
  return value.map((item: unknown, i) => {
    const entry = objectParam(item, `${name}[${i}]`)
    const keys = entry.storageKeys ?? []
    if (!Array.isArray(keys)) throw invalidParams(`invalid ${name}[${i}].storageKeys: expected an array of 32-byte keys`)
    count += 1 + keys.length
    if (count > MAX_ACCESS_LIST_ENTRIES) throw invalidParams(`invalid ${name}: more than ${MAX_ACCESS_LIST_ENTRIES} addresses and keys`)
    return {
      address: bytesToHex(address(entry.address, `${name}[${i}].address`)),
      storageKeys: keys.map((key, j) => bytesToHex(hash(key, `${name}[${i}].storageKeys[${j}]`))),
    }
  })
}

export type LogFilter = {
  fromBlock: BlockRef
  toBlock: BlockRef
  blockHash: Uint8Array | undefined
  addresses: Uint8Array[]
  /** Per position: null = any, else any of the listed topics. */
  topics: (Uint8Array[] | null)[]
}

export function logFilter(value: unknown): LogFilter {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParams(`invalid filter: expected an object, got ${JSON.stringify(value)}`)
  }
  const o = value as Record<string, unknown>
  const blockHash = optional(o.blockHash, (v) => hash(v, 'filter.blockHash'))
  if (blockHash !== undefined && (o.fromBlock !== undefined || o.toBlock !== undefined)) {
    throw invalidParams('invalid filter: blockHash cannot be combined with fromBlock/toBlock')
  }
  let addresses: Uint8Array[] = []
  if (Array.isArray(o.address)) addresses = o.address.map((a, i) => address(a, `filter.address[${i}]`))
  else if (o.address !== undefined && o.address !== null) addresses = [address(o.address, 'filter.address')]
  const topicsIn = o.topics ?? []
  if (!Array.isArray(topicsIn) || topicsIn.length > 4) throw invalidParams('invalid filter.topics: expected an array of at most 4 entries')
  const topics = topicsIn.map((t, i) => {
    if (t === null) return null
    if (Array.isArray(t)) return t.map((x, j) => hash(x, `filter.topics[${i}][${j}]`))
    return [hash(t, `filter.topics[${i}]`)]
  })
  return { fromBlock: blockRef(o.fromBlock, 'filter.fromBlock'), toBlock: blockRef(o.toBlock, 'filter.toBlock'), blockHash, addresses, topics }
}

/** Most accounts one state override set may name, and most storage slots in all. */
export const MAX_OVERRIDE_ACCOUNTS = 1_000
export const MAX_OVERRIDE_SLOTS = 100_000

function objectParam(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParams(`invalid ${name}: expected an object, got ${JSON.stringify(value)?.slice(0, 80)}`)
  }
  return value as Record<string, unknown>
}

function rejectUnknown(o: Record<string, unknown>, known: readonly string[], name: string): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw invalidParams(`invalid ${name}: unknown field "${key}" (expected ${known.join(', ')})`)
  }
}

function slotKey(value: bigint): string {
  return value.toString(16).padStart(64, '0')
}

/** geth's state override set: `{ address: { balance, nonce, code, state | stateDiff, movePrecompileToAddress } }`. */
export function stateOverrides(value: unknown, name = 'state overrides'): StateOverrides | undefined {
  if (value === undefined || value === null) return undefined
  const o = objectParam(value, name)
  const entries = Object.entries(o)
  if (entries.length > MAX_OVERRIDE_ACCOUNTS) throw invalidParams(`invalid ${name}: ${entries.length} accounts, limit ${MAX_OVERRIDE_ACCOUNTS}`)
  const result = new Map<string, AccountOverride>()
  let slots = 0
  const storage = (raw: unknown, field: string) => {
    const map = new Map<string, Uint8Array>()
    for (const [slot, v] of Object.entries(objectParam(raw, field))) {
      if (++slots > MAX_OVERRIDE_SLOTS) throw invalidParams(`invalid ${name}: more than ${MAX_OVERRIDE_SLOTS} storage slots`)
      const valueBig = storageSlot(v, `${field}[${slot}]`)
      map.set(slotKey(storageSlot(slot, `${field} key ${slot}`)), bigIntToUnpaddedBytes(valueBig))
    }
    return map
  }
  for (const [addressText, raw] of entries) {
    const key = bytesToUnprefixedHex(address(addressText, `${name} address`))
    if (result.has(key)) throw invalidParams(`invalid ${name}: account 0x${key} appears twice`)
    const field = `${name}[${addressText}]`
    const a = objectParam(raw, field)
    rejectUnknown(a, ['balance', 'nonce', 'code', 'state', 'stateDiff', 'movePrecompileToAddress'], field)
    if (a.state !== undefined && a.state !== null && a.stateDiff !== undefined && a.stateDiff !== null) {
      throw invalidParams(`account 0x${key} has both 'state' and 'stateDiff'`)
    }
    const nonce = optional(a.nonce, (v) => quantity(v, `${field}.nonce`))
    if (nonce !== undefined && nonce >= 2n ** 64n) throw invalidParams(`invalid ${field}.nonce: above 2^64-1`)
    const balance = optional(a.balance, (v) => quantity(v, `${field}.balance`))
    if (balance !== undefined && balance >= 2n ** 256n) throw invalidParams(`invalid ${field}.balance: above 2^256-1`)
    result.set(key, {
      balance,
      nonce,
      code: optional(a.code, (v) => data(v, `${field}.code`)),
      state: optional(a.state, (v) => storage(v, `${field}.state`)),
      stateDiff: optional(a.stateDiff, (v) => storage(v, `${field}.stateDiff`)),
      movePrecompileToAddress: optional(a.movePrecompileToAddress, (v) => bytesToUnprefixedHex(address(v, `${field}.movePrecompileToAddress`))),
    })
  }
  return result
}

/** geth's block overrides: `{ number, time, gasLimit, feeRecipient, prevRandao, baseFeePerGas, blobBaseFee }`. */
export function blockOverrides(value: unknown, name = 'block overrides'): BlockOverrides | undefined {
  if (value === undefined || value === null) return undefined
  const o = objectParam(value, name)
  rejectUnknown(o, ['number', 'time', 'gasLimit', 'feeRecipient', 'coinbase', 'prevRandao', 'random', 'baseFeePerGas', 'baseFee', 'blobBaseFee', 'difficulty', 'withdrawals', 'beaconRoot'], name)
  if (o.withdrawals !== undefined && o.withdrawals !== null && (!Array.isArray(o.withdrawals) || o.withdrawals.length > 0)) {
    throw invalidParams(`invalid ${name}.withdrawals: withdrawals are not supported on this rollup (expected an empty list)`)
  }
  const feeRecipient = o.feeRecipient ?? o.coinbase
  const prevRandao = o.prevRandao ?? o.random
  const baseFee = o.baseFeePerGas ?? o.baseFee
  return {
    number: optional(o.number, (v) => quantity(v, `${name}.number`)),
    time: optional(o.time, (v) => quantity(v, `${name}.time`)),
    gasLimit: optional(o.gasLimit, (v) => quantity(v, `${name}.gasLimit`)),
    feeRecipient: optional(feeRecipient, (v) => address(v, `${name}.feeRecipient`)),
    prevRandao: optional(prevRandao, (v) => hash(v, `${name}.prevRandao`)),
    baseFeePerGas: optional(baseFee, (v) => quantity(v, `${name}.baseFeePerGas`)),
    blobBaseFee: optional(o.blobBaseFee, (v) => quantity(v, `${name}.blobBaseFee`)),
  }
}
