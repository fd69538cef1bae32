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
import { closeSync, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'

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

  /** The record a pointer names. Throws if the file is shorter than the pointer says. */
  read(pointer: Uint8Array): Uint8Array {
    const { offset, length } = decodePointer(pointer)
    const fd = this.open()
    const out = new Uint8Array(length)
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
