/**
 * Committed flat state at the head block, memory first: every account, slot and code read is
 * answered from memory, falling back to the persistent backend (LMDB) once and remembered.
 * Blocks change it only through `apply(delta)`, after the same delta is durable on disk.
 *
 * What is remembered fits a byte budget (`STATE_CACHE_BYTES`), in two generations: entries read
 * or written go to the young one; when it holds half the budget it becomes the old one and the
 * previous old one is dropped. An entry found in the old generation moves back to the young one,
 * so what is used stays, and what was not used for a generation is read from LMDB's memory map
 * again when needed (~1 µs). Dropping is safe only for what the backend holds durably.
 */
import { KECCAK256_NULL_S } from '@ethereumjs/util'
import type { AccountRecord, StateDelta, StateReader } from './types.ts'

/** Where committed state lives on disk; `LmdbStore` implements it. */
export interface StateBackend {
  readAccount(address: string): AccountRecord | undefined
  readStorage(address: string, slot: string): Uint8Array | undefined
  readCode(codeHash: string): Uint8Array | undefined
}

export type FlatStateOptions = {
  /** Bytes of state kept in memory (estimated); unset: everything read stays. */
  readonly budget?: number | undefined
}

const EMPTY = new Uint8Array(0)
const EMPTY_CODE_HASH = KECCAK256_NULL_S.slice(2)

/**
 * Estimated heap bytes of one entry (key string, map entry, record or value and its buffer);
 * `bench:accounts` checks them against the heap.
 */
const ACCOUNT_BYTES = 220
const ACCOUNT_STORAGE_BYTES = 160
const SLOT_BYTES = 260
const CODE_BYTES = 200

class Generation {
  // null marks a key known to be absent, so a miss costs one LMDB read, not one per access.
  readonly accounts = new Map<string, AccountRecord | null>()
  readonly storage = new Map<string, Map<string, Uint8Array>>()
  readonly code = new Map<string, Uint8Array>()
  bytes = 0

  slotsOf(address: string): Map<string, Uint8Array> {
    let slots = this.storage.get(address)
    if (slots === undefined) {
      slots = new Map()
      this.storage.set(address, slots)
      this.bytes += ACCOUNT_STORAGE_BYTES
    }
    return slots
  }

  setAccount(address: string, record: AccountRecord | null): void {
    if (!this.accounts.has(address)) this.bytes += ACCOUNT_BYTES
    this.accounts.set(address, record)
  }

  setSlot(slots: Map<string, Uint8Array>, slot: string, value: Uint8Array): void {
    if (!slots.has(slot)) this.bytes += SLOT_BYTES + value.length
    slots.set(slot, value)
  }

  setCode(hash: string, code: Uint8Array): void {
    if (!this.code.has(hash)) this.bytes += CODE_BYTES + code.length
    this.code.set(hash, code)
  }
}

export class FlatState implements StateReader {
  private young = new Generation()
  private old = new Generation()
  /**
   * Accounts whose storage a block cleared (SELFDESTRUCT, CREATE over an account with storage)
   * since the last rotation: their cached slots are all the slots they have, so the backend is
   * not asked for the others.
   */
  private readonly cleared = new Set<string>()
  private readonly backend: StateBackend
  private readonly budget: number
  private dropped = 0

  constructor(backend: StateBackend, options: FlatStateOptions = {}) {
    this.backend = backend
    this.budget = options.budget ?? Number.POSITIVE_INFINITY
  }

  getAccount(address: string): AccountRecord | undefined {
    let record = this.young.accounts.get(address)
    if (record === undefined) {
      record = this.old.accounts.get(address)
      if (record === undefined) record = this.backend.readAccount(address) ?? null
      this.young.setAccount(address, record)
      this.maybeRotate()
    }
    return record ?? undefined
  }

  getStorage(address: string, slot: string): Uint8Array {
    const slots = this.young.slotsOf(address)
    let value = slots.get(slot)
    if (value === undefined) {
      value = this.old.storage.get(address)?.get(slot)
      if (value === undefined) value = this.cleared.has(address) ? EMPTY : (this.backend.readStorage(address, slot) ?? EMPTY)
      this.young.setSlot(slots, slot, value)
      this.maybeRotate()
    }
    return value
  }

  getCode(codeHash: string): Uint8Array | undefined {
    if (codeHash === EMPTY_CODE_HASH) return EMPTY
    let code = this.young.code.get(codeHash)
    if (code === undefined) {
      code = this.old.code.get(codeHash) ?? this.backend.readCode(codeHash)
      if (code !== undefined) {
        this.young.setCode(codeHash, code)
        this.maybeRotate()
      }
    }
    return code
  }

  /** Make a block's changes visible. Call only once the same delta is durable in the backend. */
  apply(delta: StateDelta): void {
    for (const address of delta.storageCleared) {
      // The old generation's slots are from before the clear: they must not answer again.
      this.old.storage.delete(address)
      this.young.storage.delete(address)
      this.young.slotsOf(address)
      this.cleared.add(address)
    }
    for (const [address, record] of delta.accounts) {
      this.young.setAccount(address, record)
      this.maybeRotate()
    }
    for (const [address, written] of delta.storage) {
      for (const [slot, value] of written) {
        this.young.setSlot(this.young.slotsOf(address), slot, value)
        this.maybeRotate()
      }
    }
    for (const [hash, code] of delta.code) {
      this.young.setCode(hash, code)
      this.maybeRotate()
    }
  }

  /**
   * Drop the old generation once the young one holds half the budget. Everything applied is
   * durable in the backend (`apply`'s contract), so the backend answers for what goes, cleared
   * storage included.
   */
  private maybeRotate(): void {
    if (this.young.bytes <= this.budget / 2) return
    this.dropped += this.old.accounts.size
    this.old = this.young
    this.young = new Generation()
    this.cleared.clear()
  }

  /** Forget everything held in memory: later reads go to the backend (a worker that fell behind it). */
  clear(): void {
    this.young = new Generation()
    this.old = new Generation()
    this.cleared.clear()
  }

  /** Estimated bytes held and the budget; accounts held, and accounts dropped so far (metrics). */
  memory(): { bytes: number; budget: number; accounts: number; droppedAccounts: number } {
    return {
      bytes: this.young.bytes + this.old.bytes,
      budget: this.budget,
      accounts: this.young.accounts.size + this.old.accounts.size,
      droppedAccounts: this.dropped,
    }
  }

  /** Number of accounts held in memory (metrics). */
  get cachedAccounts(): number {
    return this.young.accounts.size + this.old.accounts.size
  }
}
