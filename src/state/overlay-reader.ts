/**
 * A `StateReader` of a delta laid over another reader: what committed state looks like after the
 * delta's writes (used by parallel workers for the transactions before this one in their chunk).
 */
import { createStateDelta, type AccountRecord, type StateDelta, type StateReader } from './types.ts'

const EMPTY = new Uint8Array(0)

export class OverlayReader implements StateReader {
  delta: StateDelta = createStateDelta()

  constructor(public inner: StateReader) {}

  getAccount(address: string): AccountRecord | undefined {
    const written = this.delta.accounts.get(address)
    if (written !== undefined) return written ?? undefined
    return this.inner.getAccount(address)
  }

  getStorage(address: string, slot: string): Uint8Array {
    const written = this.delta.storage.get(address)?.get(slot)
    if (written !== undefined) return written
    if (this.delta.storageCleared.has(address)) return EMPTY
    return this.inner.getStorage(address, slot)
  }

  getCode(codeHash: string): Uint8Array | undefined {
    return this.delta.code.get(codeHash) ?? this.inner.getCode(codeHash)
  }
}
