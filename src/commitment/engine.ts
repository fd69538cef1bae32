/**
 * The tries one commitment worker owns: some of the account sub-tries (`layout.ts`) and the
 * storage trie of every account in them. `apply` takes one block's changes for those accounts,
 * updates the tries in memory, hashes each dirty node once and reports the new sub-trie roots;
 * new nodes go to a sink (LMDB). Runs inside a worker thread (`worker.ts`) or, for from-scratch
 * roots and tests, in the calling thread.
 */
import { unprefixedHexToBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import type { ReadSet } from '../state/read-set.ts'
import type { AccountRecord, StateDelta } from '../state/types.ts'
import { type AccountLeaf, decodeAccountLeaf, EMPTY_ACCOUNT_LEAF, encodeAccountLeaf, encodeStorageValue, storageRootOfLeaf, subtrieOf } from './layout.ts'
import { bytesToNibbles, type DepthMemory, EMPTY_ROOT, MerkleTrie, type NodeLoader, type NodeSink, type StaleSink, type TrieOptions } from './trie.ts'

const sum = (values: readonly (number | undefined)[]) => values.reduce<number>((total, value) => total + (value ?? 0), 0)

/** One account's changes in one block, as the coordinator hands them to the owner of its sub-trie. */
export type AccountUpdate = {
  /** Lowercase hex, no 0x. */
  readonly address: string
  /** keccak256(address). */
  readonly hashedKey: Uint8Array
  /** New nonce, balance and code hash; null = deleted; undefined = unchanged (storage-only change). */
  readonly record: AccountRecord | null | undefined
  /** Storage wiped before `slots` apply. */
  readonly cleared: boolean
  /** [slot (hex, 32 bytes), value stripped of leading zeros — empty = deleted]. */
  readonly slots: readonly (readonly [string, Uint8Array])[]
  /** Slots only read (witness only). */
  readonly readSlots: readonly string[]
  /** The account was only read: nothing to change, only to prove (witness only). */
  readonly readOnly: boolean
}

export type SubtrieRoot = {
  readonly index: number
  readonly root: Uint8Array
  /** Encoding of the sub-trie's top node (only when the engine reports tops); undefined when empty. */
  readonly top: Uint8Array | undefined
}

/**
 * Split a block's delta into one update per account it touches; with `reads`, also one per
 * account only read, and the slots only read (for the witness).
 */
export function accountUpdates(delta: StateDelta, reads?: ReadSet): AccountUpdate[] {
  const addresses = new Set<string>([...delta.accounts.keys(), ...delta.storage.keys(), ...delta.storageCleared])
  const updates = [...addresses].map((address): AccountUpdate => {
    const written = delta.storage.get(address)
    return {
      address,
      hashedKey: keccak256(unprefixedHexToBytes(address)),
      record: delta.accounts.get(address),
      cleared: delta.storageCleared.has(address),
      slots: [...(written ?? [])],
      readSlots: [...(reads?.storage.get(address) ?? [])].filter((slot) => written?.has(slot) !== true),
      readOnly: false,
    }
  })
  if (reads === undefined) return updates
  for (const address of new Set([...reads.accounts, ...reads.storage.keys()])) {
    if (addresses.has(address)) continue
    const hashedKey = keccak256(unprefixedHexToBytes(address))
    updates.push({ address, hashedKey, record: undefined, cleared: false, slots: [], readSlots: [...(reads.storage.get(address) ?? [])], readOnly: true })
  }
  return updates
}

/**
 * A witness's keys: every account (20 bytes) and slot (32 bytes) the updates read or write — the
 * preimages geth's `debug_executionWitness` lists.
 */
export function touchedKeys(updates: readonly AccountUpdate[]): Uint8Array[] {
  const keys: Uint8Array[] = []
  for (const update of updates) {
    keys.push(unprefixedHexToBytes(update.address))
    for (const [slot] of update.slots) keys.push(unprefixedHexToBytes(slot))
    for (const slot of update.readSlots) keys.push(unprefixedHexToBytes(slot))
  }
  return keys
}

/** Estimated bytes of the trie nodes an engine holds in memory, and their budget. */
export type TrieMemory = { readonly bytes: number; readonly budget: number; readonly releases: number }

/** What a node held in memory costs on average (estimate of growth between walks). */
const AVERAGE_NODE_BYTES = 600

export class SubtrieEngine {
  private readonly subtries = new Map<number, MerkleTrie>()
  /** Storage tries by address, least recently used first. */
  private readonly storageTries = new Map<string, MerkleTrie>()
  /** Bytes held at the last walk; nodes loaded and made since. */
  private walkedBytes = 0
  private loadsAtWalk = 0
  private madeSinceWalk = 0
  private releases = 0
  /** Loads counted by storage tries since dropped. */
  private droppedLoads = 0

  /**
   * An engine over tries already loaded (and partly decoded) elsewhere — the verifier's
   * witness-backed tries: applying the block's writes reuses the nodes its reads decoded.
   */
  static over(splitNibbles: number, subtries: ReadonlyMap<number, MerkleTrie>, storageTries: ReadonlyMap<string, MerkleTrie>, loader: NodeLoader): SubtrieEngine {
    const engine = new SubtrieEngine(splitNibbles, new Map(), loader, false)
    for (const [index, trie] of subtries) engine.subtries.set(index, trie)
    for (const [address, trie] of storageTries) engine.storageTries.set(address, trie)
    return engine
  }
  private readonly trieOptions: TrieOptions
  /** While a block is applied: hears the stored nodes that leave its tries (pruning). */
  private stale: StaleSink | undefined

  /**
   * @param roots root hash of every sub-trie this engine owns (EMPTY_ROOT for an empty one)
   * @param loader where nodes not in memory come from (LMDB); none when all state is in memory
   * @param withTops report each changed sub-trie's top node (the `mpt` aggregation needs them)
   */
  constructor(
    private readonly splitNibbles: number,
    roots: ReadonlyMap<number, Uint8Array>,
    loader?: NodeLoader,
    private readonly withTops = true,
  ) {
    this.trieOptions = { loader }
    for (const [index, root] of roots) this.subtries.set(index, new MerkleTrie(root, this.trieOptions))
  }

  /** Nodes loaded from the store so far, over all tries. */
  get loads(): number {
    let total = this.droppedLoads
    for (const trie of this.subtries.values()) total += trie.loads
    for (const trie of this.storageTries.values()) total += trie.loads
    return total
  }

  /**
   * Estimated bytes of nodes in memory: from the last walk plus what was loaded or made since
   * (no walk unless it may be over `budget`).
   */
  private estimatedBytes(): number {
    return this.walkedBytes + (this.loads - this.loadsAtWalk + this.madeSinceWalk) * AVERAGE_NODE_BYTES
  }

  /** Walk every trie: bytes in memory by absolute nibble depth (storage tries from their own top). */
  private memoryByDepth(): DepthMemory {
    const memory: DepthMemory = { bytes: [], refs: [] }
    for (const trie of this.subtries.values()) trie.memoryByDepth(memory, this.splitNibbles)
    for (const trie of this.storageTries.values()) trie.memoryByDepth(memory)
    return memory
  }

  private walked(bytes: number): void {
    this.walkedBytes = bytes
    this.loadsAtWalk = this.loads
    this.madeSinceWalk = 0
  }

  /**
   * Keep the nodes held in memory within `budget` bytes (estimated). When the estimate may be over
   * it, the tries are walked; if they are over, the deepest levels are released until what stays,
   * with the hash references left in place of what went, fits half the budget — the upper levels
   * of every trie stay, the rest is read through LMDB's memory map when a path needs it — and, if
   * that is not enough, the least recently used storage tries go. Only between blocks, once every
   * node written so far is durable in the store.
   */
  trim(budget: number): TrieMemory {
    if (this.estimatedBytes() <= budget) return { bytes: this.estimatedBytes(), budget, releases: this.releases }
    const memory = this.memoryByDepth()
    const held = sum(memory.bytes)
    if (held <= budget) {
      this.walked(held)
      return { bytes: held, budget, releases: this.releases }
    }
    const target = budget / 2
    // The deepest depth whose upper levels, plus references to what is released, fit the target.
    let depth = 0
    let above = 0
    while (depth + 1 < memory.bytes.length && above + (memory.bytes[depth] ?? 0) + (memory.refs[depth + 1] ?? 0) <= target) above += memory.bytes[depth++] ?? 0
    for (const trie of this.subtries.values()) trie.prune(Math.max(1, depth - this.splitNibbles))
    for (const trie of this.storageTries.values()) trie.prune(Math.max(1, depth))
    let bytes = sum(this.memoryByDepth().bytes)
    for (const [address, trie] of this.storageTries) {
      if (bytes <= target) break
      bytes -= sum(trie.memoryByDepth().bytes)
      this.dropStorageTrie(address)
    }
    this.walked(bytes)
    this.releases++
    return { bytes, budget, releases: this.releases }
  }

  private dropStorageTrie(address: string): void {
    this.droppedLoads += this.storageTries.get(address)?.loads ?? 0
    this.storageTries.delete(address)
  }

  /** The storage trie of an account, most recently used from now on. */
  private storageTrie(update: AccountUpdate, root: () => Uint8Array): MerkleTrie {
    const { address } = update
    let trie = this.storageTries.get(address)
    if (trie === undefined) {
      trie = new MerkleTrie(root(), { ...this.trieOptions, owner: update.hashedKey })
      trie.witness = this.witness
      trie.stale = this.stale
    } else this.storageTries.delete(address)
    this.storageTries.set(address, trie)
    return trie
  }

  private subtrie(index: number): MerkleTrie {
    let trie = this.subtries.get(index)
    if (trie === undefined) {
      trie = new MerkleTrie(EMPTY_ROOT, this.trieOptions)
      trie.witness = this.witness
      trie.stale = this.stale
      this.subtries.set(index, trie)
    }
    return trie
  }

  private path(hashedKey: Uint8Array): Uint8Array {
    return bytesToNibbles(hashedKey).subarray(this.splitNibbles)
  }

  /** The account's leaf as committed (or as updated so far), or undefined. */
  account(hashedKey: Uint8Array): AccountLeaf | undefined {
    const leaf = this.subtrie(subtrieOf(hashedKey, this.splitNibbles)).get(this.path(hashedKey))
    return leaf === undefined ? undefined : decodeAccountLeaf(leaf)
  }

  /**
   * Hand `witness` every stored node that proves the current value of the updated and read
   * accounts and slots (call before `apply`).
   */
  recordWitness(updates: readonly AccountUpdate[], witness: NodeSink): void {
    for (const update of updates) {
      const trie = this.subtrie(subtrieOf(update.hashedKey, this.splitNibbles))
      const path = this.path(update.hashedKey)
      trie.recordPath(path, witness)
      const slots = [...update.slots.map(([slot]) => slot), ...update.readSlots]
      if (slots.length === 0) continue
      const storage = this.storageTrie(update, () => {
        const leaf = trie.get(path)
        return leaf === undefined ? EMPTY_ROOT : storageRootOfLeaf(leaf)
      })
      for (const slot of slots) storage.recordPath(bytesToNibbles(keccak256(unprefixedHexToBytes(slot))), witness)
    }
  }

  /**
   * Apply one block's updates; returns the roots of the sub-tries they changed. New nodes go to
   * `sink`, with the storage trie's owner. With `witness`, the nodes a stateless verifier needs
   * to do the same are recorded first (`recordWitness`) and while applying (siblings that
   * deletions pull up). With `stale`, every stored node that leaves a trie is reported (see
   * `MerkleTrie.stale`) — except the nodes of a storage trie wiped whole (an account deleted or
   * its storage cleared), which stay in the store.
   */
  apply(updates: readonly AccountUpdate[], sink?: NodeSink, witness?: NodeSink, stale?: StaleSink): SubtrieRoot[] {
    if (witness !== undefined) this.recordWitness(updates, witness)
    this.setListeners(witness, stale)
    const counted: NodeSink = (hash, enc, owner) => {
      this.madeSinceWalk++
      sink?.(hash, enc, owner)
    }
    try {
      return this.applyUpdates(updates, counted)
    } finally {
      this.setListeners(undefined, undefined)
    }
  }

  private witness: NodeSink | undefined

  private setListeners(witness: NodeSink | undefined, stale: StaleSink | undefined): void {
    this.witness = witness
    this.stale = stale
    for (const trie of this.subtries.values()) {
      trie.witness = witness
      trie.stale = stale
    }
    for (const trie of this.storageTries.values()) {
      trie.witness = witness
      trie.stale = stale
    }
  }

  private applyUpdates(updates: readonly AccountUpdate[], sink?: NodeSink): SubtrieRoot[] {
    const changed = new Set<number>()
    for (const update of updates) {
      if (update.readOnly) continue
      const index = subtrieOf(update.hashedKey, this.splitNibbles)
      const trie = this.subtrie(index)
      const path = this.path(update.hashedKey)
      changed.add(index)
      if (update.record === null) {
        trie.del(path)
        this.dropStorageTrie(update.address)
        continue
      }
      if (!update.cleared && update.slots.length === 0 && update.record !== undefined) {
        // The common case — nonce, balance or code changed, storage did not: one walk, keeping
        // the storage root from the leaf that is there.
        const record = update.record
        trie.update(path, (current) =>
          encodeAccountLeaf({ nonce: record.nonce, balance: record.balance, storageRoot: current === undefined ? EMPTY_ROOT : storageRootOfLeaf(current), codeHash: record.codeHash }),
        )
        continue
      }
      const existing = trie.get(path)
      const before = existing === undefined ? EMPTY_ACCOUNT_LEAF : decodeAccountLeaf(existing)
      if (update.cleared) this.dropStorageTrie(update.address)
      const storage = this.storageTrie(update, () => (update.cleared ? EMPTY_ROOT : before.storageRoot))
      for (const [slot, value] of update.slots) {
        const key = bytesToNibbles(keccak256(unprefixedHexToBytes(slot)))
        if (value.length === 0) storage.del(key)
        else storage.put(key, encodeStorageValue(value))
      }
      const storageRoot = storage.commit(sink)
      const record = update.record ?? before
      trie.put(path, encodeAccountLeaf({ nonce: record.nonce, balance: record.balance, storageRoot, codeHash: record.codeHash }))
    }
    return [...changed].sort((a, b) => a - b).map((index) => {
      const trie = this.subtrie(index)
      const root = trie.commit(sink)
      return { index, root, top: this.withTops ? trie.topNode() : undefined }
    })
  }

  /** Load the account-trie paths of these keys (prefetch); returns the nodes that came from the store. */
  prefetch(hashedKeys: readonly Uint8Array[]): number {
    let loaded = 0
    for (const key of hashedKeys) loaded += this.subtrie(subtrieOf(key, this.splitNibbles)).touch(this.path(key))
    return loaded
  }
}
