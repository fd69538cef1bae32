/**
 * An append-only file of records, read with `pread` (reth's static files): where the store keeps
 * the large records every block adds and nothing rewrites — block bodies, receipts, state deltas,
 * read sets and witnesses. LMDB keeps a 12-byte pointer per record (`encodePointer`).
 *
 * Why not LMDB: every page of an LMDB file that a read or a write touches is mapped into the
 * process and stays there, counted in its resident memory, for as long as the file is open. A
 * table appended at its end has each of its pages touched while it is the last one, so the whole
 * table ends up resident: under load the node's resident memory grew with its chain (bench:soak,
 * `RssFile`). Pages read here go through the kernel's page cache only, which is not the
 * process's memory and is given back under pressure.
 *
 * Durability: a record's bytes are written, then synced (`sync`), before the LMDB transaction
 * that records its pointer; after a crash the file may end in bytes no pointer names (an append
 * whose transaction never committed), and the writer cuts them off before it appends again
 * (`truncateTo`). Readers never write: commitment and execution workers open the store too.
 */
import { closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** offset (8, BE) ‖ length (4, BE). */
export const POINTER_BYTES = 12

export function encodePointer(offset: number, length: number): Uint8Array {
  const pointer = new Uint8Array(POINTER_BYTES)
  const view = new DataView(pointer.buffer)
  view.setBigUint64(0, BigInt(offset))
  view.setUint32(8, length)
  return pointer
}

export function decodePointer(pointer: Uint8Array): { offset: number; length: number } {
  if (pointer.length < POINTER_BYTES) throw new Error(`a static file pointer is ${POINTER_BYTES} bytes, got ${pointer.length}`)
  const view = new DataView(pointer.buffer, pointer.byteOffset, POINTER_BYTES)
  return { offset: Number(view.getBigUint64(0)), length: view.getUint32(8) }
}

export class StaticFile {
  private fd: number | undefined
  /** Bytes in the file, as this process appended them (undefined until opened). */
  private size: number | undefined

  constructor(readonly path: string) {}

  private open(): number {
    if (this.fd === undefined) {
      // 'a+': created when missing, read anywhere, every write at the end.
      this.fd = openSync(this.path, 'a+')
      this.size = fstatSync(this.fd).size
    }
    return this.fd
  }

  /** Cut the file to `size` bytes (what the store's pointers name): drops a torn append. */
  truncateTo(size: number): void {
    const fd = this.open()
    if (this.size! > size) {
      ftruncateSync(fd, size)
      this.size = size
    }
  }

  /** Append `records`, one after the other; returns a pointer to each. Not durable until `sync`. */
  append(records: readonly Uint8Array[]): Uint8Array[] {
    const fd = this.open()
    const pointers: Uint8Array[] = []
    for (const record of records) {
      pointers.push(encodePointer(this.size!, record.length))
      for (let written = 0; written < record.length; ) written += writeSync(fd, record, written, record.length - written)
      this.size! += record.length
    }
    return pointers
  }

  /** Resolves once every byte appended so far is on disk (`fdatasync`, off this thread). */
  sync(): Promise<void> {
    const fd = this.open()
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error === null ? resolve() : reject(error))))
  }

  /**
   * The record a pointer names. Throws if the file is shorter than the pointer says. With
   * `scratch` long enough, read into it and a view of it returned (valid until the next read into
   * it): no allocation for a record looked at and dropped.
   */
  read(pointer: Uint8Array, scratch?: Uint8Array): Uint8Array {
    const { offset, length } = decodePointer(pointer)
    const fd = this.open()
    const out = scratch !== undefined && scratch.length >= length ? scratch.subarray(0, length) : new Uint8Array(length)
    for (let got = 0; got < length; ) {
      const n = readSync(fd, out, got, length - got, offset + got)
      if (n === 0) throw new Error(`${this.path} ends before the record at ${offset} (${length} bytes): the data dir is damaged`)
      got += n
    }
    return out
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    this.size = undefined
  }
}

