/**
 * The LMDB store: the only module that imports `lmdb`. Layout: `schema.ts`.
 *
 * Reads are synchronous (LMDB reads are memory-mapped; ~1 µs) so execution can read flat state
 * without awaiting. A block is written in one asynchronous LMDB transaction, which resolves
 * once committed and flushed: only then may its receipts be served.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt, equalsBytes, KECCAK256_NULL, unprefixedHexToBytes } from '@ethereumjs/util'
import { type Database, open, type RootDatabase } from 'lmdb'
import { MosaicError } from '../errors.ts'
import { decodeStateDelta, encodeStateDelta } from '../state/delta-codec.ts'
import type { AccountRecord, StateDelta } from '../state/types.ts'
import { metaKeys, numberKey, readNumberKey, SCHEMA_VERSION, storageKey, tables } from './schema.ts'
import { rlpEncode, rlpListString } from '../utils/rlp.ts'
import { POINTER_BYTES, SegmentedFiles, StaticFile, decodePointer } from './static-file.ts'
import { TxIndex, type TxIndexOptions, type TxLocation } from './tx-index.ts'
import { bytesToHex, bytesToUnprefixedHex, ON_HEAP_MAX } from '../utils/hex.ts'
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts'

type Table = Database<Uint8Array, Uint8Array>

export type StoreOptions = {
  /**
   * This process writes the chain: take the data dir's `LOCK` first (`data-dir-lock.ts`), and
   * refuse it while another process holds it. The node's own store does; the stores its worker
   * threads open on the same directory, and tools that read one, do not.
   */
  readonly exclusive?: boolean
  /**
   * How many blocks behind the head keep their state readable (`HISTORY_BLOCKS`): each block's
   * change sets are written with it and pruned once it is that far behind. Infinity keeps every
   * block's, 0 none (state at the head only). Default: Infinity.
   */
  readonly historyBlocks?: number
  /** Block events kept (`mosaic_subscribe("blocks")` resumes within them); default `BLOCK_EVENTS_KEPT`. */
  readonly blockEventsKept?: number
  /** Blocks whose change sets are indexed together (`HISTORY_INDEX_BATCH_BLOCKS`); tests lower it. */
  readonly historyIndexBatchBlocks?: number
  /** Keys per commit within an index batch; tests lower it. */
  readonly historyIndexChunkEntries?: number
  /** Bytes of a full history index shard (`HISTORY_SHARD_BYTES`); tests lower it. */
  readonly historyShardBytes?: number
  /** Blocks per change set segment file (`CHANGE_SET_SEGMENT_BLOCKS`); tests lower it. */
  readonly changeSetSegmentBlocks?: number
  /** The transaction index's run sizes; tests lower them. */
  readonly txIndex?: TxIndexOptions
}

/** The stages of a block's life, in the order they happen to it (`mosaic_subscribe("blocks")`). */
export const BLOCK_EVENT_STATUSES = ['executed', 'rooted', 'posted', 'finalized', 'verified'] as const
export type BlockEventStatus = (typeof BLOCK_EVENT_STATUSES)[number]

/** One step of a block's life, numbered in the order the node recorded it. */
export type BlockEvent = {
  readonly sequence: bigint
  readonly block: bigint
  readonly status: BlockEventStatus
  /** What the status adds: `rooted` the root, `posted` the batch and L1 block, `verified` the verdict. */
  readonly data: Readonly<Record<string, string | boolean | number>>
}

export type NewBlockEvent = Omit<BlockEvent, 'sequence'>

/** Block events kept; older ones are pruned a few per append. */
export const BLOCK_EVENTS_KEPT = 1_000_000
/** Most `posted` or `finalized` events one `recordL1Progress` call appends (a long backlog is caught up over several calls). */
const L1_EVENTS_PER_CALL = 10_000

/** Blocks whose change sets one block write prunes at most: a shrunk window catches up gradually. */
const PRUNE_PER_WRITE = 4
/**
 * The history index is written in batches, this many blocks at a time, or sooner once this many
 * change-set entries wait: one LMDB commit dirties each index page once per batch instead of once
 * per block. Until then the entries are indexed in memory (a few MB at most).
 */
const HISTORY_INDEX_BATCH_BLOCKS = 64
/** The largest change set record a history read keeps a buffer for; a larger one is read into its own. */
const CHANGE_SET_SCRATCH_MAX = 4 * 1024 * 1024
const HISTORY_INDEX_BATCH_ENTRIES = 32_768
/** Keys per LMDB commit within an index batch (see `writeIndexChunks`). */
const HISTORY_INDEX_CHUNK_ENTRIES = 1_024
/**
 * Bytes of a full shard of a key's history index, so that a shard stays within an LMDB page (a
 * value over ~2 KB would take overflow pages of its own): ~1,500 blocks of a key changed every
 * block, a byte each.
 */
const HISTORY_SHARD_BYTES = 1_536
/**
 * Blocks per change set segment file: the window (`HISTORY_BLOCKS`) moves by whole files, so
 * the disk holds at most this many blocks' change sets beyond it.
 */
const CHANGE_SET_SEGMENT_BLOCKS = 4_096n
const NO_VALUE = new Uint8Array(0)
/** The key suffix of a key's open history shard, and of its first possible one; `SHARD_END` ends a key's range after its open shard. */
const OPEN_SHARD = new Uint8Array(8).fill(0xff)
const FIRST_SHARD = new Uint8Array(8)
const SHARD_END = Uint8Array.of(0)

type ChangeKind = 'accounts' | 'storage'
/** A key a block changed and its value before (`hex`: address, or address ‖ slot). */
type ChangeEntry = { readonly hex: string; readonly key: Uint8Array; readonly before: Uint8Array }
/** One block's change set: the accounts and the slots it changed, each with its value before. */
type ChangeSet = { readonly accounts: readonly ChangeEntry[]; readonly storage: readonly ChangeEntry[] }
/** Blocks (ascending) to add to a key's history index. */
type IndexAppend = { readonly table: Table; readonly key: Uint8Array; readonly blocks: readonly bigint[] }

/**
 * A block's change set record: accounts (u32 BE), slots (u32 BE), the offset of each entry (u32
 * BE), then the entries — key (20 bytes, or 52 for a slot) ‖ length of `before` (u16 BE) ‖
 * `before` —, accounts then slots, each part in key order: a history read binary-searches the
 * record as read, decoding nothing else.
 */
function encodeChangeSet(changes: ChangeSet): Uint8Array {
  const sorted = (entries: readonly ChangeEntry[]) => [...entries].sort((a, b) => Buffer.compare(a.key, b.key))
  const entries = [...sorted(changes.accounts), ...sorted(changes.storage)]
  const header = 8 + entries.length * 4
  const out = new Uint8Array(entries.reduce((sum, { key, before }) => sum + key.length + 2 + before.length, header))
  const view = new DataView(out.buffer)
  view.setUint32(0, changes.accounts.length)
  view.setUint32(4, changes.storage.length)
  let at = header
  entries.forEach(({ key, before }, i) => {
    view.setUint32(8 + i * 4, at)
    out.set(key, at)
    view.setUint16(at + key.length, before.length)
    out.set(before, at + key.length + 2)
    at += key.length + 2 + before.length
  })
  return out
}

const KEY_BYTES = { accounts: 20, storage: 52 } as const

/** Entry `i` of a change set record: its key and its value before. */
function changeSetEntry(record: Uint8Array, view: DataView, i: number, keyBytes: number): { key: Uint8Array; before: Uint8Array } {
  const at = view.getUint32(8 + i * 4)
  const length = view.getUint16(at + keyBytes)
  return { key: record.subarray(at, at + keyBytes), before: record.subarray(at + keyBytes + 2, at + keyBytes + 2 + length) }
}

function decodeChangeSet(record: Uint8Array): ChangeSet {
  const view = new DataView(record.buffer, record.byteOffset, record.length)
  const accounts = view.getUint32(0)
  const storage = view.getUint32(4)
  const part = (from: number, count: number, keyBytes: number): ChangeEntry[] =>
    Array.from({ length: count }, (_, i) => {
      const { key, before } = changeSetEntry(record, view, from + i, keyBytes)
      return { hex: bytesToUnprefixedHex(key), key, before }
    })
  return { accounts: part(0, accounts, KEY_BYTES.accounts), storage: part(accounts, storage, KEY_BYTES.storage) }
}

