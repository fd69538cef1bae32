/**
 * The keys a block read from committed (pre-block) state: what its witness must prove besides
 * what it wrote (`witness/`). Recorded by the executors as they read.
 */
import type { AccountRecord, StateReader } from './types.ts'

export type ReadSet = {
  /** Accounts read (lowercase hex, no 0x). */
  readonly accounts: Set<string>
  /** Slots read, per account (64 hex chars). */
  readonly storage: Map<string, Set<string>>
  /** Block numbers BLOCKHASH looked up. */
  readonly blockNumbers: Set<bigint>
}

export function createReadSet(): ReadSet {
  return { accounts: new Set(), storage: new Map(), blockNumbers: new Set() }
}

export function addStorageRead(reads: ReadSet, address: string, slot: string): void {
  let slots = reads.storage.get(address)
  if (slots === undefined) reads.storage.set(address, (slots = new Set()))
  slots.add(slot)
}

/** `into` ∪= `from`. */
export function mergeReadSet(into: ReadSet, from: ReadSet): void {
  for (const address of from.accounts) into.accounts.add(address)
  for (const [address, slots] of from.storage) for (const slot of slots) addStorageRead(into, address, slot)
  for (const n of from.blockNumbers) into.blockNumbers.add(n)
}

/** A `StateReader` that passes reads through and records their keys. */
export class ReadSetRecorder implements StateReader {
  constructor(
    private readonly inner: StateReader,
    readonly reads: ReadSet,
  ) {}

  getAccount(address: string): AccountRecord | undefined {
    this.reads.accounts.add(address)
    return this.inner.getAccount(address)
  }

  getStorage(address: string, slot: string): Uint8Array {
    addStorageRead(this.reads, address, slot)
    return this.inner.getStorage(address, slot)
  }

  getCode(codeHash: string): Uint8Array | undefined {
    // Code is found through an account, which is recorded; the witness carries the code of
    // every account read that has any.
    return this.inner.getCode(codeHash)
  }
}
