/**
 * Committed flat state at the head block, memory first: every account, slot and code read is
 * answered from memory, falling back to the persistent backend (LMDB) once and remembered.
 * Blocks change it only through `apply(delta)`, after the same delta is durable on disk.
 */
import { KECCAK256_NULL_S } from '@ethereumjs/util'
import type { AccountRecord, StateDelta, StateReader } from './types.ts'

/** Where committed state lives on disk; `LmdbStore` implements it. */
export interface StateBackend {
  readAccount(address: string): AccountRecord | undefined
  readStorage(address: string, slot: string): Uint8Array | undefined
  readCode(codeHash: string): Uint8Array | undefined
}

const EMPTY = new Uint8Array(0)
const EMPTY_CODE_HASH = KECCAK256_NULL_S.slice(2)

export class FlatState implements StateReader {
  // null marks a key known to be absent, so a miss costs one LMDB read, not one per access.
  private readonly accounts = new Map<string, AccountRecord | null>()
  private readonly storage = new Map<string, Map<string, Uint8Array>>()
  /**
   * Accounts whose storage a block cleared (SELFDESTRUCT, CREATE over an account with storage):
   * their cached slots are all the slots they have. The backend may still hold the old ones — a
   * parallel worker applies a block's writes before the block is durable —, so it is not asked.
   */
  private readonly cleared = new Set<string>()
  private readonly code = new Map<string, Uint8Array>()
  private readonly backend: StateBackend

  constructor(backend: StateBackend) {
    this.backend = backend
  }

  getAccount(address: string): AccountRecord | undefined {
    let record = this.accounts.get(address)
    if (record === undefined) {
      record = this.backend.readAccount(address) ?? null
      this.accounts.set(address, record)
    }
    return record ?? undefined
  }

  getStorage(address: string, slot: string): Uint8Array {
    let slots = this.storage.get(address)
    if (slots === undefined) {
      slots = new Map()
      this.storage.set(address, slots)
    }
    let value = slots.get(slot)
    if (value === undefined) {
      value = this.cleared.has(address) ? EMPTY : (this.backend.readStorage(address, slot) ?? EMPTY)
      slots.set(slot, value)
    }
    return value
  }

  getCode(codeHash: string): Uint8Array | undefined {
    if (codeHash === EMPTY_CODE_HASH) return EMPTY
    let code = this.code.get(codeHash)
    if (code === undefined) {
      code = this.backend.readCode(codeHash)
      if (code !== undefined) this.code.set(codeHash, code)
    }
    return code
  }

  /** Make a block's changes visible. Call only once the same delta is durable in the backend. */
  apply(delta: StateDelta): void {
    for (const address of delta.storageCleared) {
      this.storage.set(address, new Map())
      this.cleared.add(address)
    }
    for (const [address, record] of delta.accounts) this.accounts.set(address, record)
    for (const [address, slots] of delta.storage) {
      let cached = this.storage.get(address)
      if (cached === undefined) {
        cached = new Map()
        this.storage.set(address, cached)
      }
      for (const [slot, value] of slots) cached.set(slot, value)
    }
    for (const [hash, code] of delta.code) this.code.set(hash, code)
  }

  /** Forget everything held in memory: later reads go to the backend (a worker that fell behind it). */
  clear(): void {
    this.accounts.clear()
    this.storage.clear()
    this.cleared.clear()
    this.code.clear()
  }

  /** Number of accounts held in memory (metrics). */
  get cachedAccounts(): number {
    return this.accounts.size
  }
}
