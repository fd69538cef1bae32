/**
 * The readers a parallel worker puts under a transaction's state manager:
 *
 *   state manager → `FeeRecipientReads` → the chunk's overlay (earlier transactions of the chunk)
 *                 → `RecordingReader` → committed state
 *
 * `RecordingReader` records every key a transaction reads from committed state — its read set
 * for validation. What earlier transactions of the same chunk wrote answers first and is not
 * recorded: they commit first, and validate their own reads.
 */
import type { AccountRecord, StateReader } from '../../state/types.ts'
import { accountKey, slotKey } from './protocol.ts'

export class RecordingReader implements StateReader {
  readonly reads = new Set<string>()

  constructor(private readonly inner: StateReader) {}

  getAccount(address: string): AccountRecord | undefined {
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

/**
 * Counts a transaction's reads of the fee recipient's account wherever they are answered — the
 * chunk's overlay too — and how many came before its top-level message ended (`endMessage`):
 * those are the transaction's own (its checks, its EVM code), the rest the fee payment's. The
 * state manager keeps no read cache, so the first contact with the account, read or write, reads
 * it through here.
 */
export class FeeRecipientReads implements StateReader {
  reads = 0
  /** `reads` when the last message ended (the top-level one, once it has); undefined until one does. */
  readsBeforeFee: number | undefined

  constructor(
    private readonly inner: StateReader,
    private readonly coinbase: string,
  ) {}

  /** A message of the transaction ended; after the top-level one, reads are the fee payment's. */
  endMessage(): void {
    this.readsBeforeFee = this.reads
  }

  getAccount(address: string): AccountRecord | undefined {
    if (address === this.coinbase) this.reads++
    return this.inner.getAccount(address)
  }

  getStorage(address: string, slot: string): Uint8Array {
    return this.inner.getStorage(address, slot)
  }

  getCode(codeHash: string): Uint8Array | undefined {
    return this.inner.getCode(codeHash)
  }
}
