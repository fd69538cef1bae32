/**
 * The transaction index — a transaction's hash to its block and position — as a log-structured
 * merge tree of sorted runs in files under `DATA_DIR/txindex/` (geth keeps it in an LSM store too).
 *
 * Why not an LMDB table: transaction hashes are random, so each block's inserts touch leaf pages
 * all over the table, and every LMDB page touched stays mapped in the process: under load the
 * node's resident memory grew with the table, ~73 bytes per transaction (bench:soak). Here the
 * latest transactions are in memory; every `FLUSH_ENTRIES` of them are written, sorted, as a run;
 * `FANOUT` runs of one level are merged into one of the next, streaming, so a level holds at most
 * that many runs and a lookup reads at most one span of `FENCE_ENTRIES` entries per run, with
 * `pread`: the pages stay in the kernel's page cache, outside the process.
 *
 * An entry is the hash's first 8 bytes ‖ block (5, BE) ‖ index in the block (3, BE): 16 bytes.
 * A lookup returns every location whose transaction's hash begins with those 8 bytes; the caller
 * keeps the one whose transaction has the hash (two transactions sharing 8 bytes are rare, and
 * never confused). A run file is its entries in byte order, then a footer: the first 8 bytes of
 * every `FENCE_ENTRIES`-th entry (8 each), the entry count (8), the fence count (4), entries per
 * fence (4), `MAGIC` (4).
 *
 * Durability: runs are written to a temporary name, synced, renamed, and then listed in the
 * manifest (`meta.tx_index`: RLP([indexed to, next run number, [[level, number, entries]…]]),
 * committed through `commitManifest`); files the manifest does not list are deleted at open. The
 * blocks after `indexed to` are indexed again from their records at open (`FLUSH_ENTRIES`
 * transactions at most, plus a block).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from 'node:fs'
import { open as openFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt } from '@ethereumjs/util'
import { rlpEncode } from '../utils/rlp.ts'

const ENTRY_BYTES = 16
/** Transactions held in memory before they are written as a run. */
const FLUSH_ENTRIES = 32_768
/** Runs of one level merged into one of the next. */
const FANOUT = 4
/** Entries per fence: a lookup reads at most this many entries (64 KB) of a run, rarely twice. */
const FENCE_ENTRIES = 4_096
const FOOTER_TRAILER_BYTES = 20
const MAGIC = 0x4d545849 // "MTXI"
/** Bytes read or written at a time while merging: the main thread merges ~16k entries between reads. */
const MERGE_CHUNK_BYTES = 256 * 1024
/** After a failed flush or merge, the wait before the next try. */
const RETRY_MS = 10_000
/** The largest index in a block an entry holds (3 bytes). */
const MAX_INDEX = 0xffffff

export type TxLocation = { readonly blockNumber: bigint; readonly index: number }

export type TxIndexOptions = {
  /** Transactions in memory before a run is written (`FLUSH_ENTRIES`); tests lower it. */
  readonly flushEntries?: number
  /** Entries per fence (`FENCE_ENTRIES`); tests lower it. */
  readonly fenceEntries?: number
}

type RunInfo = { readonly level: number; readonly number: number; readonly entries: number }

/** A run on disk: its file, open for `pread`, and its fences. */
class Run {
  private constructor(
    readonly info: RunInfo,
    readonly path: string,
    private fd: number | undefined,
    /** The first 8 bytes of every `fenceEntries`-th entry, as big-endian numbers. */
    private readonly fences: BigUint64Array,
    private readonly fenceEntries: number,
  ) {}

  static open(path: string, info: RunInfo): Run {
    const fd = openSync(path, 'r')
    try {
      const size = statSync(path).size
      const trailer = readAt(fd, size - FOOTER_TRAILER_BYTES, FOOTER_TRAILER_BYTES)
      const view = new DataView(trailer.buffer)
      const entries = Number(view.getBigUint64(0))
      const fenceCount = view.getUint32(8)
      const fenceEntries = view.getUint32(12)
      if (view.getUint32(16) !== MAGIC || fenceEntries === 0 || entries !== info.entries || size !== entries * ENTRY_BYTES + fenceCount * 8 + FOOTER_TRAILER_BYTES) {
        throw new Error(`${path} is not the run of ${info.entries} transactions the index lists: the data dir is damaged`)
      }
      const fenceBytes = readAt(fd, entries * ENTRY_BYTES, fenceCount * 8)
      const fences = new BigUint64Array(fenceCount)
      const fenceView = new DataView(fenceBytes.buffer)
      for (let i = 0; i < fenceCount; i++) fences[i] = fenceView.getBigUint64(i * 8)
      return new Run(info, path, fd, fences, fenceEntries)
    } catch (error) {
      closeSync(fd)
      throw error
    }
  }

