/**
 * The keys a block read from committed (pre-block) state: what its witness must prove besides
 * what it wrote (`witness/`). Recorded by the executors as they read.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt, unprefixedHexToBytes } from '@ethereumjs/util'
import type { AccountRecord, StateReader } from './types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'
import { rlpEncode } from '../utils/rlp.ts'

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

/** A `StateReader` that passes reads through and records their keys into `reads` (swappable per transaction). */
export class ReadSetRecorder implements StateReader {
  constructor(
    private readonly inner: StateReader,
    public reads: ReadSet,
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

/**
 * A read set and the hashes of the code it needs, as stored with each block so the block's
 * witness can be rebuilt when its commitment is recomputed after a crash:
 * RLP([[address…], [[address, [slot…]]…], [blockNumber…], [codeHash…]]).
 */
export function encodeReadSet(reads: ReadSet, codeHashes: readonly Uint8Array[]): Uint8Array {
  return rlpEncode([
    [...reads.accounts].map(unprefixedHexToBytes),
    [...reads.storage].map(([address, slots]) => [unprefixedHexToBytes(address), [...slots].map(unprefixedHexToBytes)]),
    [...reads.blockNumbers].map(bigIntToUnpaddedBytes),
    [...codeHashes],
  ])
}

export function decodeReadSet(bytes: Uint8Array): { reads: ReadSet; codeHashes: Uint8Array[] } {
  const [accounts, storage, numbers, codeHashes] = RLP.decode(bytes) as unknown as [Uint8Array[], [Uint8Array, Uint8Array[]][], Uint8Array[], Uint8Array[]]
  const reads = createReadSet()
  for (const address of accounts) reads.accounts.add(bytesToUnprefixedHex(address))
  for (const [address, slots] of storage) for (const slot of slots) addStorageRead(reads, bytesToUnprefixedHex(address), bytesToUnprefixedHex(slot))
  for (const n of numbers) reads.blockNumbers.add(bytesToBigInt(n))
  return { reads, codeHashes }
}
