import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { randomDeltas, type FullState } from '../../test/commitment/random-states.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { accountUpdates, SubtrieEngine } from './engine.ts'
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