  /** The entries whose first 8 bytes are `prefix`. */
  find(prefix: bigint, out: TxLocation[]): void {
    const fences = this.fences
    // The span of fences that can hold the prefix: from the last fence below it to the first above.
    let low = 0
    let high = fences.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if (fences[middle]! < prefix) low = middle + 1
      else high = middle
    }
    const first = Math.max(0, low - 1)
    let last = low
    while (last < fences.length && fences[last]! <= prefix) last++
    const from = first * this.fenceEntries
    const to = Math.min(this.info.entries, last * this.fenceEntries)
    if (to <= from) return
    const bytes = readAt(this.fd!, from * ENTRY_BYTES, (to - from) * ENTRY_BYTES)
    const view = new DataView(bytes.buffer)
    for (let i = 0; i < to - from; i++) {
      const entryPrefix = view.getBigUint64(i * ENTRY_BYTES)
      if (entryPrefix === prefix) out.push(decodeLocation(bytes.subarray(i * ENTRY_BYTES + 8, (i + 1) * ENTRY_BYTES)))
      else if (entryPrefix > prefix) return
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let got = 0; got < length; ) {
    const n = readSync(fd, out, got, length - got, position + got)
    if (n === 0) throw new Error(`a transaction index run ends before byte ${position + length}: the data dir is damaged`)
    got += n
  }
  return out
}

function encodeLocation(block: bigint, index: number, out: Uint8Array, offset: number): void {
  if (block >= 1n << 40n || index > MAX_INDEX) throw new Error(`transaction ${index} of block ${block} does not fit the transaction index (block < 2^40, index < 2^24)`)
  const high = Number(block >> 8n)
  out[offset] = high >>> 24
  out[offset + 1] = (high >>> 16) & 0xff
  out[offset + 2] = (high >>> 8) & 0xff
  out[offset + 3] = high & 0xff
  out[offset + 4] = Number(block & 0xffn)
  out[offset + 5] = index >>> 16
  out[offset + 6] = (index >>> 8) & 0xff
  out[offset + 7] = index & 0xff
}

function decodeLocation(bytes: Uint8Array): TxLocation {
  let block = 0n
  for (let i = 0; i < 5; i++) block = (block << 8n) | BigInt(bytes[i]!)
  return { blockNumber: block, index: (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]! }
}

/** Byte order of two 16-byte entries. */
function compareEntries(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): number {
  for (let i = 0; i < ENTRY_BYTES; i++) {
    const d = a[aOffset + i]! - b[bOffset + i]!
    if (d !== 0) return d
  }
  return 0
}

/** Writes a run's entries, in order, and its footer; the file appears under `path` once complete and synced. */
class RunWriter {
  private readonly buffer = new Uint8Array(MERGE_CHUNK_BYTES)
  private used = 0
  private entries = 0
  private readonly fences: bigint[] = []

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    private readonly fenceEntries: number,
  ) {}

  static async create(path: string, fenceEntries: number): Promise<RunWriter> {
    return new RunWriter(await openFile(`${path}.tmp`, 'w'), path, fenceEntries)
  }

  /** Add an entry; returns whether the buffer is full (then `drain` before the next). */
  add(bytes: Uint8Array, offset: number): boolean {
    if (this.entries % this.fenceEntries === 0) this.fences.push(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0))
    this.buffer.set(bytes.subarray(offset, offset + ENTRY_BYTES), this.used)
    this.used += ENTRY_BYTES
    this.entries++
    return this.used === this.buffer.length
  }

  async drain(): Promise<void> {
    for (let written = 0; written < this.used; ) written += (await this.file.write(this.buffer, written, this.used - written)).bytesWritten
    this.used = 0
  }

  /** Footer, sync, rename: the run is complete under its name. */
  async finish(): Promise<number> {
    await this.drain()
    const footer = new Uint8Array(this.fences.length * 8 + FOOTER_TRAILER_BYTES)
    const view = new DataView(footer.buffer)
    this.fences.forEach((fence, i) => view.setBigUint64(i * 8, fence))
    view.setBigUint64(this.fences.length * 8, BigInt(this.entries))
    view.setUint32(this.fences.length * 8 + 8, this.fences.length)
    view.setUint32(this.fences.length * 8 + 12, this.fenceEntries)
    view.setUint32(this.fences.length * 8 + 16, MAGIC)
    for (let written = 0; written < footer.length; ) written += (await this.file.write(footer, written, footer.length - written)).bytesWritten
    await this.file.sync()
    await this.file.close()
    renameSync(`${this.path}.tmp`, this.path)
    await syncDir(dirname(this.path))
    return this.entries
  }

  async abandon(): Promise<void> {
    await this.file.close().catch(() => undefined)
    rmSync(`${this.path}.tmp`, { force: true })
  }
}

