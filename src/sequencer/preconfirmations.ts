/**
 * The preconfirmed view of the open block: what its durable mini-batches executed — transactions,
 * senders, receipts, the state they left — served at the `pending` tag and by receipt lookups
 * until the block is sealed (Base's flashblocks conventions: a pending receipt carries the
 * pending block's number and a zero block hash, `docs.base.org/base-chain/flashblocks`).
 *
 * `ChainWriter.preconfirm` publishes each mini-batch here once it is on disk, and
 * `ChainWriter.commit` clears it in the same turn as the sealed block becomes the head, so a
 * read sees either the open block's preconfirmed state or the sealed block, never neither.
 */
import { type BlockHeader, createBlockHeader, createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { blockCommonFor } from '../chain/common.ts'
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address } from '@ethereumjs/util'
import { Bloom } from '@ethereumjs/vm'
import { blockOf } from '../chain/block.ts'
import type { ChainBlock, StoredReceipt } from '../chain/chain.ts'
import type { MiniBatchToPreconfirm, PreconfirmedState } from '../chain/chain-writer.ts'
import { decodeTransaction, serializedTx } from '../chain/transaction.ts'
import { storedReceiptOf } from '../execution/assemble.ts'
import type { ExecutedTx } from '../execution/types.ts'
import { MosaicError } from '../errors.ts'
import { mergeDelta } from '../state/delta.ts'
import { OverlayReader } from '../state/overlay-reader.ts'
import type { StateReader } from '../state/types.ts'
import { rlpEncode } from '../utils/rlp.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/** A mini-batch as the sequencer hands it to `ChainWriter.preconfirm`: with its executed transactions and the open block's header. */
export type PreconfirmedMiniBatch = MiniBatchToPreconfirm & {
  readonly header: BlockHeader
  readonly executed: readonly ExecutedTx[]
}

/** The hash a preconfirmed receipt, log or pending block carries: not known until the block is sealed. */
export const PENDING_BLOCK_HASH = new Uint8Array(32)

/**
 * The open block as far as it is preconfirmed. It keeps each mini-batch's executed transactions
 * as the executor handed them over (they live until the block is sealed anyway) and builds its
 * views — the position of a hash, the stored receipts, the block so far — only when the RPC asks.
 * Under load those views are rarely read before the seal, and building them per transaction —
 * a hex key, a map entry, a stored receipt, three array slots — left ~1 KB per transaction alive
 * until the seal for the garbage collector to copy and promote: bench:e2e `transfers-single`
 * promoted 117–122 MB instead of 144 over its run, with 5–6 full collections instead of 7.
 */
export class PendingBlock {
  /** The preconfirmed transactions' executions, in block order. */
  private readonly executed: ExecutedTx[] = []
  /** Mini-batches published. */
  miniBatches = 0
  gasUsed = 0n
  /** Position by transaction hash, for the first `indexed` transactions. */
  private readonly index = new Map<string, number>()
  private indexed = 0
  /** The stored form of the first receipts (`storedReceiptOf`), extended on demand. */
  private readonly receipts: StoredReceipt[] = []
  /** The preconfirmed logs' bloom: the pending block's `logsBloom` so far, what log queries check first. */
  private readonly bloom: Bloom
  private cached: { block: ChainBlock; firstLogs: number[] } | undefined

  constructor(
    /** The header template the block is executed under (number, parent, timestamp, base fee…). */
    readonly header: BlockHeader,
    /** The head's state with every published mini-batch's changes over it. */
    readonly state: OverlayReader,
  ) {
    this.bloom = new Bloom(undefined, header.common)
  }

  get number(): bigint {
    return this.header.number
  }

  /** Position of a preconfirmed transaction in the block, by its hash. */
  indexOf(hash: Uint8Array): number | undefined {
    for (; this.indexed < this.executed.length; this.indexed++) this.index.set(bytesToUnprefixedHex(this.executed[this.indexed]!.tx.hash()), this.indexed)
    return this.index.get(bytesToUnprefixedHex(hash))
  }

  add(batch: PreconfirmedMiniBatch): void {
    if (batch.firstIndex !== this.executed.length) {
      throw new MosaicError('INTERNAL', `mini-batch ${batch.index} of block ${batch.block} starts at ${batch.firstIndex}, the pending block holds ${this.executed.length}`)
    }
    for (const executed of batch.executed) {
      this.executed.push(executed)
      if (executed.receipt.logs.length > 0) this.bloom.or(new Bloom(executed.receipt.bitvector, this.header.common))
    }
    mergeDelta(this.state.delta, batch.changes)
    this.gasUsed = batch.gasUsed
    this.miniBatches++
    this.cached = undefined
  }

