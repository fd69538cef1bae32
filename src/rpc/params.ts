/**
 * Parsers for JSON-RPC parameters: each either returns a typed value or throws -32602 with a
 * message naming the parameter and what was expected.
 */
import { hexToBytes } from '@ethereumjs/util'
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
  const bytes = hexToBytes(value as `0x${string}`)
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
  }
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