/** Reads a run's entries in order, a chunk at a time: `chunk` at `offset` is the current entry. */
class RunReader {
  chunk = new Uint8Array(0)
  offset = 0
  private read = 0

  constructor(
    private readonly file: FileHandle,
    private readonly entries: number,
  ) {}

  /** Whether the current chunk is used up while the run has more. */
  get needsRead(): boolean {
    return this.offset >= this.chunk.length && this.read < this.entries
  }

  get done(): boolean {
    return this.offset >= this.chunk.length && this.read >= this.entries
  }

  /** Read the next chunk. */
  async fill(): Promise<void> {
    const count = Math.min(this.entries - this.read, MERGE_CHUNK_BYTES / ENTRY_BYTES)
    const chunk = new Uint8Array(count * ENTRY_BYTES)
    for (let got = 0; got < chunk.length; ) {
      const { bytesRead } = await this.file.read(chunk, got, chunk.length - got, this.read * ENTRY_BYTES + got)
      if (bytesRead === 0) throw new Error('a transaction index run ended early while merging')
      got += bytesRead
    }
    this.read += count
    this.chunk = chunk
    this.offset = 0
  }
}

export class TxIndex {
  /** The latest transactions, not yet in a run: the hash's first 8 bytes (hex) → packed locations (`block * 2^24 + index`). */
  private recent = new Map<string, number[]>()
  private recentEntries = 0
  /** The entries being written as a run, still served from memory until the run is listed. */
  private flushing: Map<string, number[]> | undefined
  /** The last block whose transactions are in `recent` (or on disk). */
  private addedTo: bigint
  private runs: Run[]
  private nextRun: number
  /** The flush or merge under way, if any: one at a time. */
  private work: Promise<void> | undefined
  /** After a flush or merge failed: when to try again (`RETRY_MS` later). */
  private retryAt = 0
  private readonly flushEntries: number
  private readonly fenceEntries: number

  private constructor(
    private readonly dir: string,
    private indexedTo: bigint,
    runs: Run[],
    nextRun: number,
    private readonly commitManifest: (manifest: Uint8Array) => Promise<void>,
    options: TxIndexOptions,
  ) {
    this.addedTo = indexedTo
    this.runs = runs
    this.nextRun = nextRun
    this.flushEntries = options.flushEntries ?? FLUSH_ENTRIES
    this.fenceEntries = options.fenceEntries ?? FENCE_ENTRIES
  }

  /**
   * Open the index in `dir` as `manifest` lists it (undefined: empty); files it does not list are
   * deleted. The caller then adds the blocks after `indexedTo` again (`add`).
   */
  static open(dir: string, manifest: Uint8Array | undefined, commitManifest: (manifest: Uint8Array) => Promise<void>, options: TxIndexOptions = {}): TxIndex {
    mkdirSync(dir, { recursive: true })
    let indexedTo = -1n
    let nextRun = 0
    const infos: RunInfo[] = []
    if (manifest !== undefined) {
      const [to, next, list] = RLP.decode(manifest) as unknown as [Uint8Array, Uint8Array, Uint8Array[][]]
      indexedTo = bytesToBigInt(to) - 1n
      nextRun = Number(bytesToBigInt(next))
      for (const [level, number, entries] of list) infos.push({ level: Number(bytesToBigInt(level!)), number: Number(bytesToBigInt(number!)), entries: Number(bytesToBigInt(entries!)) })
    }
    const listed = new Set(infos.map((info) => runName(info)))
    for (const name of readdirSync(dir)) if (!listed.has(name)) rmSync(join(dir, name), { force: true })
    const runs: Run[] = []
    try {
      for (const info of infos) {
        const path = join(dir, runName(info))
        if (!existsSync(path)) throw new Error(`${path} is listed in the transaction index but missing: the data dir is damaged`)
        runs.push(Run.open(path, info))
      }
    } catch (error) {
      for (const run of runs) run.close()
      throw error
    }
    return new TxIndex(dir, indexedTo, runs, nextRun, commitManifest, options)
  }

