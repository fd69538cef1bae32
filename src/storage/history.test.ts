/**
 * State at earlier blocks from change sets: a differential test against a model that keeps a
 * full copy of the state after every block, over random deltas — account writes and deletions,
 * slot writes and deletions, storage wipes (with slots re-set in the same block), empty blocks —
 * across a reopen, a pruning window, history off and on again.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { createStateDelta, type AccountRecord, type StateDelta } from '../state/types.ts'
import { LmdbStore, type StoredBlock } from './lmdb-store.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-history-'))
  dirs.push(dir)
  return dir
}

function block(number: bigint): StoredBlock {
  return { number, hash: new Uint8Array(32).fill(Number(number % 256n)), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }
}

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ADDRESSES = Array.from({ length: 8 }, (_, i) => (i + 1).toString(16).padStart(2, '0').repeat(20))
const SLOTS = Array.from({ length: 6 }, (_, i) => (i === 5 ? 'ff' : '00') + (i + 1).toString(16).padStart(2, '0').repeat(31))

type ModelState = { accounts: Map<string, AccountRecord>; storage: Map<string, Uint8Array> }

function applyToModel(model: ModelState, delta: StateDelta): ModelState {
  const next: ModelState = { accounts: new Map(model.accounts), storage: new Map(model.storage) }
  for (const address of delta.storageCleared) for (const key of [...next.storage.keys()]) if (key.startsWith(address)) next.storage.delete(key)
  for (const [address, record] of delta.accounts) {
    if (record === null) next.accounts.delete(address)
    else next.accounts.set(address, record)
  }
  for (const [address, slots] of delta.storage) {
    for (const [slot, value] of slots) {
      if (value.length === 0) next.storage.delete(address + slot)
      else next.storage.set(address + slot, value)
    }
  }
  return next
}

function randomDelta(next: () => number, number: bigint): StateDelta {
  const delta = createStateDelta()
  if (next() < 0.15) return delta // an empty block
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!
  for (let i = 0; i < 1 + Math.floor(next() * 4); i++) {
    const address = pick(ADDRESSES)
    delta.accounts.set(address, next() < 0.1 ? null : { nonce: number, balance: BigInt(Math.floor(next() * 1000)), codeHash: KECCAK256_NULL })
  }
  for (let i = 0; i < Math.floor(next() * 5); i++) {
    const address = pick(ADDRESSES)
    const slots = delta.storage.get(address) ?? new Map<string, Uint8Array>()
    slots.set(pick(SLOTS), next() < 0.2 ? new Uint8Array() : Uint8Array.of(1 + Math.floor(next() * 250), Number(number % 256n)))
    delta.storage.set(address, slots)
  }
  if (next() < 0.15) delta.storageCleared.add(pick(ADDRESSES))
  return delta
}

const accountText = (record: AccountRecord | undefined) => (record === undefined ? 'absent' : `${record.nonce}/${record.balance}/${bytesToHex(record.codeHash)}`)

/** Every account and slot read at `number` from the store, against the model's copy after that block. */
function compareAt(store: LmdbStore, number: bigint, model: ModelState): string[] {
  const wrong: string[] = []
  for (const address of ADDRESSES) {
    const got = accountText(store.readAccountAt(address, number))
    const want = accountText(model.accounts.get(address))
    if (got !== want) wrong.push(`block ${number} account ${address.slice(0, 4)}: ${got} != ${want}`)
    for (const slot of SLOTS) {
      const got = bytesToHex(store.readStorageAt(address, slot, number))
      const want = bytesToHex(model.storage.get(address + slot) ?? new Uint8Array())
      if (got !== want) wrong.push(`block ${number} slot ${address.slice(0, 4)}/${slot.slice(0, 4)}: ${got} != ${want}`)
    }
  }
  return wrong
}

async function writeChain(store: LmdbStore, models: ModelState[], from: bigint, to: bigint, next: () => number): Promise<void> {
  for (let n = from; n <= to; n++) {
    const delta = n === 0n ? randomDelta(next, 0n) : randomDelta(next, n)
    await store.writeBlock(block(n), delta)
    models[Number(n)] = applyToModel(models[Number(n) - 1] ?? { accounts: new Map(), storage: new Map() }, delta)
  }
}