/**
 * `key`'s value before, binary-searched in a change set record (compared in place, nothing
 * allocated but the answer, a copy); undefined when the block did not change it.
 */
function findChange(record: Uint8Array, kind: ChangeKind, key: Uint8Array): Uint8Array | undefined {
  const view = new DataView(record.buffer, record.byteOffset, record.length)
  const accounts = view.getUint32(0)
  const keyBytes = KEY_BYTES[kind]
  let low = kind === 'accounts' ? 0 : accounts
  let high = kind === 'accounts' ? accounts : accounts + view.getUint32(4)
  while (low < high) {
    const middle = (low + high) >>> 1
    const at = view.getUint32(8 + middle * 4)
    let order = 0
    for (let i = 0; i < keyBytes && order === 0; i++) order = record[at + i]! - key[i]!
    if (order === 0) return record.slice(at + keyBytes + 2, at + keyBytes + 2 + view.getUint16(at + keyBytes))
    if (order < 0) low = middle + 1
    else high = middle
  }
  return undefined
}

/**
 * A history shard's blocks, ascending: each as its distance from the one before (the first from
 * 0), in unsigned LEB128 — a byte for a key changed in consecutive blocks, where 8-byte numbers
 * made the index grow by 8 bytes per change (reth compresses its shards too, as bitmaps).
 */
function encodeBlocks(blocks: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(blocks.reduce((sum, block, i) => sum + varintLength(block - (i === 0 ? 0n : blocks[i - 1]!)), 0))
  let at = 0
  let previous = 0n
  for (const block of blocks) {
    let delta = Number(block - previous)
    previous = block
    while (delta >= 0x80) {
      out[at++] = (delta % 0x80) | 0x80
      delta = Math.floor(delta / 0x80)
    }
    out[at++] = delta
  }
  return out
}

function decodeBlocks(bytes: Uint8Array): bigint[] {
  const blocks: bigint[] = []
  forEachBlock(bytes, (block) => {
    blocks.push(BigInt(block))
    return false
  })
  return blocks
}

/** The first block of a shard after `number`, decoded only as far as it (a read needs no more). */
function firstBlockAfter(bytes: Uint8Array, number: bigint): bigint | undefined {
  const after = Number(number)
  let first: number | undefined
  forEachBlock(bytes, (block) => {
    if (block <= after) return false
    first = block
    return true
  })
  return first === undefined ? undefined : BigInt(first)
}

/** Calls `visit` with a shard's blocks in order until it returns true. */
function forEachBlock(bytes: Uint8Array, visit: (block: number) => boolean): void {
  let block = 0
  let delta = 0
  let scale = 1
  for (const byte of bytes) {
    delta += (byte & 0x7f) * scale
    scale *= 0x80
    if (byte < 0x80) {
      block += delta
      if (visit(block)) return
      delta = 0
      scale = 1
    }
  }
}

function varintLength(delta: bigint): number {
  let length = 1
  for (let rest = delta >> 7n; rest > 0n; rest >>= 7n) length++
  return length
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** A block as it is stored: everything needed to serve it, its receipts and its indexes. */
export type StoredBlock = {
  readonly number: bigint
  readonly hash: Uint8Array
  /** `block.serialize()` of the ethereumjs block. */
  readonly serialized: Uint8Array
  /** Sender address (20 bytes) of each transaction, in block order. */
  readonly senders: readonly Uint8Array[]
  readonly txHashes: readonly Uint8Array[]
  /** Per tx: RLP([status, cumulativeGasUsed, logs]). */
  readonly receipts: readonly Uint8Array[]
}

/** One block's commitment as `writeCommitments` records it. */
export type CommitmentRecord = {
  readonly number: bigint
  readonly root: Uint8Array
  /** The block's witness (binary form), if recorded. */
  readonly witness: Uint8Array | undefined
  readonly nodes: readonly (readonly [Uint8Array, Uint8Array])[]
  /** The hashes of the stored aggregate nodes that left the state in this block (`AGGREGATE_WRITER`'s `trie_stale` entry). */
  readonly stale?: readonly Uint8Array[]
}

/**
 * The `trie_stale` writer number of the aggregate nodes (the `mpt` root node, `sharded` binary
 * Merkle pages) that the commitment pipeline's own thread records with each commitment;
 * commitment workers are 0, 1, … Its entries are pruned by the worker whose number is ≡ to it
 * modulo the number of workers, as any writer's are.
 */
export const AGGREGATE_WRITER = 0xffff

export function encodeAccountRecord(record: AccountRecord): Uint8Array {
  return rlpEncode([bigIntToUnpaddedBytes(record.nonce), bigIntToUnpaddedBytes(record.balance), record.codeHash])
}

export function decodeAccountRecord(bytes: Uint8Array): AccountRecord {
  const [nonce, balance, codeHash] = RLP.decode(bytes) as Uint8Array[]
  if (nonce === undefined || balance === undefined || codeHash === undefined) {
    throw new MosaicError('STORE_CORRUPT', 'Malformed account record in LMDB')
  }
  // Most accounts have no code: they share one code hash instead of each holding a view that
  // keeps its whole record buffer alive (flat state holds records for many accounts).
  return { nonce: bytesToBigInt(nonce), balance: bytesToBigInt(balance), codeHash: equalsBytes(codeHash, KECCAK256_NULL) ? KECCAK256_NULL : codeHash.slice() }
}

/** A change set entry not yet in the history index: the block that changed the key, and the value before. */
/**
 * The address space each LMDB environment maps, reserved once at open (erigon and reth's MDBX
 * reserve terabytes the same way). It is only address space: without a write map the file grows
 * with the data, not to this size, and past it lmdb-js still grows the map. Left to lmdb-js, the
 * map starts at 128 KB and doubles as the file grows, and every earlier map stays mapped (readers
 * may still point into it), so a page read after a remap was resident once per map: a 137 MB
 * store held 285 MB of file pages in six maps. With one map the process holds each page at most
 * once. The reservation stays well inside the 128 TiB of a 64-bit process however many stores a
 * test opens.
 */
const CHAIN_MAP_BYTES = 256 * 2 ** 30
/** The open block's mini-batches: a few MB at most. */
const MINI_BATCHES_MAP_BYTES = 2 ** 30

type PendingChange = { readonly block: bigint; readonly before: Uint8Array }
/** Per key (hex of its table key), its pending changes, oldest first. */
type PendingHistory = Map<string, { readonly key: Uint8Array; changes: PendingChange[] }>

/** Every storage key of `address` sorts below address ‖ 0xff…ff (33 bytes after the address). */
/** A trie node to store: hash, encoding, and the owner of a storage trie's node (keccak(address)). */
export type TrieNodeWrite = readonly [hash: Uint8Array, encoding: Uint8Array, owner: Uint8Array | undefined]

/** Where a trie node is stored in `trie_nodes`: its hash, under its storage trie's account if it has one. */
export function trieNodeKey(hash: Uint8Array, owner: Uint8Array | undefined): Uint8Array {
  return owner === undefined ? hash : concatBytes(owner, hash)
}

/** Bytes of one `ValueSlab` buffer. */
const SLAB_BYTES = 64 * 1024

/**
 * Small values on their way to lmdb-js, copied into a shared off-heap buffer. lmdb-js hands LMDB
 * a value by the address of its ArrayBuffer (`getAddress(value.buffer)`, cached on the
 * ArrayBuffer), and reading the `.buffer` of an array V8 keeps on its heap — an account record,
 * a slot, a history shard, a short trie node: 64 bytes or less — moves its bytes to a `malloc`'d
 * backing store for good, a native call and an ArrayBuffer the collector then tracks and frees,
 * per value (see `ON_HEAP_MAX` in `utils/hex.ts`). In a slab, the address is taken once per
 * 64 KB. No region is handed out twice: a full slab is replaced, and lives on only while a value
 * in it is referenced (by a write under way).
 */
class ValueSlab {
  private bytes = new Uint8Array(new ArrayBuffer(SLAB_BYTES))
  private used = 0

  /** A fresh region of `length` bytes (at most `ON_HEAP_MAX`). */
  take(length: number): Uint8Array {
    if (this.used + length > this.bytes.length) {
      this.bytes = new Uint8Array(new ArrayBuffer(SLAB_BYTES))
      this.used = 0
    }
    const region = this.bytes.subarray(this.used, this.used + length)
    this.used += length
    return region
  }

  /** `value` itself when it is large (kept off V8's heap anyway), else a copy of it in the slab. */
  place(value: Uint8Array): Uint8Array {
    if (value.length > ON_HEAP_MAX) return value
    const region = this.take(value.length)
    region.set(value)
    return region
  }

  /** A node's stored value: its encoding, then the block that wrote it (8, BE). */
  withBlock(enc: Uint8Array, block: bigint): Uint8Array {
    const length = enc.length + 8
    const out = length > ON_HEAP_MAX ? new Uint8Array(length) : this.take(length)
    out.set(enc)
    for (let i = 7, n = block; i >= 0; i--, n >>= 8n) out[enc.length + i] = Number(n & 0xffn)
    return out
  }
}

function writtenAt(stored: Uint8Array): bigint {
  return new DataView(stored.buffer, stored.byteOffset, stored.byteLength).getBigUint64(stored.length - 8)
}

function staleKey(block: bigint, writer: number): Uint8Array {
  const key = new Uint8Array(10)
  key.set(numberKey(block))
  key[8] = writer >> 8
  key[9] = writer & 0xff
  return key
}

/** Keys of 1–255 bytes, each as length (1) ‖ key. */
function encodeKeys(keys: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const key of keys) size += 1 + key.length
  const out = new Uint8Array(size)
  let at = 0
  for (const key of keys) {
    out[at++] = key.length
    out.set(key, at)
    at += key.length
  }
  return out
}