  /** The last block whose transactions are in the runs on disk (-1 for none). */
  get durableTo(): bigint {
    return this.indexedTo
  }

  /** Index block `block`'s transactions, in block order; blocks come in order, each once. */
  add(block: bigint, hashes: readonly Uint8Array[]): void {
    if (block <= this.addedTo) return
    if (block >= 1n << 32n || hashes.length > MAX_INDEX) throw new Error(`block ${block} with ${hashes.length} transactions does not fit the transaction index`)
    const packed = Number(block) * 2 ** 24
    hashes.forEach((hash, index) => {
      const key = prefixHex(hash)
      const locations = this.recent.get(key)
      if (locations === undefined) this.recent.set(key, [packed + index])
      else locations.push(packed + index)
    })
    this.recentEntries += hashes.length
    this.addedTo = block
    if (this.recentEntries >= this.flushEntries && this.work === undefined && Date.now() >= this.retryAt) this.startWork(this.flush())
  }

  /** Every location of a transaction whose hash begins as `hash` does (almost always one at most). */
  locate(hash: Uint8Array): TxLocation[] {
    const out: TxLocation[] = []
    const key = prefixHex(hash)
    for (const memory of [this.recent, this.flushing]) {
      for (const packed of memory?.get(key) ?? []) out.push({ blockNumber: BigInt(Math.floor(packed / 2 ** 24)), index: packed % 2 ** 24 })
    }
    const prefix = new DataView(hash.buffer, hash.byteOffset, 8).getBigUint64(0)
    for (const run of this.runs) run.find(prefix, out)
    return out
  }

  /** Runs, entries on disk and in memory, bytes on disk. */
  stats(): { runs: number; entriesOnDisk: number; entriesInMemory: number; bytes: number } {
    let entries = 0
    let bytes = 0
    for (const run of this.runs) {
      entries += run.info.entries
      bytes += statSync(run.path).size
    }
    let inMemory = this.recentEntries
    for (const locations of this.flushing?.values() ?? []) inMemory += locations.length
    return { runs: this.runs.length, entriesOnDisk: entries, entriesInMemory: inMemory, bytes }
  }

  /** Resolves once the flush or merges under way are done. */
  async settled(): Promise<void> {
    while (this.work !== undefined) await this.work
  }

  async close(): Promise<void> {
    await this.settled()
    for (const run of this.runs) run.close()
    this.runs = []
  }

  private startWork(work: Promise<void>): void {
    this.work = work.then(
      () => {
        this.work = undefined
        // One merge at a time, until no level holds `FANOUT` runs.
        const level = this.levelToMerge()
        if (level !== undefined) this.startWork(this.merge(level))
        else if (this.recentEntries >= this.flushEntries) this.startWork(this.flush())
      },
      (error: Error) => {
        // A disk that cannot take the run: the entries stay in memory, tried again `RETRY_MS`
        // later (a disk that stays full stops block writes too).
        this.work = undefined
        this.retryAt = Date.now() + RETRY_MS
        console.error(`transaction index: ${error.message}; the latest transactions stay indexed in memory, tried again in ${RETRY_MS / 1000} s`)
      },
    )
  }

