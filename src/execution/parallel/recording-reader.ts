/**
 * A `StateReader` that records every key a transaction reads from committed state — its read set
 * for validation. The journaled state manager above it answers from its own overlay first, so
 * only reads of committed state reach this layer.
 */
import type { AccountRecord, StateReader } from '../../state/types.ts'
import { accountKey, slotKey } from './protocol.ts'

export class RecordingReader implements StateReader {
  readonly reads = new Set<string>()
  /** Reads of the fee recipient's account (see `worker.ts`: the fee payment's own read is exempt). */
  coinbaseReads = 0

  constructor(
    private readonly inner: StateReader,
    private readonly coinbase: string,
  ) {}

  getAccount(address: string): AccountRecord | undefined {
    if (address === this.coinbase) this.coinbaseReads++
    this.reads.add(accountKey(address))
    return this.inner.getAccount(address)
  }

  getStorage(address: string, slot: string): Uint8Array {
    this.reads.add(slotKey(address, slot))
    return this.inner.getStorage(address, slot)
  }

  getCode(codeHash: string): Uint8Array | undefined {
    // Code is addressed by its hash: it never changes, so reading it cannot conflict.
    return this.inner.getCode(codeHash)
  }
}