function decodeKeys(bytes: Uint8Array): Uint8Array[] {
  const keys: Uint8Array[] = []
  for (let at = 0; at < bytes.length; ) {
    const length = bytes[at++]!
    if (length === 0 || at + length > bytes.length) throw new MosaicError('STORE_CORRUPT', 'a trie_stale entry is malformed')
    keys.push(bytes.subarray(at, at + length))
    at += length
  }
  return keys
}

function storageEnd(address: string): Uint8Array {
  const end = new Uint8Array(53).fill(0xff)
  end.set(unprefixedHexToBytes(address))
  return end
}

export class LmdbStore {
  private readonly env: RootDatabase
  private readonly t: Record<keyof typeof tables, Table>
  private readonly historyBlocks: number
  private readonly blockEventsKept: bigint
  /**
   * The oldest block whose state is readable. Raised before a pruning write commits, so a read
   * that checks it after its lookup never takes a pruned block's missing change set for "no change".
   */
  private historyFloor: bigint | undefined
  /** Where small values are put before they go to lmdb-js (see `ValueSlab`). */
  private readonly slab = new ValueSlab()
  /** The last block whose change sets are in the index tables (-1 for none). */
  private historyIndexedTo: bigint
  /** The last block of the index batch being committed, while one is. */
  private historyIndexing: { readonly to: bigint; readonly done: Promise<void> } | undefined
  /** The change sets of the blocks after `historyIndexedTo`, indexed in memory until their batch is committed. */
  private readonly pendingHistory = { accounts: new Map() as PendingHistory, storage: new Map() as PendingHistory, blocks: [] as bigint[], entries: 0 }
  private readonly historyIndexBatchBlocks: number
  private readonly historyIndexChunkEntries: number
  private readonly historyShardBytes: number
  /** Change set records, a file per segment of blocks (`DATA_DIR/changesets/`). */
  private readonly changeSetFiles: SegmentedFiles
  /** Where `changeBefore` reads a record: grown to the largest one read, up to `CHANGE_SET_SCRATCH_MAX`. */
  private changeSetScratch = new Uint8Array(64 * 1024)
  /** The transaction index, once used (`txIndex`). */
  private openTxIndex: TxIndex | undefined
  private readonly txIndexOptions: TxIndexOptions
  /** Whether a block write is under way (`writeBlock` takes one at a time). */
  private writingBlock = false
  private nextEvent: bigint
  /**
   * The open block's mini-batches, in an environment of their own (`DATA_DIR/mini-batches.mdb`):
   * a mini-batch's commit — what its preconfirmations wait for — never queues behind the chain's
   * writes (blocks, commitments, trie nodes, history index chunks), which held it for tens of
   * milliseconds at times. A block's mini-batches are dropped once its own write is flushed to
   * disk (`flushedHead`), so a power cut that loses that write leaves them for the next start.
   */
  private readonly miniEnv: RootDatabase
  private readonly miniBatches: Table
  /**
   * The records each block adds and nothing rewrites, outside LMDB (`static-file.ts`): block
   * bodies, receipts, state deltas and read sets in `DATA_DIR/blocks.dat`, witnesses in
   * `DATA_DIR/witnesses.dat`; their tables hold pointers.
   */
  private readonly blockFile: StaticFile
  private readonly witnessFile: StaticFile
  /** Whether this store cut the static files to what its pointers name (before its first append). */
  private staticFilesRepaired = false
  /** Resolves once the transaction of the last write that went through `inCallOrder` is queued. */
  private staticWriteQueued: Promise<void> = Promise.resolve()
  /** The last block whose write is flushed to disk. */
  private flushedHead: bigint
  /** Hears the block events of each commit, in sequence order, once they are durable. */
  onBlockEvents: ((events: readonly BlockEvent[]) => void) | undefined

  /** The data dir's `LOCK`, held while an exclusive store is open. */
  private lock: DataDirLock | undefined

  private constructor(
    private readonly path: string,
    options: StoreOptions,
  ) {
    mkdirSync(path, { recursive: true })
    this.historyBlocks = options.historyBlocks ?? Number.POSITIVE_INFINITY
    this.blockEventsKept = BigInt(options.blockEventsKept ?? BLOCK_EVENTS_KEPT)
    this.env = open({ path: join(path, 'chain.mdb'), maxDbs: 24, compression: false, mapSize: CHAIN_MAP_BYTES })
    const table = (name: string): Table =>
      this.env.openDB<Uint8Array, Uint8Array>({ name, keyEncoding: 'binary', encoding: 'binary' })
    this.t = {
      accounts: table(tables.accounts),
      storage: table(tables.storage),
      code: table(tables.code),
      blocks: table(tables.blocks),
      blockHashes: table(tables.blockHashes),
      receipts: table(tables.receipts),
      stateDeltas: table(tables.stateDeltas),
      trieNodes: table(tables.trieNodes),
      trieStale: table(tables.trieStale),
      stateRoots: table(tables.stateRoots),
      witnesses: table(tables.witnesses),
      readSets: table(tables.readSets),
      blockEvents: table(tables.blockEvents),
      changeSets: table(tables.changeSets),
      accountHistory: table(tables.accountHistory),
      storageHistory: table(tables.storageHistory),
      meta: table(tables.meta),
      miniBatches: table(tables.miniBatches),
    }
    this.miniEnv = open({ path: join(path, 'mini-batches.mdb'), maxDbs: 1, compression: false, mapSize: MINI_BATCHES_MAP_BYTES })
    this.miniBatches = this.miniEnv.openDB<Uint8Array, Uint8Array>({ name: tables.miniBatches, keyEncoding: 'binary', encoding: 'binary' })
    this.moveMiniBatchesOutOfChain()
    this.blockFile = new StaticFile(join(path, 'blocks.dat'))
    this.witnessFile = new StaticFile(join(path, 'witnesses.dat'))
    this.changeSetFiles = new SegmentedFiles(join(path, 'changesets'), options.changeSetSegmentBlocks === undefined ? CHANGE_SET_SEGMENT_BLOCKS : BigInt(options.changeSetSegmentBlocks))
    this.flushedHead = this.getHead() ?? -1n
    const floor = this.getMeta(metaKeys.historyFrom)
    this.historyFloor = floor === undefined ? undefined : readNumberKey(floor)
    this.historyIndexBatchBlocks = options.historyIndexBatchBlocks ?? HISTORY_INDEX_BATCH_BLOCKS
    this.historyIndexChunkEntries = options.historyIndexChunkEntries ?? HISTORY_INDEX_CHUNK_ENTRIES
    this.historyShardBytes = options.historyShardBytes ?? HISTORY_SHARD_BYTES
    this.txIndexOptions = options.txIndex ?? {}
    const indexedTo = this.getMeta(metaKeys.historyIndexedTo)
    this.historyIndexedTo = indexedTo === undefined ? -1n : readNumberKey(indexedTo)
    this.loadPendingHistory()
    const next = this.getMeta(metaKeys.nextEventSequence)
    this.nextEvent = next === undefined ? 1n : readNumberKey(next)
  }