  /**
   * The block so far as the RPC formats blocks and receipts: the template's header with the gas
   * used and the logs' bloom so far, the preconfirmed transactions, and the zero hash. Its roots
   * are the template's (not final); built once per mini-batch, on first use.
   */
  chainBlock(): ChainBlock {
    return this.view().block
  }

  /** Index of the first log of each transaction within the block so far. */
  firstLogIndexes(): number[] {
    return this.view().firstLogs
  }

  private view(): { block: ChainBlock; firstLogs: number[] } {
    if (this.cached !== undefined) return this.cached
    const { common } = this.header
    const header = createBlockHeader({ ...this.header.toJSON(), gasUsed: this.gasUsed, logsBloom: this.bloom.bitvector }, { common, setHardfork: false })
    for (let i = this.receipts.length; i < this.executed.length; i++) this.receipts.push(storedReceiptOf(this.executed[i]!.receipt))
    const block: ChainBlock = {
      block: blockOf(header, this.executed.map((e) => e.tx)),
      hash: PENDING_BLOCK_HASH,
      senders: this.executed.map((e) => e.sender),
      receipts: [...this.receipts],
    }
    const firstLogs: number[] = []
    let n = 0
    for (const receipt of this.receipts) {
      firstLogs.push(n)
      n += receipt.logs.length
    }
    this.cached = { block, firstLogs }
    return this.cached
  }
}

/** The sequencer's preconfirmations: the open block's pending view, if any. */
export class Preconfirmations implements PreconfirmedState {
  private open: PendingBlock | undefined

  /** `base`: the head's committed state (`FlatState`). */
  constructor(private readonly base: StateReader) {}

  /** The open block as far as it is preconfirmed; undefined when no transaction is. */
  get block(): PendingBlock | undefined {
    return this.open
  }

  /** State at `pending`: the head's with the preconfirmed mini-batches over it. */
  state(): StateReader {
    return this.open?.state ?? this.base
  }

  publish(batch: PreconfirmedMiniBatch): void {
    if (this.open !== undefined && this.open.number !== batch.block) {
      throw new MosaicError('INTERNAL', `mini-batch of block ${batch.block} published while block ${this.open.number} is open`)
    }
    this.open ??= new PendingBlock(batch.header, new OverlayReader(this.base))
    this.open.add(batch)
  }

  clear(): void {
    this.open = undefined
  }
}

// ---- the stored form of a mini-batch (`tables.miniBatches`) ----

/** RLP([header template RLP, or empty after the block's first mini-batch, [raw tx…]]). */
export function encodeMiniBatch(header: BlockHeader | undefined, transactions: readonly TypedTransaction[]): Uint8Array {
  return rlpEncode([header === undefined ? new Uint8Array() : header.serialize(), transactions.map((tx) => serializedTx(tx))])
}

/** The stored mini-batches of one block, in order, back to its header template and transactions. */
export function decodeMiniBatches(records: readonly { readonly index: number; readonly record: Uint8Array }[], common: Common): { header: BlockHeader; transactions: TypedTransaction[] } {
  let header: BlockHeader | undefined
  const transactions: TypedTransaction[] = []
  records.forEach(({ index, record }, i) => {
    if (index !== i) throw new MosaicError('STORE_CORRUPT', `mini-batch ${i} of the open block is missing (found ${index})`)
    const decoded = RLP.decode(record) as unknown
    if (!Array.isArray(decoded) || decoded.length !== 2 || !(decoded[0] instanceof Uint8Array) || !Array.isArray(decoded[1])) {
      throw new MosaicError('STORE_CORRUPT', `mini-batch ${index} of the open block is malformed`)
    }
    const [headerBytes, raws] = decoded as [Uint8Array, unknown[]]
    if (i === 0) {
      if (headerBytes.length === 0) throw new MosaicError('STORE_CORRUPT', 'the first mini-batch of the open block has no header template')
      header = decodeHeaderTemplate(headerBytes, common)
    }
    for (const raw of raws) {
      if (!(raw instanceof Uint8Array)) throw new MosaicError('STORE_CORRUPT', `mini-batch ${index} of the open block holds a malformed transaction`)
      transactions.push(decodeTransaction(raw, common))
    }
  })
  if (header === undefined) throw new MosaicError('STORE_CORRUPT', 'no mini-batch of the open block')
  return { header, transactions }
}

function decodeHeaderTemplate(bytes: Uint8Array, common: Common): BlockHeader {
  const values = RLP.decode(bytes) as unknown
  if (!Array.isArray(values) || values.some((v) => !(v instanceof Uint8Array))) throw new MosaicError('STORE_CORRUPT', 'the header template of the open block is malformed')
  // The Common the sequencer makes its templates with (`chain/header-rules.ts`).
  return createBlockHeaderFromBytesArray(values as Uint8Array[], { common: blockCommonFor(common), setHardfork: false })
}
