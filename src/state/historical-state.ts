/**
 * Committed state as it was after an earlier block: each read finds the key's first change set
 * after that block in LMDB's history index, or the current value when nothing changed it since
 * (`storage/lmdb-store.ts`, `readAccountAt` / `readStorageAt`). Code is content-addressed and
 * never deleted, so it needs no history.
 */
import type { AccountRecord, StateReader } from './types.ts'

/** The history side of the store. */
export interface HistoryReader {
  readAccountAt(address: string, number: bigint): AccountRecord | undefined
  readStorageAt(address: string, slot: string, number: bigint): Uint8Array
  readCode(codeHash: string): Uint8Array | undefined
}

export class HistoricalState implements StateReader {
  constructor(
    private readonly history: HistoryReader,
    readonly number: bigint,
  ) {}

  getAccount(address: string): AccountRecord | undefined {
    return this.history.readAccountAt(address, this.number)
  }

  getStorage(address: string, slot: string): Uint8Array {
    return this.history.readStorageAt(address, slot, this.number)
  }

  getCode(codeHash: string): Uint8Array | undefined {
    return this.history.readCode(codeHash)
  }
}