  /** Write the transactions in memory as a level-0 run. */
  private async flush(): Promise<void> {
    const flushing = this.recent
    const to = this.addedTo
    this.flushing = flushing
    this.recent = new Map()
    this.recentEntries = 0
    let count = 0
    for (const locations of flushing.values()) count += locations.length
    const entries = new Uint8Array(count * ENTRY_BYTES)
    // Sorted by the prefix's two 32-bit halves, then the location (numbers compare fast).
    const high = new Uint32Array(count)
    const low = new Uint32Array(count)
    const where = new Float64Array(count)
    const view = new DataView(entries.buffer)
    let n = 0
    for (const [key, locations] of flushing) {
      const h = parseInt(key.slice(0, 8), 16)
      const l = parseInt(key.slice(8), 16)
      for (const packed of locations) {
        ;[high[n], low[n], where[n]] = [h, l, packed]
        view.setUint32(n * ENTRY_BYTES, h)
        view.setUint32(n * ENTRY_BYTES + 4, l)
        encodeLocation(BigInt(Math.floor(packed / 2 ** 24)), packed % 2 ** 24, entries, n * ENTRY_BYTES + 8)
        n++
      }
    }
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => high[a]! - high[b]! || low[a]! - low[b]! || where[a]! - where[b]!)
    try {
      const info = { level: 0, number: this.nextRun++, entries: count }
      const writer = await RunWriter.create(join(this.dir, runName(info)), this.fenceEntries)
      try {
        for (let i = 0; i < order.length; i++) {
          if (writer.add(entries, order[i]! * ENTRY_BYTES)) await writer.drain()
        }
        await writer.finish()
      } catch (error) {
        await writer.abandon()
        throw error
      }
      await this.install([info], [], to)
    } catch (error) {
      // Back into memory, ahead of what came since.
      for (const [key, locations] of this.recent) flushing.set(key, [...(flushing.get(key) ?? []), ...locations])
      this.recentEntries += count
      this.recent = flushing
      throw error
    } finally {
      this.flushing = undefined
    }
  }

  private levelToMerge(): number | undefined {
    const counts = new Map<number, number>()
    for (const run of this.runs) counts.set(run.info.level, (counts.get(run.info.level) ?? 0) + 1)
    for (const [level, count] of [...counts].sort((a, b) => a[0] - b[0])) if (count >= FANOUT) return level
    return undefined
  }

  /** Merge the runs of `level` into one run of the next, streaming. */
  private async merge(level: number): Promise<void> {
    const inputs = this.runs.filter((run) => run.info.level === level)
    const files = await Promise.all(inputs.map((run) => openFile(run.path, 'r')))
    try {
      const readers = inputs.map((run, i) => new RunReader(files[i]!, run.info.entries))
      const info = { level: level + 1, number: this.nextRun++, entries: inputs.reduce((sum, run) => sum + run.info.entries, 0) }
      const writer = await RunWriter.create(join(this.dir, runName(info)), this.fenceEntries)
      try {
        for (;;) {
          // Synchronous between chunk reads and writes.
          for (const reader of readers) if (reader.needsRead) await reader.fill()
          let smallest: RunReader | undefined
          for (const reader of readers) {
            if (!reader.done && (smallest === undefined || compareEntries(reader.chunk, reader.offset, smallest.chunk, smallest.offset) < 0)) smallest = reader
          }
          if (smallest === undefined) break
          if (writer.add(smallest.chunk, smallest.offset)) await writer.drain()
          smallest.offset += ENTRY_BYTES
        }
        await writer.finish()
      } catch (error) {
        await writer.abandon()
        throw error
      }
      await this.install([info], inputs, this.indexedTo)
    } finally {
      await Promise.all(files.map((file) => file.close()))
    }
  }

  /** List `added` and drop `removed` in the manifest, then in memory, then delete what it no longer lists. */
  private async install(added: RunInfo[], removed: Run[], indexedTo: bigint): Promise<void> {
    const opened = added.map((info) => Run.open(join(this.dir, runName(info)), info))
    const runs = [...this.runs.filter((run) => !removed.includes(run)), ...opened]
    try {
      await this.commitManifest(
        rlpEncode([
          bigIntToUnpaddedBytes(indexedTo + 1n),
          bigIntToUnpaddedBytes(BigInt(this.nextRun)),
          runs.map(({ info }) => [bigIntToUnpaddedBytes(BigInt(info.level)), bigIntToUnpaddedBytes(BigInt(info.number)), bigIntToUnpaddedBytes(BigInt(info.entries))]),
        ]),
      )
    } catch (error) {
      for (const run of opened) run.close()
      throw error
    }
    this.runs = runs
    this.indexedTo = indexedTo
    for (const run of removed) {
      run.close()
      rmSync(run.path, { force: true })
    }
  }
}

function runName(info: RunInfo): string {
  return `L${info.level}-${info.number.toString().padStart(10, '0')}.run`
}

function prefixHex(hash: Uint8Array): string {
  let out = ''
  for (let i = 0; i < 8; i++) out += hash[i]!.toString(16).padStart(2, '0')
  return out
}

/** Make a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