  static open(dataDir: string, options: StoreOptions = {}): LmdbStore {
    let lock: DataDirLock | undefined
    if (options.exclusive === true) {
      mkdirSync(dataDir, { recursive: true })
      lock = lockDataDir(dataDir)
    }
    try {
      const store = new LmdbStore(dataDir, options)
      store.lock = lock
      const version = store.getMeta(metaKeys.schemaVersion)
      if (version !== undefined && readNumberKey(version) !== BigInt(SCHEMA_VERSION)) {
        throw new MosaicError('STORE_CORRUPT', `Data dir ${dataDir} has schema version ${readNumberKey(version)}, this mosaic reads version ${SCHEMA_VERSION}: use another DATA_DIR (or remove this one to start the chain afresh)`)
      }
      return store
    } catch (error) {
      lock?.release()
      throw error
    }
  }

  /**
   * Reads from here on see every transaction committed until now. lmdb-js keeps one read snapshot
   * and renews it from a timer (`setTimeout(0)`): a worker thread whose tasks come back to back
   * may not have run it between two of them, and one that never returns to its event loop
   * (piscina's default `Atomics.wait`) never does, and would read the state of its first read
   * forever. Such a thread calls this at the start of each task, and must let its event loop run
   * between tasks: each renewal schedules that timer again.
   */
  refreshReads(): void {
    this.env.resetReadTxn()
  }

  async close(): Promise<void> {
    await this.historyIndexing?.done
    await this.openTxIndex?.close()
    await this.miniEnv.close()
    await this.env.close()
    this.blockFile.close()
    this.witnessFile.close()
    this.changeSetFiles.close()
    this.lock?.release()
  }

  /**
   * Before this store's first append: cut each static file to the end of the furthest record a
   * committed pointer names — the last entry of each of its tables, as records are appended in
   * block order — dropping what an append left whose transaction never committed.
   */
  private repairStaticFiles(): void {
    if (this.staticFilesRepaired) return
    const end = (...tables: Table[]) => {
      let furthest = 0
      for (const table of tables) {
        for (const { value } of table.getRange({ reverse: true, limit: 1 })) {
          const { offset, length } = decodePointer(value)
          furthest = Math.max(furthest, offset + length)
        }
      }
      return furthest
    }
    this.blockFile.truncateTo(end(this.t.blocks, this.t.receipts, this.t.stateDeltas, this.t.readSets))
    this.witnessFile.truncateTo(end(this.t.witnesses))
    let last: { last: bigint; end: number } | undefined
    for (const { key, value } of this.t.changeSets.getRange({ reverse: true, limit: 1 })) {
      const { offset, length } = decodePointer(value)
      last = { last: readNumberKey(key), end: offset + length }
    }
    const oldest = this.oldestChangeSet()
    this.changeSetFiles.repair(last === undefined || oldest === undefined ? undefined : { oldest, ...last })
    this.staticFilesRepaired = true
  }

  /**
   * Run `transaction` (which queues an LMDB transaction when called) once `files`' appends are on
   * disk and every earlier call's transaction is queued: the writes that wait for a static file
   * still commit in the order they were called, as lmdb-js commits transactions in call order.
   */
  private async inCallOrder<T>(files: readonly { sync(): Promise<void> }[], transaction: () => Promise<T>): Promise<T> {
    const previous = this.staticWriteQueued
    const synced = Promise.all(files.map((file) => file.sync()))
    let queued!: () => void
    this.staticWriteQueued = new Promise((resolve) => (queued = resolve))
    try {
      await Promise.all([previous, synced])
    } catch (error) {
      queued()
      throw error
    }
    const result = transaction()
    queued()
    return result
  }

  /** The record a table's pointer names in its static file, or undefined where the table has none. */
  private staticRecord(table: Table, file: StaticFile, number: bigint): Uint8Array | undefined {
    const pointer = table.getBinaryFast(numberKey(number))
    return pointer === undefined ? undefined : file.read(pointer)
  }

  // ---- meta ----

  getMeta(key: string): Uint8Array | undefined {
    return this.t.meta.getBinary(new TextEncoder().encode(key))
  }

  /** Number of the last durable block, or undefined for an empty store. */
  getHead(): bigint | undefined {
    const head = this.getMeta(metaKeys.head)
    return head === undefined ? undefined : readNumberKey(head)
  }

  // ---- flat state ----

  readAccount(address: string): AccountRecord | undefined {
    const bytes = this.t.accounts.getBinary(unprefixedHexToBytes(address))
    return bytes === undefined ? undefined : decodeAccountRecord(bytes)
  }

  readStorage(address: string, slot: string): Uint8Array | undefined {
    return this.t.storage.getBinary(storageKey(unprefixedHexToBytes(address), unprefixedHexToBytes(slot)))
  }

  readCode(codeHash: string): Uint8Array | undefined {
    return this.t.code.getBinary(unprefixedHexToBytes(codeHash))
  }

  // ---- history: state at earlier blocks ----

  /** The oldest block whose state can be read (`readAccountAt`, `readStorageAt`), or undefined for an empty store. */
  get historyFrom(): bigint | undefined {
    return this.historyFloor
  }

  /**
   * The account as it was after block `number`: the value its first history entry after `number`
   * recorded, or the current one when nothing changed it since. One range seek (reth's history
   * lookup, with the change set's value in the index entry).
   */
  readAccountAt(address: string, number: bigint): AccountRecord | undefined {
    const key = unprefixedHexToBytes(address)
    const before = this.firstChangeAfter('accounts', key, number)
    const bytes = before === undefined ? this.t.accounts.getBinary(key) : before
    this.requireHistory(number)
    return bytes === undefined || bytes.length === 0 ? undefined : decodeAccountRecord(bytes)
  }

  /** The slot's value after block `number` (leading zeros stripped; empty = zero). */
  readStorageAt(address: string, slot: string, number: bigint): Uint8Array {
    const key = storageKey(unprefixedHexToBytes(address), unprefixedHexToBytes(slot))
    const before = this.firstChangeAfter('storage', key, number)
    const value = before === undefined ? this.t.storage.getBinary(key) : before
    this.requireHistory(number)
    return value === undefined ? NO_VALUE : value.slice()
  }

  /** Disk use of the history: the change sets (their segment files and pointers) and the index (LMDB's page statistics). */
  historyBytes(): { changeSets: number; index: number } {
    const bytes = (table: Table) => {
      const stat = table.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
      return stat.pageSize * (stat.treeBranchPageCount + stat.treeLeafPageCount + stat.overflowPages)
    }
    return {
      changeSets: bytes(this.t.changeSets) + this.changeSetFiles.bytes(),
      index: bytes(this.t.accountHistory) + bytes(this.t.storageHistory),
    }
  }

  /** Shards of the history index on disk, both kinds together. */
  historyIndexShards(): number {
    const entries = (table: Table) => (table.getStats() as { entryCount: number }).entryCount
    return entries(this.t.accountHistory) + entries(this.t.storageHistory)
  }

  /** The change set segment files on disk, by the first block of each. */
  changeSetSegments(): bigint[] {
    return this.changeSetFiles.segments()
  }

  /** Change set entries written but not yet in the history index (indexed in memory meanwhile). */
  get historyPendingEntries(): number {
    return this.pendingHistory.entries
  }

  /**
   * The value `key` had before the first block after `number` that changed it, or undefined when
   * none did since. The index on disk holds the blocks up to `historyIndexedTo`, the pending
   * history the ones after it, so the first match in the index is the first change: the first
   * shard that ends after `number` holds it.
   */
  private firstChangeAfter(kind: ChangeKind, key: Uint8Array, number: bigint): Uint8Array | undefined {
    const index = kind === 'accounts' ? this.t.accountHistory : this.t.storageHistory
    for (const { value } of index.getRange({ start: concatBytes(key, numberKey(number + 1n)), end: concatBytes(key, OPEN_SHARD, SHARD_END), limit: 1 })) {
      // The first block after `number` (the open shard may have none). Undefined when that block
      // was pruned meanwhile: the floor check after the lookup refuses the read.
      const first = firstBlockAfter(value as Uint8Array, number)
      if (first !== undefined) return this.changeBefore(kind, key, first)
    }
    return this.pendingHistory[kind].get(bytesToUnprefixedHex(key))?.changes.find((change) => change.block > number)?.before
  }