/**
 * Static files cut into segments of `segmentBlocks` blocks each, one file per segment
 * (`DIR/<first block>.dat`), for records kept only for a window of recent blocks (the change
 * sets, `HISTORY_BLOCKS`): the window moves by deleting whole files, as reth's static file
 * segments are. A pointer names a record within the segment of its block.
 */
export class SegmentedFiles {
  private readonly files = new Map<bigint, StaticFile>()
  /** Segments appended to since the last `sync`. */
  private readonly unsynced = new Set<StaticFile>()

  constructor(
    readonly dir: string,
    readonly segmentBlocks: bigint,
  ) {
    mkdirSync(dir, { recursive: true })
  }

  segmentOf(block: bigint): bigint {
    return block / this.segmentBlocks
  }

  private pathOf(segment: bigint): string {
    return join(this.dir, `${(segment * this.segmentBlocks).toString().padStart(12, '0')}.dat`)
  }

  private file(segment: bigint): StaticFile {
    let file = this.files.get(segment)
    if (file === undefined) {
      file = new StaticFile(this.pathOf(segment))
      this.files.set(segment, file)
    }
    return file
  }

  /** The segments on disk, in order. */
  private segmentsOnDisk(): bigint[] {
    return readdirSync(this.dir)
      .filter((name) => /^\d{12}\.dat$/.test(name))
      .map((name) => BigInt(name.slice(0, 12)) / this.segmentBlocks)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** The segments on disk, by the first block of each. */
  segments(): bigint[] {
    return this.segmentsOnDisk().map((segment) => segment * this.segmentBlocks)
  }

  /** Append block `block`'s record to its segment; returns its pointer. Not durable until `sync`. */
  append(block: bigint, record: Uint8Array): Uint8Array {
    const file = this.file(this.segmentOf(block))
    this.unsynced.add(file)
    return file.append([record])[0]!
  }

  /** Resolves once every record appended so far is on disk. */
  async sync(): Promise<void> {
    const files = [...this.unsynced]
    this.unsynced.clear()
    await Promise.all(files.map((file) => file.sync()))
  }

  /** Block `block`'s record (`StaticFile.read`); undefined when its segment was deleted (the window moved past it). */
  read(block: bigint, pointer: Uint8Array, scratch?: Uint8Array): Uint8Array | undefined {
    const segment = this.segmentOf(block)
    if (!this.files.has(segment) && !existsSync(this.pathOf(segment))) return undefined
    return this.file(segment).read(pointer, scratch)
  }

  /**
   * Before the first append: keep the segments from `oldest`'s to `last`'s (the blocks that have
   * a committed pointer), the last one cut to the end of `last`'s record; delete the rest — files
   * a crash left before their pointers committed, or after the window moved past them.
   */
  repair(kept: { readonly oldest: bigint; readonly last: bigint; readonly end: number } | undefined): void {
    for (const segment of this.segmentsOnDisk()) {
      if (kept === undefined || segment < this.segmentOf(kept.oldest) || segment > this.segmentOf(kept.last)) this.delete(segment)
      else if (segment === this.segmentOf(kept.last)) this.file(segment).truncateTo(kept.end)
    }
  }

  /** Delete the segments wholly before block `block`'s. */
  deleteBefore(block: bigint): void {
    const first = this.segmentOf(block)
    for (const segment of this.segmentsOnDisk()) if (segment < first) this.delete(segment)
  }

  private delete(segment: bigint): void {
    this.files.get(segment)?.close()
    this.files.delete(segment)
    this.unsynced.forEach((file) => file.path === this.pathOf(segment) && this.unsynced.delete(file))
    rmSync(this.pathOf(segment), { force: true })
  }

  /** Bytes on disk, all segments together. */
  bytes(): number {
    return this.segmentsOnDisk().reduce((sum, segment) => sum + statSync(this.pathOf(segment)).size, 0)
  }

  close(): void {
    for (const file of this.files.values()) file.close()
    this.files.clear()
    this.unsynced.clear()
  }
}
