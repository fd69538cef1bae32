/**
 * An ethereumjs `StateManagerInterface` over committed flat state, with every change kept in an
 * overlay and undone through an undo log.
 *
 * Why not the stock managers: `SimpleStateManager` copies its maps on every checkpoint and
 * `MerkleStateManager` walks and re-hashes tries; the EVM checkpoints on every call frame, so both
 * cost far more than executing a transfer. Here a checkpoint is an integer (the undo log's
 * length), a write appends one undo entry, and a revert replays the log backwards. After a block
 * the overlay *is* the block's state delta.
 */
import type { AccountFields, StateManagerInterface } from '@ethereumjs/common'
import { OriginalStorageCache } from '@ethereumjs/statemanager'
import { Account, type Address, equalsBytes, KECCAK256_NULL, unpadBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { type AccountRecord, createStateDelta, type StateDelta, type StateReader } from './types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

type UndoEntry =
  | { kind: 'account'; key: string; previous: AccountRecord | null | undefined }
  | { kind: 'storage'; key: string; slot: string; previous: Uint8Array | undefined }
  | { kind: 'clear'; key: string; wasCleared: boolean; previous: Map<string, Uint8Array> | undefined }
  | { kind: 'code'; hash: string; existed: boolean }

const EMPTY = new Uint8Array(0)

type ChangedKeys = { accounts: Set<string>; storage: Map<string, Set<string>>; cleared: Set<string>; code: Set<string> }

export class JournaledStateManager implements StateManagerInterface {
  readonly originalStorageCache: OriginalStorageCache
  private base: StateReader
  private overlay: StateDelta = createStateDelta()
  private undo: UndoEntry[] = []
  private checkpoints: number[] = []
  /** Keys written since the last `takeChanges`, while an open block tracks its mini-batches' changes. */
  private changed: ChangedKeys | undefined

  constructor(base: StateReader) {
    this.base = base
    this.originalStorageCache = new OriginalStorageCache(this.getStorage.bind(this))
  }

  /** Drop every change and read from `base` from now on (the next block, or a fresh eth_call). */
  reset(base: StateReader = this.base): void {
    this.base = base
    this.overlay = createStateDelta()
    this.undo = []
    this.checkpoints = []
    this.changed = undefined
    this.originalStorageCache.clear()
  }

  /** From now until the next `reset`, remember which keys are written, for `takeChanges`. */
  trackChanges(): void {
    this.changed = { accounts: new Set(), storage: new Map(), cleared: new Set(), code: new Set() }
  }

  /**
   * What the writes since the last call (or `trackChanges`) left in the overlay: the state changes
   * of one mini-batch, values as they are now (a write a revert undid is not in it). Only valid
   * outside any checkpoint. Merged in order (`mergeDelta`), the changes of every mini-batch are
   * the block's delta.
   */
  takeChanges(): StateDelta {
    if (this.checkpoints.length > 0) throw new MosaicError('INTERNAL', 'takeChanges() taken inside an open checkpoint')
    const changed = this.changed
    const out = createStateDelta()
    if (changed === undefined) return out
    const { accounts, storage, storageCleared, code } = this.overlay
    for (const key of changed.cleared) {
      if (!storageCleared.has(key)) continue
      out.storageCleared.add(key)
      const slots = storage.get(key)
      if (slots !== undefined) out.storage.set(key, new Map(slots))
    }
    for (const key of changed.accounts) {
      const record = accounts.get(key)
      if (record !== undefined) out.accounts.set(key, record)
    }
    for (const [key, slots] of changed.storage) {
      const written = storage.get(key)
      if (written === undefined) continue
      let into = out.storage.get(key)
      for (const slot of slots) {
        const value = written.get(slot)
        if (value === undefined) continue
        if (into === undefined) out.storage.set(key, (into = new Map()))
        into.set(slot, value)
      }
    }
    for (const hash of changed.code) {
      const bytes = code.get(hash)
      if (bytes !== undefined) out.code.set(hash, bytes)
    }
    this.trackChanges()
    return out
  }

  /** The changes made since the last reset. Only valid outside any checkpoint. */
  delta(): StateDelta {
    if (this.checkpoints.length > 0) throw new MosaicError('INTERNAL', 'delta() taken inside an open checkpoint')
    return this.overlay
  }

  // ---- typed reads used by mosaic itself (no Account allocation) ----

  readAccount(key: string): AccountRecord | undefined {
    const written = this.overlay.accounts.get(key)
    if (written !== undefined) return written ?? undefined
    return this.base.getAccount(key)
  }

  readStorage(key: string, slot: string): Uint8Array {
    const written = this.overlay.storage.get(key)?.get(slot)
    if (written !== undefined) return written
    if (this.overlay.storageCleared.has(key)) return EMPTY
    return this.base.getStorage(key, slot)
  }

  readCode(codeHash: string): Uint8Array {
    return this.overlay.code.get(codeHash) ?? this.base.getCode(codeHash) ?? EMPTY
  }

  // ---- writes, each with its undo entry ----

  /** Write an account's record (`null`: deleted), as `putAccount` does, without an `Account`. */
  writeAccountRecord(key: string, record: AccountRecord | null): void {
    this.changed?.accounts.add(key)
    if (this.checkpoints.length > 0) this.undo.push({ kind: 'account', key, previous: this.overlay.accounts.get(key) })
    this.overlay.accounts.set(key, record)
  }

  private wipeStorage(key: string): void {
    this.changed?.cleared.add(key)
    if (this.checkpoints.length > 0) {
      this.undo.push({
        kind: 'clear',
        key,
        wasCleared: this.overlay.storageCleared.has(key),
        previous: this.overlay.storage.get(key),
      })
    }
    this.overlay.storageCleared.add(key)
    this.overlay.storage.delete(key)
  }

  // ---- StateManagerInterface ----

  async getAccount(address: Address): Promise<Account | undefined> {
    const record = this.readAccount(bytesToUnprefixedHex(address.bytes))
    if (record === undefined) return undefined
    return new Account(record.nonce, record.balance, undefined, record.codeHash)
  }

  async putAccount(address: Address, account?: Account): Promise<void> {
    if (account === undefined) return this.deleteAccount(address)
    const key = bytesToUnprefixedHex(address.bytes)
    this.writeAccountRecord(key, { nonce: account.nonce, balance: account.balance, codeHash: account.codeHash })
  }

  async deleteAccount(address: Address): Promise<void> {
    this.deleteAccountRecord(bytesToUnprefixedHex(address.bytes))
  }

  /** Delete an account, as `deleteAccount` does, by its key. */
  deleteAccountRecord(key: string): void {
    // A deleted account loses its storage too (as removing it from the account trie does).
    this.wipeStorage(key)
    this.writeAccountRecord(key, null)
  }

  async modifyAccountFields(address: Address, fields: AccountFields): Promise<void> {
    const key = bytesToUnprefixedHex(address.bytes)
    const current = this.readAccount(key)
    this.writeAccountRecord(key, {
      nonce: fields.nonce ?? current?.nonce ?? 0n,
      balance: fields.balance ?? current?.balance ?? 0n,
      codeHash: fields.codeHash ?? current?.codeHash ?? KECCAK256_NULL,
    })
  }

  async putCode(address: Address, value: Uint8Array): Promise<void> {
    const codeHash = keccak256(value)
    if (value.length > 0) {
      const hash = bytesToUnprefixedHex(codeHash)
      if (!this.overlay.code.has(hash)) {
        if (this.checkpoints.length > 0) this.undo.push({ kind: 'code', hash, existed: false })
        this.overlay.code.set(hash, value)
        this.changed?.code.add(hash)
      }
    }
    await this.modifyAccountFields(address, { codeHash })
  }

  async getCode(address: Address): Promise<Uint8Array> {
    const record = this.readAccount(bytesToUnprefixedHex(address.bytes))
    if (record === undefined || equalsBytes(record.codeHash, KECCAK256_NULL)) return EMPTY
    return this.readCode(bytesToUnprefixedHex(record.codeHash))
  }

  async getCodeSize(address: Address): Promise<number> {
    return (await this.getCode(address)).length
  }

  async getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    if (key.length !== 32) throw new MosaicError('INTERNAL', 'Storage key must be 32 bytes long')
    return this.readStorage(bytesToUnprefixedHex(address.bytes), bytesToUnprefixedHex(key))
  }

  async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (key.length !== 32) throw new MosaicError('INTERNAL', 'Storage key must be 32 bytes long')
    if (value.length > 32) throw new MosaicError('INTERNAL', 'Storage value cannot be longer than 32 bytes')
    const addressKey = bytesToUnprefixedHex(address.bytes)
    const slot = bytesToUnprefixedHex(key)
    let slots = this.overlay.storage.get(addressKey)
    if (slots === undefined) {
      slots = new Map()
      this.overlay.storage.set(addressKey, slots)
    }
    if (this.checkpoints.length > 0) this.undo.push({ kind: 'storage', key: addressKey, slot, previous: slots.get(slot) })
    slots.set(slot, unpadBytes(value))
    if (this.changed !== undefined) {
      let changedSlots = this.changed.storage.get(addressKey)
      if (changedSlots === undefined) this.changed.storage.set(addressKey, (changedSlots = new Set()))
      changedSlots.add(slot)
    }
  }

  async clearStorage(address: Address): Promise<void> {
    this.wipeStorage(bytesToUnprefixedHex(address.bytes))
  }

  async checkpoint(): Promise<void> {
    this.checkpoints.push(this.undo.length)
  }

  async commit(): Promise<void> {
    if (this.checkpoints.pop() === undefined) throw new MosaicError('INTERNAL', 'commit() without checkpoint')
    // Outside every checkpoint nothing can be reverted any more.
    if (this.checkpoints.length === 0) this.undo.length = 0
  }

  /**
   * Revert every open checkpoint: back to the state before the outermost one. For an exception
   * that escaped the EVM (runTx reverts only its own checkpoint, not the call frames' inside it).
   */
  async revertAll(): Promise<number> {
    let reverted = 0
    for (; this.checkpoints.length > 0; reverted++) await this.revert()
    return reverted
  }

  async revert(): Promise<void> {
    const mark = this.checkpoints.pop()
    if (mark === undefined) throw new MosaicError('INTERNAL', 'revert() without checkpoint')
    const { accounts, storage, storageCleared, code } = this.overlay
    for (let i = this.undo.length - 1; i >= mark; i--) {
      const entry = this.undo[i]!
      switch (entry.kind) {
        case 'account':
          if (entry.previous === undefined) accounts.delete(entry.key)
          else accounts.set(entry.key, entry.previous)
          break
        case 'storage': {
          const slots = storage.get(entry.key)
          if (slots === undefined) break
          if (entry.previous === undefined) slots.delete(entry.slot)
          else slots.set(entry.slot, entry.previous)
          break
        }
        case 'clear':
          if (!entry.wasCleared) storageCleared.delete(entry.key)
          if (entry.previous === undefined) storage.delete(entry.key)
          else storage.set(entry.key, entry.previous)
          break
        case 'code':
          if (!entry.existed) code.delete(entry.hash)
          break
      }
    }
    this.undo.length = mark
  }

  async getStateRoot(): Promise<Uint8Array> {
    // Flat state has no root: the commitment pipeline computes it off the execution path.
    throw new MosaicError('INTERNAL', 'getStateRoot() is not available on flat state')
  }

  async setStateRoot(): Promise<void> {
    throw new MosaicError('INTERNAL', 'setStateRoot() is not available on flat state')
  }

  async hasStateRoot(): Promise<boolean> {
    return false
  }

  clearCaches(): void {}

  shallowCopy(): JournaledStateManager {
    return new JournaledStateManager(this.base)
  }
}