  /**
   * What block `block`'s change set recorded for `key`; undefined when the block left the window.
   * The record is read into a buffer kept for it, not into one allocated per read (~18 KB for a
   * block of 100 transactions, ~500 KB for a full one) that the read drops at once.
   */
  private changeBefore(kind: ChangeKind, key: Uint8Array, block: bigint): Uint8Array | undefined {
    const pointer = this.t.changeSets.getBinary(numberKey(block))
    if (pointer === undefined) return undefined
    const { length } = decodePointer(pointer)
    if (length > this.changeSetScratch.length && length <= CHANGE_SET_SCRATCH_MAX) this.changeSetScratch = new Uint8Array(length)
    const record = this.changeSetFiles.read(block, pointer, this.changeSetScratch)
    if (record === undefined) return undefined
    const before = findChange(record, kind, key)
    if (before === undefined) throw new MosaicError('STORE_CORRUPT', `the history index lists block ${block} for ${bytesToHex(key)}, but its change set has no entry for it: the data dir is damaged`)
    return before
  }

  /** Block `block`'s change set record; undefined when it has none or left the window. */
  private readChangeSet(block: bigint): Uint8Array | undefined {
    const pointer = this.t.changeSets.getBinary(numberKey(block))
    return pointer === undefined ? undefined : this.changeSetFiles.read(block, pointer)
  }

  private requireHistory(number: bigint): void {
    if (this.historyFloor === undefined || number < this.historyFloor) {
      throw new MosaicError('HISTORY_UNAVAILABLE', `state at block ${number} is not available: it was pruned while being read (the oldest block with state is ${this.historyFloor})`)
    }
  }

  /**
   * Before a block's write transaction, while the flat state is still the parent's: what the
   * block is about to overwrite — each account's and each slot's current value, every slot of a
   * wiped storage. (`writeBlock` takes one block at a time, so nothing else is in flight.)
   */
  private collectChangeSet(delta: StateDelta): ChangeSet {
    const accounts: ChangeEntry[] = []
    const storage: ChangeEntry[] = []
    for (const address of delta.accounts.keys()) {
      const key = unprefixedHexToBytes(address)
      accounts.push({ hex: address, key, before: this.t.accounts.getBinary(key) ?? NO_VALUE })
    }
    // Slots written explicitly first; a wiped account's other slots after, each recorded once.
    const written = delta.storageCleared.size === 0 ? undefined : new Set<string>()
    for (const [address, slots] of delta.storage) {
      const addressBytes = unprefixedHexToBytes(address)
      for (const slot of slots.keys()) {
        const key = storageKey(addressBytes, unprefixedHexToBytes(slot))
        storage.push({ hex: address + slot, key, before: this.t.storage.getBinary(key) ?? NO_VALUE })
        written?.add(address + slot)
      }
    }
    for (const address of delta.storageCleared) {
      for (const { key, value } of this.t.storage.getRange({ start: unprefixedHexToBytes(address), end: storageEnd(address) })) {
        const slotKey = (key as Uint8Array).slice()
        const hex = address + bytesToUnprefixedHex(slotKey.subarray(20))
        if (written?.has(hex)) continue
        storage.push({ hex, key: slotKey, before: (value as Uint8Array).slice() })
      }
    }
    return { accounts, storage }
  }

  /**
   * Inside the block's write transaction: its change set's pointer (the record is on disk), and
   * its entries in the pending history, which serves reads until the index batch holding the
   * block is committed.
   */
  private recordChangeSet(number: bigint, changes: ChangeSet, pointer: Uint8Array): void {
    this.t.changeSets.putSync(numberKey(number), pointer)
    for (const { hex, key, before } of changes.accounts) this.addPendingChange('accounts', hex, key, number, before)
    for (const { hex, key, before } of changes.storage) this.addPendingChange('storage', hex, key, number, before)
  }

  /** `hex` is the key's hex (the delta's address, or address ‖ slot). */
  private addPendingChange(kind: ChangeKind, hex: string, key: Uint8Array, block: bigint, before: Uint8Array): void {
    const pending = this.pendingHistory
    const entry = pending[kind].get(hex)
    if (entry === undefined) pending[kind].set(hex, { key, changes: [{ block, before }] })
    else entry.changes.push({ block, before })
    if (pending.blocks[pending.blocks.length - 1] !== block) pending.blocks.push(block)
    pending.entries++
  }

  /** On open: the change sets written after the last index batch go back into the pending history. */
  private loadPendingHistory(): void {
    for (const { key, value } of this.t.changeSets.getRange({ start: numberKey(this.historyIndexedTo + 1n) })) {
      const block = readNumberKey(key as Uint8Array)
      const record = this.changeSetFiles.read(block, value as Uint8Array)
      if (record === undefined) throw new MosaicError('STORE_CORRUPT', `the change set of block ${block} has a pointer but its segment file is missing from ${this.changeSetFiles.dir}: the data dir is damaged`)
      const changes = decodeChangeSet(record)
      for (const { hex, key, before } of changes.accounts) this.addPendingChange('accounts', hex, key, block, before)
      for (const { hex, key, before } of changes.storage) this.addPendingChange('storage', hex, key, block, before)
    }
  }

  /**
   * After a block's commit: once enough change sets wait, index them in one batch, key by key in
   * key order, committed in chunks (with the new `history_indexed_to` in the last), then drop
   * them from the pending history. One batch at a time.
   */
  private indexHistoryWhenDue(): void {
    const pending = this.pendingHistory
    if (this.historyIndexing !== undefined || pending.blocks.length === 0) return
    if (pending.blocks.length < this.historyIndexBatchBlocks && pending.entries < HISTORY_INDEX_BATCH_ENTRIES) return
    const to = pending.blocks[pending.blocks.length - 1]!
    // A kind's hex keys all have one length, so string order is byte order; each key's changes
    // are in block order already.
    const tables = { accounts: this.t.accountHistory, storage: this.t.storageHistory }
    const keys = function* (): Generator<IndexAppend> {
      for (const kind of ['accounts', 'storage'] as const) {
        for (const hex of [...pending[kind].keys()].sort()) {
          const entry = pending[kind].get(hex)
          const blocks = (entry?.changes ?? []).filter(({ block }) => block <= to).map(({ block }) => block)
          if (blocks.length > 0) yield { table: tables[kind], key: entry!.key, blocks }
        }
      }
    }
    const done = this.writeIndexChunks(keys(), to).then(
      () => {
        this.historyIndexedTo = to
        this.dropPendingHistory((block) => block <= to)
      },
      // A failed commit leaves the changes pending: the next block's write retries the batch
      // (and a disk that cannot commit stops block production there).
      () => undefined,
    )
    this.historyIndexing = {
      to,
      done: done.finally(() => {
        this.historyIndexing = undefined
      }),
    }
  }

  /**
   * A batch's keys, a chunk per LMDB transaction, one after the other: LMDB has one writer, so a
   * block or mini-batch write waits behind at most one chunk, never the whole batch.
   * `history_indexed_to` moves with the last chunk; a batch cut short is written again from the
   * pending changes after a restart, and `appendToShards` skips the blocks already indexed.
   */
  private async writeIndexChunks(keys: Iterator<IndexAppend>, to: bigint): Promise<void> {
    for (;;) {
      const chunk: IndexAppend[] = []
      let last = false
      while (chunk.length < this.historyIndexChunkEntries) {
        const next = keys.next()
        if (next.done === true) {
          last = true
          break
        }
        chunk.push(next.value)
      }
      await this.env.transaction(() => {
        for (const append of chunk) this.appendToShards(append)
        if (last) this.t.meta.putSync(new TextEncoder().encode(metaKeys.historyIndexedTo), numberKey(to))
      })
      if (last) return
    }
  }