describe('history: state at earlier blocks', () => {
  // The default index batch (64 blocks) leaves the first 60 blocks' change sets pending across
  // the reopen, so they are reloaded from disk; a batch of 7 has most blocks read through the
  // index on disk, with batches committed while blocks are written, 5 keys per commit (so the
  // reads at the end may meet a batch half written), in shards of 3 bytes (3 blocks: a block ≤ 127 apart is a byte), and the change sets
  // in segment files of 16 blocks.
  for (const batch of [undefined, 7]) {
  it(`differential: every account and slot read at every block equals a full copy of the state after it, across a reopen (index batch ${batch ?? 'default'})`, async () => {
    const dir = tempDir()
    const next = random(7)
    const models: ModelState[] = []
    let store = LmdbStore.open(dir, batch === undefined ? {} : { historyIndexBatchBlocks: batch, historyIndexChunkEntries: 5, historyShardBytes: 3, changeSetSegmentBlocks: 16 })
    await writeChain(store, models, 0n, 60n, next)
    await store.close()
    store = LmdbStore.open(dir, batch === undefined ? {} : { historyIndexBatchBlocks: batch, historyIndexChunkEntries: 5, historyShardBytes: 3, changeSetSegmentBlocks: 16 })
    if (batch === undefined) assert.ok(store.historyPendingEntries > 0, 'the pending change sets were not reloaded')
    try {
      await writeChain(store, models, 61n, 120n, next)
      assert.equal(store.historyFrom, 0n)
      const wrong: string[] = []
      for (let n = 0n; n <= 120n; n++) wrong.push(...compareAt(store, n, models[Number(n)]!))
      assert.deepEqual(wrong, [])
      // Negative control: the same comparison fails when block N is read as the head's state,
      // so the generated chain really changes what the reads see.
      const headReads: string[] = []
      for (let n = 0n; n < 120n; n++) headReads.push(...compareAt(store, 120n, models[Number(n)]!))
      assert.ok(headReads.length > 100, `reading the head instead of block N differed only ${headReads.length} times`)
      // And a wiped storage with slots re-set in the same block was generated.
      assert.ok(models.some((_, n) => n > 0 && store.getStateDelta(BigInt(n))!.storageCleared.size > 0), 'no storage wipe generated')
      if (batch !== undefined) {
        assert.ok(store.historyBytes().index > 0, 'nothing was indexed on disk')
        assert.deepEqual(store.changeSetSegments(), [0n, 16n, 32n, 48n, 64n, 80n, 96n, 112n])
      }
    } finally {
      await store.close()
    }
  })
  }

  it('behavior: blocks far apart in one shard (distances of one and two bytes) are read back', async () => {
    const store = LmdbStore.open(tempDir(), { historyIndexBatchBlocks: 2, historyShardBytes: 4 })
    const changed = new Set([1, 2, 300, 301, 2_900, 2_901])
    const balanceAt = (n: number) => BigInt([...changed].filter((c) => c <= n).at(-1) ?? 0)
    try {
      for (let n = 0; n <= 2_910; n++) {
        const delta = createStateDelta()
        if (changed.has(n)) delta.accounts.set(ADDRESSES[0]!, { nonce: 0n, balance: BigInt(n), codeHash: KECCAK256_NULL })
        if (n === 0 || n % 500 === 0) delta.accounts.set(ADDRESSES[1]!, { nonce: 0n, balance: BigInt(n), codeHash: KECCAK256_NULL })
        await store.writeBlock(block(BigInt(n)), delta)
      }
      // Read through the index on disk, not the pending changes: several shards of the account.
      assert.ok(store.historyIndexShards() >= 3 && store.historyPendingEntries <= 2, `${store.historyIndexShards()} shards, ${store.historyPendingEntries} pending`)
      for (const n of [1, 2, 3, 299, 300, 301, 302, 2_899, 2_900, 2_901, 2_910]) {
        assert.equal(store.readAccountAt(ADDRESSES[0]!, BigInt(n))?.balance, balanceAt(n), `block ${n}`)
      }
    } finally {
      await store.close()
    }
  })

  it('behavior: blocks that leave the window lose their change sets, their segment files and their index shards, reads inside it still match, and outside it are refused', async () => {
    const options = { historyIndexBatchBlocks: 4, historyShardBytes: 2, changeSetSegmentBlocks: 8 }
    // The same chain with every block kept: what the index would hold unpruned.
    const whole = LmdbStore.open(tempDir(), options)
    await writeChain(whole, [], 0n, 80n, random(11))
    const wholeShards = whole.historyIndexShards()
    // Block 80 of this chain changed nothing: no change set, so no segment from block 80 on.
    assert.deepEqual(whole.changeSetSegments(), [0n, 8n, 16n, 24n, 32n, 40n, 48n, 56n, 64n, 72n])
    await whole.close()
    const dir = tempDir()
    const next = random(11)
    const models: ModelState[] = []
    const store = LmdbStore.open(dir, { historyBlocks: 10, ...options })
    try {
      await writeChain(store, models, 0n, 80n, next)
      assert.equal(store.historyFrom, 70n)
      // The window is blocks 70–80: the segments of blocks 64–71 and 72–79 are left.
      assert.deepEqual(store.changeSetSegments(), [64n, 72n])
      // Shards of 2 bytes (2 blocks): the 81 blocks' would be ~7 times the window's; what is left is the
      // shards ending in the window and the keys' open shards.
      const shards = store.historyIndexShards()
      assert.ok(shards * 2 < wholeShards, `${shards} index shards left of ${wholeShards}`)
      const wrong: string[] = []
      for (let n = 70n; n <= 80n; n++) wrong.push(...compareAt(store, n, models[Number(n)]!))
      assert.deepEqual(wrong, [])
      assert.throws(() => store.readAccountAt(ADDRESSES[0]!, 69n), (e: Error & { code?: string }) => e.code === 'HISTORY_UNAVAILABLE')
      assert.throws(() => store.readStorageAt(ADDRESSES[0]!, SLOTS[0]!, 3n), /state at block 3 is not available/)
      // Change sets are indexed in batches of 4 and pruned through the index.
      const bytes = store.historyBytes()
      assert.ok(bytes.changeSets > 0 && bytes.index > 0)
    } finally {
      await store.close()
    }
  })

  it('behavior: a window that shrinks prunes gradually; history off serves the head only and on again starts from the block before', async () => {
    const dir = tempDir()
    const next = random(13)
    const models: ModelState[] = []
    let store = LmdbStore.open(dir)
    await writeChain(store, models, 0n, 40n, next)
    await store.close()
    // A window of 5: a few blocks' change sets are pruned per write, the floor rises with them.
    store = LmdbStore.open(dir, { historyBlocks: 5 })
    await writeChain(store, models, 41n, 42n, next)
    const floor = store.historyFrom!
    assert.ok(floor > 0n && floor < 37n, `pruning should be gradual, the floor is ${floor}`)
    assert.deepEqual(compareAt(store, floor, models[Number(floor)]!), [])
    await writeChain(store, models, 43n, 60n, next)
    // Caught up: the change sets of blocks up to 55 are gone (an empty block has none to prune,
    // so the floor may stay just below), the state of blocks 55–60 is readable.
    const caughtUp = store.historyFrom!
    assert.ok(caughtUp >= 50n && caughtUp <= 55n, `floor ${caughtUp}`)
    for (let n = caughtUp; n <= 60n; n++) assert.deepEqual(compareAt(store, n, models[Number(n)]!), [])
    await store.close()
    store = LmdbStore.open(dir, { historyBlocks: 0 })
    await writeChain(store, models, 61n, 70n, next)
    assert.equal(store.historyFrom, 70n)
    assert.throws(() => store.readAccountAt(ADDRESSES[0]!, 69n), /not available/)
    assert.deepEqual(compareAt(store, 70n, models[70]!), [])
    await store.close()
    store = LmdbStore.open(dir)
    try {
      await writeChain(store, models, 71n, 75n, next)
      assert.equal(store.historyFrom, 70n)
      const wrong: string[] = []
      for (let n = 70n; n <= 75n; n++) wrong.push(...compareAt(store, n, models[Number(n)]!))
      assert.deepEqual(wrong, [])
      // History off pruned what the earlier window left: nothing before block 70 remains.
      assert.throws(() => store.readAccountAt(ADDRESSES[1]!, 58n), /not available/)
    } finally {
      await store.close()
    }
  })
})
