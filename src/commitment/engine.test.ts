import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL, unprefixedHexToBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { randomDeltas, type FullState } from '../../test/commitment/random-states.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { LmdbStore, type TrieNodeWrite, trieNodeKey } from '../storage/lmdb-store.ts'
import { accountUpdates, SubtrieEngine } from './engine.ts'
import { proveStorage } from './proof.ts'
import { MissingNodeError, type NodeSink } from './trie.ts'

type Store = Map<string, Uint8Array>
const loaderOf = (store: Store) => ({ loadNode: (hash: Uint8Array) => store.get(bytesToHex(hash)) })
const sinkOf = (store: Store): NodeSink => (hash, enc) => store.set(bytesToHex(hash), enc)

/** Many accounts, some with storage: enough nodes for a small budget to release levels. */
function bigGenesis(): StateDelta {
  const delta = createStateDelta()
  for (let i = 0; i < 3_000; i++) {
    const address = bytesToHex(keccak256(Uint8Array.of(i >> 8, i & 255, 7)).subarray(12)).slice(2)
    delta.accounts.set(address, { nonce: BigInt(i), balance: BigInt(i) * 10n ** 15n, codeHash: KECCAK256_NULL })
    if (i % 50 === 0) delta.storage.set(address, new Map(Array.from({ length: 40 }, (_, s) => [s.toString(16).padStart(64, '0'), Uint8Array.of(s + 1)])))
  }
  return delta
}

/** Apply `deltas` to an engine over `store`, trimming to `budget` after each block; roots and witness nodes per block. */
function run(deltas: readonly StateDelta[], store: Store, budget: number | undefined) {
  const engine = new SubtrieEngine(1, new Map(), loaderOf(store), false)
  const blocks: { roots: string; witness: string[] }[] = []
  let maxAfterTrim = 0
  let releases = 0
  for (const delta of deltas) {
    const witness = new Set<string>()
    const roots = engine.apply(accountUpdates(delta), sinkOf(store), (hash) => witness.add(bytesToHex(hash)))
    blocks.push({ roots: roots.map((r) => `${r.index}:${bytesToHex(r.root)}`).join(','), witness: [...witness].sort() })
    if (budget !== undefined) {
      const memory = engine.trim(budget)
      maxAfterTrim = Math.max(maxAfterTrim, memory.bytes)
      releases = memory.releases
    }
  }
  return { blocks, loads: engine.loads, maxAfterTrim, releases, engine }
}

describe('commitment engine memory', () => {
  it('behavior: released trie levels are read back from the store — the same roots and witnesses as with every node in memory, within the budget', () => {
    const state: FullState = { accounts: new Map(), storage: new Map() }
    const deltas = [bigGenesis(), ...randomDeltas(11, 40, state)]
    const budget = 200_000
    const all = run(deltas, new Map(), undefined)
    const trimmed = run(deltas, new Map(), budget)
    assert.ok(trimmed.releases > 0, 'the budget was reached and levels released')
    assert.ok(trimmed.maxAfterTrim <= budget, `estimated bytes after trimming ${trimmed.maxAfterTrim} ≤ budget ${budget}`)
    assert.ok(trimmed.loads > all.loads, `released nodes were loaded again (${trimmed.loads} loads against ${all.loads})`)
    assert.deepEqual(trimmed.blocks, all.blocks)
  })

  it('behavior: a released node is really gone from memory: without it in the store, the next block that needs it fails (negative control)', () => {
    const store: Store = new Map()
    const genesis = bigGenesis()
    const engine = new SubtrieEngine(1, new Map(), loaderOf(store), false)
    engine.apply(accountUpdates(genesis), sinkOf(store))
    const untrimmed = new SubtrieEngine(1, new Map(), loaderOf(store), false)
    untrimmed.apply(accountUpdates(genesis), () => {})
    engine.trim(100_000)
    store.clear()
    const touch = createStateDelta()
    for (const [address] of genesis.accounts) touch.accounts.set(address, { nonce: 1n, balance: 1n, codeHash: KECCAK256_NULL })
    assert.throws(() => engine.apply(accountUpdates(touch)), MissingNodeError)
    // The same block on an engine that kept every node needs nothing from the store.
    assert.doesNotThrow(() => untrimmed.apply(accountUpdates(touch)))
  })
})

describe('commitment engine pruning', () => {
  it('behavior: two accounts with the same storage keep their own stored nodes: pruning what one left never takes the other\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-engine-prune-'))
    const store = LmdbStore.open(dir)
    after(async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    })
    const engine = new SubtrieEngine(1, new Map(), store, false)
    const [a, b] = ['00000000000000000000000000000000000000a1', '00000000000000000000000000000000000000b2']
    const slots = Array.from({ length: 6 }, (_, i) => i.toString(16).padStart(64, '0'))
    let block = 1n
    /** One block through the engine into the store, pruned at once (a window of 0 blocks). */
    const apply = async (delta: StateDelta) => {
      const nodes: TrieNodeWrite[] = []
      const stale: Uint8Array[] = []
      engine.apply(accountUpdates(delta), (hash, enc, owner) => nodes.push([hash, enc, owner]), undefined, (hash, owner) => stale.push(trieNodeKey(hash, owner)))
      await store.putTrieNodes(block, nodes, stale, 0)
      const pruned = await store.pruneTrieNodes(block, 0, 1)
      block++
      return pruned
    }
    const same = createStateDelta()
    for (const address of [a, b]) {
      same.accounts.set(address, { nonce: 1n, balance: 1n, codeHash: KECCAK256_NULL })
      same.storage.set(address, new Map(slots.map((slot, i) => [slot, Uint8Array.of(i + 1)])))
    }
    await apply(same)
    // Every slot of a changes: the nodes of a's old storage trie leave it.
    const change = createStateDelta()
    change.storage.set(a, new Map(slots.map((slot, i) => [slot, Uint8Array.of(i + 100)])))
    assert.ok((await apply(change)) > 0, 'a\'s old storage nodes were pruned')
    // b's storage trie, equal to a's old one, is still whole in the store.
    const owner = keccak256(unprefixedHexToBytes(b))
    const storageRoot = engine.account(owner)!.storageRoot
    slots.forEach((slot, i) => assert.deepEqual(Uint8Array.from(proveStorage(store, storageRoot, unprefixedHexToBytes(slot), owner).value), Uint8Array.of(i + 1), `slot ${i} of b`))
  })
})