  /**
   * In a write transaction: add `blocks` (ascending) to the key's open shard, leaving out those
   * already indexed and dropping those that left the window, and cut full shards off its front,
   * each keyed by its last block.
   */
  private appendToShards({ table, key, blocks }: IndexAppend): void {
    const openKey = concatBytes(key, OPEN_SHARD)
    const open = table.getBinary(openKey)
    let indexed = decodeBlocks(open ?? NO_VALUE)
    let lastIndexed = indexed.length > 0 ? indexed[indexed.length - 1] : undefined
    if (lastIndexed === undefined) {
      for (const shard of table.getKeys({ start: openKey, end: concatBytes(key, FIRST_SHARD), reverse: true, limit: 1 })) lastIndexed = readNumberKey((shard as Uint8Array).subarray(key.length))
    }
    const floor = this.historyFloor ?? 0n
    indexed = indexed.filter((block) => block >= floor)
    for (const block of blocks) if (lastIndexed === undefined || block > lastIndexed) indexed.push(block)
    for (;;) {
      // The most blocks a full shard can take; the open shard keeps the rest (at least one).
      let bytes = 0
      let count = 0
      while (count < indexed.length && bytes + varintLength(indexed[count]! - (count === 0 ? 0n : indexed[count - 1]!)) <= this.historyShardBytes) {
        bytes += varintLength(indexed[count]! - (count === 0 ? 0n : indexed[count - 1]!))
        count++
      }
      if (count === indexed.length) break
      const full = indexed.splice(0, Math.max(count, 1))
      table.putSync(concatBytes(key, numberKey(full[full.length - 1]!)), this.slab.place(encodeBlocks(full)))
    }
    if (indexed.length > 0) table.putSync(openKey, this.slab.place(encodeBlocks(indexed)))
    else if (open !== undefined) table.removeSync(openKey)
  }

  /** Remove the pending changes of the blocks `drop` selects. */
  private dropPendingHistory(drop: (block: bigint) => boolean): void {
    const pending = this.pendingHistory
    for (const map of [pending.accounts, pending.storage]) {
      for (const [hex, entry] of map) {
        const kept = entry.changes.filter(({ block }) => !drop(block))
        pending.entries -= entry.changes.length - kept.length
        if (kept.length === 0) map.delete(hex)
        else entry.changes = kept
      }
    }
    pending.blocks = pending.blocks.filter((block) => !drop(block))
  }

  /**
   * Inside a block's write transaction: move the oldest readable block. History on, the blocks
   * that left the window lose their change sets (a few per write); history off, only the head is
   * readable, and change sets left from a time it was on are pruned the same way. Returns
   * whether any was pruned (their segment files may go once the transaction commits).
   */
  private advanceHistory(head: bigint, wroteChangeSets: boolean): boolean {
    let floor = this.historyFloor
    let pruned = false
    // The first block written with change sets makes its parent readable.
    if (head === 0n || !wroteChangeSets) floor = head
    else if (floor === undefined) floor = head - 1n
    const window = this.historyBlocks
    const pruneTo = window === Number.POSITIVE_INFINITY ? -1n : head - BigInt(window)
    for (let i = 0; pruneTo >= 0n && i < PRUNE_PER_WRITE; i++) {
      const oldest = this.oldestChangeSet()
      if (oldest === undefined || oldest > pruneTo) break
      // Not a block whose index batch is being committed: its entries would outlive it.
      if (this.historyIndexing !== undefined && oldest > this.historyIndexedTo && oldest <= this.historyIndexing.to) break
      this.pruneChangeSet(oldest)
      pruned = true
      if (oldest > floor!) floor = oldest
    }
    if (floor !== this.historyFloor) {
      this.historyFloor = floor
      this.t.meta.putSync(new TextEncoder().encode(metaKeys.historyFrom), numberKey(floor!))
    }
    return pruned
  }

  private oldestChangeSet(): bigint | undefined {
    for (const key of this.t.changeSets.getKeys({ limit: 1 })) return readNumberKey(key as Uint8Array)
    return undefined
  }

  /**
   * Remove a block's change set pointer, and for each key it changed, the key's first shard if
   * it ends at or before the block: no read at a block still in the window needs it. (None yet
   * for a pending block: it leaves the pending history.) Its record goes with its segment file.
   */
  private pruneChangeSet(number: bigint): void {
    const record = number <= this.historyIndexedTo ? this.readChangeSet(number) : undefined
    const changes = record === undefined ? undefined : decodeChangeSet(record)
    for (const [kind, table] of [['accounts', this.t.accountHistory], ['storage', this.t.storageHistory]] as const) {
      for (const { key } of changes?.[kind] ?? []) {
        for (const { key: shardKey, value } of table.getRange({ start: concatBytes(key, FIRST_SHARD), end: concatBytes(key, OPEN_SHARD, SHARD_END), limit: 1 })) {
          const last = decodeBlocks(value as Uint8Array).at(-1)
          if (last === undefined || last <= number) table.removeSync((shardKey as Uint8Array).slice())
        }
      }
    }
    this.t.changeSets.removeSync(numberKey(number))
    if (number > this.historyIndexedTo) this.dropPendingHistory((b) => b === number)
  }

  // ---- block events: each block's life, numbered ----

  /** Stored events with a sequence number above `after`, oldest first, at most `limit`. */
  readBlockEvents(after: bigint, limit: number): BlockEvent[] {
    const out: BlockEvent[] = []
    for (const { key, value } of this.t.blockEvents.getRange({ start: numberKey(after + 1n), limit })) {
      const [block, status, payload] = RLP.decode(value as Uint8Array) as Uint8Array[]
      out.push({ sequence: readNumberKey(key as Uint8Array), block: bytesToBigInt(block!), status: new TextDecoder().decode(status) as BlockEventStatus, data: JSON.parse(new TextDecoder().decode(payload)) })
    }
    return out
  }

  /** The sequence number of the oldest stored event (the next one's when none is stored). */
  oldestBlockEvent(): bigint {
    for (const key of this.t.blockEvents.getKeys({ limit: 1 })) return readNumberKey(key as Uint8Array)
    return this.nextEvent
  }

  /** The sequence number of the newest event (0 before any). */
  get lastBlockEvent(): bigint {
    return this.nextEvent - 1n
  }

  /**
   * Record how far the L1 holds the chain: a `posted` event for every block up to `safe` and a
   * `finalized` one up to `finalized` that has none yet, in one transaction with the cursors.
   * `batchOf` adds what the poster knows of the batch that carried a block.
   */
  async recordL1Progress(safe: bigint, finalized: bigint, batchOf: (block: bigint) => NewBlockEvent['data'] | undefined): Promise<void> {
    const cursor = (key: string) => {
      const value = this.getMeta(key)
      return value === undefined ? 0n : readNumberKey(value)
    }
    const head = this.getHead() ?? 0n
    const events: NewBlockEvent[] = []
    const postedFrom = cursor(metaKeys.postedEventsTo) + 1n
    const postedTo = min(min(safe, head), postedFrom + BigInt(L1_EVENTS_PER_CALL) - 1n)
    for (let n = postedFrom; n <= postedTo; n++) events.push({ block: n, status: 'posted', data: batchOf(n) ?? {} })
    const finalizedFrom = cursor(metaKeys.finalizedEventsTo) + 1n
    const finalizedTo = min(min(finalized, postedTo < postedFrom ? postedFrom - 1n : postedTo), finalizedFrom + BigInt(L1_EVENTS_PER_CALL) - 1n)
    for (let n = finalizedFrom; n <= finalizedTo; n++) events.push({ block: n, status: 'finalized', data: {} })
    if (events.length === 0) return
    let appended: BlockEvent[] = []
    await this.env.transaction(() => {
      appended = this.appendBlockEvents(events)
      const encoder = new TextEncoder()
      if (postedTo >= postedFrom) this.t.meta.putSync(encoder.encode(metaKeys.postedEventsTo), numberKey(postedTo))
      if (finalizedTo >= finalizedFrom) this.t.meta.putSync(encoder.encode(metaKeys.finalizedEventsTo), numberKey(finalizedTo))
    })
    this.onBlockEvents?.(appended)
  }

  /** Record events (a verifier's verdicts) and meta values (their cursor) in one transaction. */
  async recordBlockEvents(events: readonly NewBlockEvent[], meta: Record<string, Uint8Array> = {}): Promise<void> {
    if (events.length === 0) return
    let appended: BlockEvent[] = []
    await this.env.transaction(() => {
      appended = this.appendBlockEvents(events)
      for (const [key, value] of Object.entries(meta)) this.t.meta.putSync(new TextEncoder().encode(key), value)
    })
    this.onBlockEvents?.(appended)
  }

