/**
 * The canonical chain as the node serves it: blocks, receipts and indexes read from the LMDB
 * store, the most recent ones kept decoded in memory.
 */
import type { Block, BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, bigIntToUnpaddedBytes, bytesToBigInt, equalsBytes } from '@ethereumjs/util'
import type { LmdbStore } from '../storage/lmdb-store.ts'
import { decodeBlock, decodeHeader } from './block.ts'
import { type RlpValue, rlpEncode } from '../utils/rlp.ts'

/** A receipt as stored, plus what is derived from its block. */
export type StoredReceipt = {
  readonly status: 0 | 1
  readonly cumulativeGasUsed: bigint
  /** [address, topics, data] per log, as in the consensus encoding. */
  readonly logs: readonly [Uint8Array, Uint8Array[], Uint8Array][]
}

export type ChainBlock = {
  readonly block: Block
  readonly hash: Uint8Array
  readonly senders: readonly Address[]
  readonly receipts: readonly StoredReceipt[]
}

export function encodeStoredReceipt(receipt: StoredReceipt): Uint8Array {
  return rlpEncode([receipt.status === 1 ? Uint8Array.of(1) : new Uint8Array(), bigIntToUnpaddedBytes(receipt.cumulativeGasUsed), receipt.logs as RlpValue])
}

export function decodeStoredReceipt(bytes: Uint8Array): StoredReceipt {
  const [status, cumulative, logs] = RLP.decode(bytes) as unknown as [Uint8Array, Uint8Array, [Uint8Array, Uint8Array[], Uint8Array][]]
  return { status: status.length === 0 ? 0 : 1, cumulativeGasUsed: bytesToBigInt(cumulative), logs }
}

/**
 * What a decoded block costs in memory, estimated from its parts. Measured (heap used plus
 * ArrayBuffer memory, after a full GC, over 50 decoded blocks of 400 transactions): a decoded
 * transaction takes ~1.9 KB whatever its kind (a transfer of 115 bytes and an ERC-20 transfer of
 * 179 alike: its bigints, byte arrays, cached hash and pinned sender), plus its bytes as they
 * arrived; a receipt ~120 bytes; each log ~450 bytes and its data, each topic ~300 (every field
 * is a byte array of its own). A heap snapshot of the sequencer under bench:e2e's `erc20` load
 * agreed (3.2 KB per ERC-20 transfer with its receipt and one log of three topics; the estimate
 * before this one, 2×RLP + 1,200 per transaction + 3× the log bytes, read 2.1 KB).
 */
export function chainBlockBytes(serializedBytes: number, block: Pick<ChainBlock, 'block' | 'receipts'>): number {
  let bytes = serializedBytes + 1_900 * block.block.transactions.length + 2_048
  for (const receipt of block.receipts) {
    bytes += 120
    for (const log of receipt.logs) bytes += 450 + log[2].length + 300 * log[1].length
  }
  return bytes
}

export type ChainOptions = {
  /** Byte budget of the decoded blocks kept in memory (`CHAIN_CACHE_BYTES`). */
  readonly cacheBytes: number
}

export class Chain {
  /** Recently used decoded blocks, least recently used first, with their estimated sizes. */
  private readonly cache = new Map<bigint, { readonly block: ChainBlock; readonly bytes: number }>()
  private cachedBytes = 0
  private headNumber: bigint

  constructor(
    private readonly store: LmdbStore,
    private readonly common: Common,
    head: bigint,
    private readonly options: ChainOptions = { cacheBytes: 16 * 1024 * 1024 },
  ) {
    this.headNumber = head
  }

  get head(): bigint {
    return this.headNumber
  }

  /** Bytes of decoded blocks held in memory (estimated) and how many blocks. */
  cacheStats(): { bytes: number; blocks: number; budget: number } {
    return { bytes: this.cachedBytes, blocks: this.cache.size, budget: this.options.cacheBytes }
  }

  /**
   * Move the head to a block that is already durable (only `ChainWriter.commit` calls this, after
   * the store's write returned).
   */
  advance(number: bigint, block: ChainBlock, serializedBytes = 0): void {
    this.remember(number, block, serializedBytes)
    this.headNumber = number
  }

  private remember(number: bigint, block: ChainBlock, serializedBytes: number): void {
    const previous = this.cache.get(number)
    if (previous !== undefined) {
      this.cache.delete(number)
      this.cachedBytes -= previous.bytes
    }
    const bytes = chainBlockBytes(serializedBytes, block)
    this.cache.set(number, { block, bytes })
    this.cachedBytes += bytes
    for (const [oldest, entry] of this.cache) {
      if (this.cachedBytes <= this.options.cacheBytes || oldest === number) break
      this.cache.delete(oldest)
      this.cachedBytes -= entry.bytes
    }
  }

  getBlock(number: bigint): ChainBlock | undefined {
    if (number < 0n || number > this.headNumber) return undefined
    const cached = this.cache.get(number)
    if (cached !== undefined) {
      // Most recently used last: the head and the blocks being read stay, old ones go first.
      this.cache.delete(number)
      this.cache.set(number, cached)
      return cached.block
    }
    const stored = this.store.getBlock(number)
    if (stored === undefined) return undefined
    const senders = stored.senders.map((s) => new Address(s))
    const chainBlock: ChainBlock = {
      block: decodeBlock(stored.serialized, this.common, senders),
      hash: stored.hash,
      senders,
      receipts: stored.receipts.map(decodeStoredReceipt),
    }
    this.remember(number, chainBlock, stored.serialized.length)
    return chainBlock
  }

  getBlockByHash(hash: Uint8Array): ChainBlock | undefined {
    const number = this.getBlockNumber(hash)
    return number === undefined ? undefined : this.getBlock(number)
  }

  /** The number of the canonical block `hash`, without decoding it. */
  getBlockNumber(hash: Uint8Array): bigint | undefined {
    const number = this.store.getBlockNumber(hash)
    return number === undefined || number > this.headNumber ? undefined : number
  }

  /** A block's header, without decoding its transactions when the block is not in memory. */
  getHeader(number: bigint): BlockHeader | undefined {
    if (number < 0n || number > this.headNumber) return undefined
    const cached = this.cache.get(number)
    if (cached !== undefined) return cached.block.block.header
    const serialized = this.store.getBlockRlp(number)
    return serialized === undefined ? undefined : decodeHeader(serialized, this.common)
  }

  /** Without decoding the block when it is not in memory (block filters read thousands). */
  getBlockHash(number: bigint): Uint8Array | undefined {
    if (number < 0n || number > this.headNumber) return undefined
    return this.cache.get(number)?.block.hash ?? this.store.getBlockHash(number)
  }

  getTransaction(hash: Uint8Array): { chainBlock: ChainBlock; index: number; tx: TypedTransaction } | undefined {
    // The index knows the hash's first 8 bytes: the transaction at a location confirms the rest.
    for (const location of this.store.getTxLocations(hash)) {
      if (location.blockNumber > this.headNumber) continue
      const chainBlock = this.getBlock(location.blockNumber)
      const tx = chainBlock?.block.transactions[location.index]
      if (chainBlock !== undefined && tx !== undefined && equalsBytes(tx.hash(), hash)) return { chainBlock, index: location.index, tx }
    }
    return undefined
  }
}
