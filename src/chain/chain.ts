/**
 * The canonical chain as the node serves it: blocks, receipts and indexes read from the LMDB
 * store, the most recent ones kept decoded in memory.
 */
import { type Block, createBlockFromRLP } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToBigInt } from '@ethereumjs/util'
import type { LmdbStore, StoredBlock } from '../storage/lmdb-store.ts'

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
  return RLP.encode([receipt.status === 1 ? Uint8Array.of(1) : new Uint8Array(), receipt.cumulativeGasUsed, receipt.logs as never])
}

export function decodeStoredReceipt(bytes: Uint8Array): StoredReceipt {
  const [status, cumulative, logs] = RLP.decode(bytes) as unknown as [Uint8Array, Uint8Array, [Uint8Array, Uint8Array[], Uint8Array][]]
  return { status: status.length === 0 ? 0 : 1, cumulativeGasUsed: bytesToBigInt(cumulative), logs }
}

const CACHE_BLOCKS = 512

export class Chain {
  private readonly cache = new Map<bigint, ChainBlock>()
  private headNumber: bigint

  constructor(
    private readonly store: LmdbStore,
    private readonly common: Common,
    head: bigint,
  ) {
    this.headNumber = head
  }

  get head(): bigint {
    return this.headNumber
  }

  /** Make a block durable and then visible: nothing of it is served before the write returns. */
  async append(stored: StoredBlock, chainBlock: ChainBlock, write: () => Promise<void>): Promise<void> {
    await write()
    this.remember(stored.number, chainBlock)
    this.headNumber = stored.number
  }

  private remember(number: bigint, block: ChainBlock): void {
    this.cache.set(number, block)
    if (this.cache.size > CACHE_BLOCKS) {
      const oldest = this.cache.keys().next().value
      if (oldest !== undefined) this.cache.delete(oldest)
    }
  }

  getBlock(number: bigint): ChainBlock | undefined {
    if (number < 0n || number > this.headNumber) return undefined
    const cached = this.cache.get(number)
    if (cached !== undefined) return cached
    const stored = this.store.getBlock(number)
    if (stored === undefined) return undefined
    const block = createBlockFromRLP(stored.serialized, { common: this.common, setHardfork: false })
    const chainBlock: ChainBlock = {
      block,
      hash: stored.hash,
      senders: stored.senders.map((s) => new Address(s)),
      receipts: stored.receipts.map(decodeStoredReceipt),
    }
    this.remember(number, chainBlock)
    return chainBlock
  }

  getBlockByHash(hash: Uint8Array): ChainBlock | undefined {
    const number = this.store.getBlockNumber(hash)
    return number === undefined ? undefined : this.getBlock(number)
  }

  getBlockHash(number: bigint): Uint8Array | undefined {
    return this.getBlock(number)?.hash
  }

  getTransaction(hash: Uint8Array): { chainBlock: ChainBlock; index: number; tx: TypedTransaction } | undefined {
    const location = this.store.getTxLocation(hash)
    if (location === undefined || location.blockNumber > this.headNumber) return undefined
    const chainBlock = this.getBlock(location.blockNumber)
    const tx = chainBlock?.block.transactions[location.index]
    if (chainBlock === undefined || tx === undefined) return undefined
    return { chainBlock, index: location.index, tx }
  }
}