  /** Inside a write transaction: number and store events, and prune the oldest past the limit. */
  private appendBlockEvents(events: readonly NewBlockEvent[]): BlockEvent[] {
    const out: BlockEvent[] = []
    const encoder = new TextEncoder()
    for (const event of events) {
      const sequence = this.nextEvent++
      this.t.blockEvents.putSync(numberKey(sequence), RLP.encode([bigIntToUnpaddedBytes(event.block), encoder.encode(event.status), encoder.encode(JSON.stringify(event.data))]))
      out.push({ sequence, ...event })
    }
    this.t.meta.putSync(encoder.encode(metaKeys.nextEventSequence), numberKey(this.nextEvent))
    const keepFrom = this.nextEvent - this.blockEventsKept
    const stale = [...this.t.blockEvents.getKeys({ end: numberKey(keepFrom > 0n ? keepFrom : 0n), limit: 2 * events.length })].map((key) => (key as Uint8Array).slice())
    for (const key of stale) this.t.blockEvents.removeSync(key)
    return out
  }

  // ---- chain ----

  getBlock(number: bigint): StoredBlock | undefined {
    const bytes = this.staticRecord(this.t.blocks, this.blockFile, number)
    if (bytes === undefined) return undefined
    const [serialized, senders, txHashes, hash] = RLP.decode(bytes) as [Uint8Array, Uint8Array[], Uint8Array[], Uint8Array]
    const receiptsBytes = this.staticRecord(this.t.receipts, this.blockFile, number)
    const receipts = receiptsBytes === undefined ? [] : (RLP.decode(receiptsBytes) as Uint8Array[])
    return { number, hash, serialized, senders, txHashes, receipts }
  }

  /** Only a stored block's RLP (the L1 poster's batches): the rest of its record is not decoded. */
  getBlockRlp(number: bigint): Uint8Array | undefined {
    const bytes = this.staticRecord(this.t.blocks, this.blockFile, number)
    return bytes === undefined ? undefined : rlpListString(bytes, 0)
  }

  /**
   * Only a stored block's hash: what BLOCKHASH, the parallel executor's 256 ancestors of every
   * block and block filters read. It is kept after the block record's pointer, so none reads the
   * record (`getBinaryFast`'s buffer is lmdb-js' own, good until the next read: the hash is copied).
   */
  getBlockHash(number: bigint): Uint8Array | undefined {
    const bytes = this.t.blocks.getBinaryFast(numberKey(number))
    return bytes === undefined ? undefined : new Uint8Array(bytes.subarray(POINTER_BYTES))
  }

  getBlockNumber(hash: Uint8Array): bigint | undefined {
    const bytes = this.t.blockHashes.getBinary(hash)
    return bytes === undefined ? undefined : readNumberKey(bytes)
  }

  /**
   * Where the transactions whose hash begins as `txHash` does are: almost always one at most;
   * the caller keeps the one whose transaction has the hash (`tx-index.ts`).
   */
  getTxLocations(txHash: Uint8Array): TxLocation[] {
    return this.txIndex.locate(txHash)
  }

  /** The transaction index's runs and entries (`tx-index.ts`). */
  txIndexStats(): ReturnType<TxIndex['stats']> {
    return this.txIndex.stats()
  }

  /**
   * The transaction index, opened at first use (execution and commitment workers open the store
   * but never look a transaction up): the runs its manifest lists, then the blocks after them
   * indexed again from their records.
   */
  private get txIndex(): TxIndex {
    if (this.openTxIndex === undefined) {
      const index = TxIndex.open(join(this.path, 'txindex'), this.getMeta(metaKeys.txIndex), (manifest) => this.putMeta(metaKeys.txIndex, manifest), this.txIndexOptions)
      const head = this.getHead() ?? -1n
      for (let n = index.durableTo + 1n; n <= head; n++) index.add(n, this.getBlock(n)!.txHashes)
      this.openTxIndex = index
    }
    return this.openTxIndex
  }

  /** The state delta block `number` made (`state/delta-codec.ts`), or undefined. */
  getStateDelta(number: bigint): StateDelta | undefined {
    const bytes = this.getStateDeltaEncoding(number)
    return bytes === undefined ? undefined : decodeStateDelta(bytes)
  }

  /** The same delta as stored: its `encodeStateDelta` bytes, not decoded. */
  getStateDeltaEncoding(number: bigint): Uint8Array | undefined {
    return this.staticRecord(this.t.stateDeltas, this.blockFile, number)
  }

  // ---- commitment ----

  /** A stored trie node by hash (MPT node or binary Merkle node; `owner`: a storage trie's account, keccak(address)), or undefined. */
  loadNode(hash: Uint8Array, owner?: Uint8Array): Uint8Array | undefined {
    const stored = this.t.trieNodes.getBinary(trieNodeKey(hash, owner))
    return stored?.subarray(0, stored.length - 8)
  }

  /**
   * Store the trie nodes block `block` made, and the keys of the stored nodes that left the tries
   * in it (`trieNodeKey`), as commitment worker `writer`'s entry in `trie_stale`; resolves once
   * durable. They need no transaction of their own — a node written again is the same node, and
   * the block's commitment is recorded only after — so lmdb-js batches the puts of many blocks
   * (and threads) into one commit while the previous one is being flushed.
   */
  async putTrieNodes(block: bigint, nodes: readonly TrieNodeWrite[], stale: readonly Uint8Array[], writer: number): Promise<void> {
    let last: Promise<boolean> | undefined
    for (const [hash, enc, owner] of nodes) last = this.t.trieNodes.put(trieNodeKey(hash, owner), this.slab.withBlock(enc, block))
    if (stale.length > 0) last = this.t.trieStale.put(staleKey(block, writer), encodeKeys(stale))
    await last
  }

  /**
   * Delete the trie nodes that left the tries in blocks up to `through`, from the `trie_stale`
   * entries of the writers ≡ `writer` (mod `writers`): each unless it was written again at or
   * after the block it left in (it is in a trie again). Resolves with the number deleted.
   */
  async pruneTrieNodes(through: bigint, writer: number, writers: number): Promise<number> {
    return this.env.transaction(() => {
      const entries = [...this.t.trieStale.getRange({ end: numberKey(through + 1n) })]
      let deleted = 0
      for (const { key, value } of entries) {
        const at = readNumberKey(key.subarray(0, 8))
        if (((key[8]! << 8) | key[9]!) % writers !== writer) continue
        for (const nodeKey of decodeKeys(value)) {
          const stored = this.t.trieNodes.getBinary(nodeKey)
          if (stored !== undefined && writtenAt(stored) < at) {
            this.t.trieNodes.removeSync(nodeKey)
            deleted++
          }
        }
        this.t.trieStale.removeSync(key)
      }
      return deleted
    })
  }

  /** Entries in `trie_stale` and nodes in `trie_nodes` (diagnostics, tests). */
  trieNodeCounts(): { nodes: number; staleEntries: number } {
    return { nodes: this.t.trieNodes.getCount(), staleEntries: this.t.trieStale.getCount() }
  }

  /** What block `number` read (`state/read-set.ts` encoding), stored with the block. */
  getReadSet(number: bigint): Uint8Array | undefined {
    return this.staticRecord(this.t.readSets, this.blockFile, number)
  }

  /** Block `number`'s witness (binary form), once its commitment is recorded. */
  getWitness(number: bigint): Uint8Array | undefined {
    return this.staticRecord(this.t.witnesses, this.witnessFile, number)
  }

  /** The exact post-state root of block `number`, once computed and stored. */
  getStateRoot(number: bigint): Uint8Array | undefined {
    return this.t.stateRoots.getBinary(numberKey(number))
  }

  /** The last block whose commitment is durable, and its root. */
  getCommitmentHead(): { number: bigint; root: Uint8Array } | undefined {
    const head = this.getMeta(metaKeys.commitmentHead)
    if (head === undefined) return undefined
    const number = readNumberKey(head)
    const root = this.getStateRoot(number)
    if (root === undefined) throw new MosaicError('STORE_CORRUPT', `the commitment head ${number} has no recorded root`)
    return { number, root }
  }

  /**
   * Record the commitments of consecutive blocks in one transaction: each block's root and
   * aggregate nodes (the `mpt` root node or `sharded` binary Merkle pages), and the commitment
   * head = the last one. The sub-tries' own nodes were stored before.
   */
  async writeCommitments(blocks: readonly CommitmentRecord[]): Promise<void> {
    if (blocks.length === 0) return
    this.repairStaticFiles()
    const witnesses = blocks.filter((b) => b.witness !== undefined)
    const pointers = this.witnessFile.append(witnesses.map((b) => b.witness!))
    const witnessPointer = new Map(witnesses.map((b, i) => [b.number, pointers[i]!]))
    let events: BlockEvent[] = []
    await this.inCallOrder(witnesses.length > 0 ? [this.witnessFile] : [], () => this.env.transaction(() => {
      for (const { number, root, nodes, stale } of blocks) {
        for (const [hash, enc] of nodes) this.t.trieNodes.putSync(hash, this.slab.withBlock(enc, number))
        if (stale !== undefined && stale.length > 0) this.t.trieStale.putSync(staleKey(number, AGGREGATE_WRITER), encodeKeys(stale))
        this.t.stateRoots.putSync(numberKey(number), root)
        const witness = witnessPointer.get(number)
        if (witness !== undefined) this.t.witnesses.putSync(numberKey(number), witness)
      }
      this.t.meta.putSync(new TextEncoder().encode(metaKeys.commitmentHead), numberKey(blocks[blocks.length - 1]!.number))
      events = this.appendBlockEvents(blocks.map(({ number, root }) => ({ block: number, status: 'rooted', data: { stateRoot: bytesToHex(root) } })))
    }))
    this.onBlockEvents?.(events)
  }

  /** Record a meta value in its own transaction. */
  async putMeta(key: string, value: Uint8Array): Promise<void> {
    await this.t.meta.put(new TextEncoder().encode(key), value)
  }

  /**
   * Write a block, its receipts and indexes, the state changes it made, and move the head to it,
   * in one LMDB transaction. Resolves once the transaction is committed to disk.
   */
  async writeBlock(block: StoredBlock, delta: StateDelta, options: { readonly meta?: Record<string, Uint8Array>; readonly readSet?: Uint8Array } = {}): Promise<void> {
    // Its change set is read from the flat state before its transaction: the parent's must be in.
    if (this.writingBlock) throw new Error(`LmdbStore.writeBlock(${block.number}): the previous block's write has not finished (one at a time)`)
    this.writingBlock = true
    try {
      await this.writeBlockRecords(block, delta, options)
    } finally {
      this.writingBlock = false
    }
  }

  private async writeBlockRecords(block: StoredBlock, delta: StateDelta, options: { readonly meta?: Record<string, Uint8Array>; readonly readSet?: Uint8Array }): Promise<void> {
    const num = numberKey(block.number)
    const history = block.number > 0n && this.historyBlocks > 0
    // The large records go to the static files first, durable before the pointers that name them.
    this.repairStaticFiles()
    const changes = history ? this.collectChangeSet(delta) : undefined
    const changesPointer = changes === undefined || changes.accounts.length + changes.storage.length === 0 ? undefined : this.changeSetFiles.append(block.number, encodeChangeSet(changes))
    const [blockRecord, receipts, stateDelta, readSet] = this.blockFile.append([
      rlpEncode([block.serialized, block.senders, block.txHashes, block.hash]),
      rlpEncode(block.receipts),
      encodeStateDelta(delta),
      ...(options.readSet === undefined ? [] : [options.readSet]),
    ])
    let events: BlockEvent[] = []
    let pruned = false
    await this.inCallOrder(changesPointer === undefined ? [this.blockFile] : [this.blockFile, this.changeSetFiles], () => this.env.transaction(() => {
      const blockPointer = new Uint8Array(POINTER_BYTES + block.hash.length)
      blockPointer.set(blockRecord!, 0)
      blockPointer.set(block.hash, POINTER_BYTES)
      this.t.blocks.putSync(num, blockPointer)
      this.t.receipts.putSync(num, receipts!)
      this.t.blockHashes.putSync(block.hash, num)
      if (changesPointer !== undefined) this.recordChangeSet(block.number, changes!, changesPointer)
      this.writeStateDelta(delta)
      pruned = this.advanceHistory(block.number, history)
      events = this.appendBlockEvents([{ block: block.number, status: 'executed', data: {} }])
      this.t.stateDeltas.putSync(num, stateDelta!)
      if (readSet !== undefined) this.t.readSets.putSync(num, readSet)
      const encoder = new TextEncoder()
      this.t.meta.putSync(encoder.encode(metaKeys.head), num)
      this.t.meta.putSync(encoder.encode(metaKeys.schemaVersion), numberKey(SCHEMA_VERSION))
      for (const [key, value] of Object.entries(options.meta ?? {})) this.t.meta.putSync(encoder.encode(key), value)
    }))
    void Promise.resolve(this.env.flushed).then(() => {
      if (block.number > this.flushedHead) this.flushedHead = block.number
    })
    // Committed: its transactions can be found (the chain's head moves only after this).
    this.txIndex.add(block.number, block.txHashes)
    // The segment files whose blocks all left the window go once their pointers are gone.
    if (pruned) this.changeSetFiles.deleteBefore(this.oldestChangeSet() ?? block.number + 1n)
    this.indexHistoryWhenDue()
    this.onBlockEvents?.(events)
  }

  /** Apply a delta inside the current write transaction. */
  private writeStateDelta(delta: StateDelta): void {
    for (const address of delta.storageCleared) {
      const keys = [...this.t.storage.getKeys({ start: unprefixedHexToBytes(address), end: storageEnd(address) })]
      for (const key of keys) this.t.storage.removeSync(key)
    }
    for (const [address, record] of delta.accounts) {
      const key = unprefixedHexToBytes(address)
      if (record === null) this.t.accounts.removeSync(key)
      else this.t.accounts.putSync(key, this.slab.place(encodeAccountRecord(record)))
    }
    for (const [address, slots] of delta.storage) {
      const addressBytes = unprefixedHexToBytes(address)
      for (const [slot, value] of slots) {
        const key = storageKey(addressBytes, unprefixedHexToBytes(slot))
        if (value.length === 0) this.t.storage.removeSync(key)
        else this.t.storage.putSync(key, this.slab.place(value))
      }
    }
    for (const [hash, code] of delta.code) this.t.code.putSync(unprefixedHexToBytes(hash), code)
  }

  // ---- mini-batches of the open block (preconfirmations, `sequencer/preconfirmations.ts`) ----

  /**
   * Store mini-batch `index` of block `block`; resolves once its transaction is committed (in
   * the mini-batches' own environment). A block's first also drops the mini-batches of blocks
   * whose write is flushed, in the same transaction rather than one more commit per block.
   */
  async writeMiniBatch(block: bigint, index: number, record: Uint8Array): Promise<void> {
    const key = concatBytes(numberKey(block), miniBatchIndexKey(index))
    const flushed = this.flushedHead < block ? this.flushedHead : block - 1n
    await this.miniEnv.transaction(() => {
      if (index === 0) this.removeMiniBatchesBelow(flushed + 1n)
      this.miniBatches.putSync(key, record)
    })
  }

  private removeMiniBatchesBelow(block: bigint): void {
    for (const key of [...this.miniBatches.getKeys({ end: numberKey(block) })].map((k) => (k as Uint8Array).slice())) this.miniBatches.removeSync(key)
  }

  /** Every stored mini-batch, by block then index. */
  readMiniBatches(): { block: bigint; index: number; record: Uint8Array }[] {
    const out: { block: bigint; index: number; record: Uint8Array }[] = []
    for (const { key, value } of this.miniBatches.getRange({})) {
      const k = key as Uint8Array
      out.push({ block: readNumberKey(k.subarray(0, 8)), index: new DataView(k.buffer, k.byteOffset + 8, 4).getUint32(0), record: Uint8Array.from(value as Uint8Array) })
    }
    return out
  }

  /** Drop the mini-batches of every block up to `block` (sealed and durable as blocks) whose write is flushed. */
  async dropMiniBatches(block: bigint): Promise<void> {
    const flushed = this.flushedHead < block ? this.flushedHead : block
    await this.miniEnv.transaction(() => this.removeMiniBatchesBelow(flushed + 1n))
  }

  /**
   * Mini-batches a data dir of an earlier version kept in the chain's environment move to their
   * own, copied before they are removed (a crash in between copies them again, under the same keys).
   */
  private moveMiniBatchesOutOfChain(): void {
    const legacy = [...this.t.miniBatches.getRange({})].map(({ key, value }) => [(key as Uint8Array).slice(), (value as Uint8Array).slice()] as const)
    if (legacy.length === 0) return
    this.miniEnv.transactionSync(() => {
      for (const [key, value] of legacy) this.miniBatches.putSync(key, value)
    })
    this.env.transactionSync(() => {
      for (const [key] of legacy) this.t.miniBatches.removeSync(key)
    })
  }
}

function miniBatchIndexKey(index: number): Uint8Array {
  const key = new Uint8Array(4)
  new DataView(key.buffer).setUint32(0, index)
  return key
}
