import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMPT } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { Account, bytesToHex, createAddressFromString, equalsBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import { asDelta, type FullState, randomDeltas } from '../../test/commitment/random-states.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { accountUpdates, SubtrieEngine } from './engine.ts'
import { encodeAccountLeaf, layoutOf, type Layout } from './layout.ts'
import { leavesFromStore } from './binary-merkle.ts'
import { computeStateRoot, createAggregator } from './root.ts'
import { EMPTY_ROOT } from './trie.ts'

/** The Ethereum state root of a whole state, with @ethereumjs/mpt only. */
async function ethereumjsRoot(state: FullState): Promise<Uint8Array> {
  const accounts = await createMPT({ useKeyHashing: true })
  for (const [address, record] of state.accounts) {
    const storage = await createMPT({ useKeyHashing: true })
    for (const [slot, value] of state.storage.get(address) ?? []) await storage.put(unprefixedHexToBytes(slot), RLP.encode(value))
    await accounts.put(unprefixedHexToBytes(address), encodeAccountLeaf({ ...record, storageRoot: storage.root() }))
  }
  return accounts.root()
}

/** Apply deltas block by block through the engine and aggregator, reloading every block from stored nodes. */
function incrementalRoots(layout: Layout, deltas: Iterable<StateDelta>, onRoot: (root: Uint8Array) => Promise<void> | void) {
  const store = new Map<string, Uint8Array>()
  const loader = { loadNode: (hash: Uint8Array) => store.get(bytesToHex(hash)) }
  const sink = (hash: Uint8Array, enc: Uint8Array) => store.set(bytesToHex(hash), enc)
  const aggregator = createAggregator(layout)
  const roots = new Map<number, Uint8Array>()
  return (async () => {
    for (const delta of deltas) {
      // A fresh engine per block: only the sub-trie roots survive, every node comes from the store.
      const engine = new SubtrieEngine(layout.splitNibbles, roots, loader)
      const changed = engine.apply(accountUpdates(delta), sink)
      for (const { index, root } of changed) roots.set(index, root)
      aggregator.update(changed)
      await onRoot(aggregator.commit(sink))
    }
  })()
}

describe('state commitment roots', () => {
  it('behavior: mpt roots equal @ethereumjs/mpt roots of the same state after every generated block', async () => {
    for (const seed of [11, 12, 13]) {
      const state: FullState = { accounts: new Map(), storage: new Map() }
      let block = 0
      await incrementalRoots(layoutOf('mpt', 1), randomDeltas(seed, 25, state), async (root) => {
        assert.equal(bytesToHex(root), bytesToHex(await ethereumjsRoot(state)), `seed ${seed} block ${block++}`)
      })
    }
  })

  it('behavior: the mpt root of a state equals MerkleStateManager’s', async () => {
    const state: FullState = { accounts: new Map(), storage: new Map() }
    for (const _ of randomDeltas(21, 30, state));
    const sm = new MerkleStateManager()
    for (const [address, record] of state.accounts) {
      const at = createAddressFromString(`0x${address}`)
      await sm.putAccount(at, new Account(record.nonce, record.balance, EMPTY_ROOT, record.codeHash))
      for (const [slot, value] of state.storage.get(address) ?? []) await sm.putStorage(at, unprefixedHexToBytes(slot), value)
    }
    assert.ok(state.accounts.size > 5 && state.storage.size > 2)
    assert.equal(bytesToHex(computeStateRoot(asDelta(state), layoutOf('mpt', 1))), bytesToHex(await sm.getStateRoot()))
  })

  it('behavior: sharded roots updated block by block equal a from-scratch recomputation, for k = 1, 2, 3', async () => {
    for (const k of [1, 2, 3]) {
      const layout = layoutOf('sharded', k)
      const state: FullState = { accounts: new Map(), storage: new Map() }
      let block = 0
      await incrementalRoots(layout, randomDeltas(30 + k, 25, state), (root) => {
        assert.equal(bytesToHex(root), bytesToHex(computeStateRoot(asDelta(state), layout)), `k ${k} block ${block++}`)
      })
    }
  })

  it('behavior: the two modes commit to one state differently; an empty state is the empty-trie root in mpt mode, the all-empty tree in sharded mode', () => {
    const state: FullState = { accounts: new Map(), storage: new Map() }
    for (const _ of randomDeltas(41, 5, state));
    const mpt = computeStateRoot(asDelta(state), layoutOf('mpt', 1))
    const sharded = computeStateRoot(asDelta(state), layoutOf('sharded', 3))
    assert.notEqual(bytesToHex(mpt), bytesToHex(sharded))
    // An empty sharded state: every leaf is the empty-trie root, so the root is zero[12], not EMPTY_ROOT.
    assert.equal(bytesToHex(computeStateRoot(createStateDelta(), layoutOf('mpt', 1))), bytesToHex(EMPTY_ROOT))
    assert.notEqual(bytesToHex(computeStateRoot(createStateDelta(), layoutOf('sharded', 3))), bytesToHex(EMPTY_ROOT))
  })

  it('behavior: the aggregate nodes reported stale are exactly those no longer in the state: pruning them leaves the current root\'s aggregate nodes, no more, no fewer', async () => {
    for (const layout of [layoutOf('mpt', 1), layoutOf('sharded', 1), layoutOf('sharded', 2)]) {
      for (const reportStale of [true, false]) {
        const { stored, reachable } = await prunedAggregate(layout, reportStale)
        if (reportStale) assert.deepEqual([...stored].sort(), [...reachable].sort(), `${layout.mode} ${layout.splitNibbles}`)
        // Negative control: without the stale reports, replaced aggregate nodes stay.
        else assert.ok(stored.size > reachable.size + 5, `${layout.mode} ${layout.splitNibbles}: ${stored.size} stored, ${reachable.size} reachable`)
      }
    }
  })
})

/**
 * Random blocks through the engine and aggregator; the aggregate nodes go to a store of their own
 * where, after each block, the nodes reported stale in it are deleted unless written again in it
 * or later (the store's rule, `pruneTrieNodes`, with no history kept). Returns the hashes left
 * and those of the aggregate nodes under the last root (read by walking it).
 */
async function prunedAggregate(layout: Layout, reportStale: boolean): Promise<{ stored: Set<string>; reachable: Set<string> }> {
  const subtrieNodes = new Map<string, Uint8Array>()
  const loader = { loadNode: (hash: Uint8Array) => subtrieNodes.get(bytesToHex(hash)) }
  const aggregate = new Map<string, { enc: Uint8Array; writtenAt: number }>()
  const aggregator = createAggregator(layout)
  const roots = new Map<number, Uint8Array>()
  const state: FullState = { accounts: new Map(), storage: new Map() }
  let root = EMPTY_ROOT
  let block = 0
  for (const delta of randomDeltas(40 + layout.splitNibbles, 40, state)) {
    block++
    const engine = new SubtrieEngine(layout.splitNibbles, roots, loader)
    const changed = engine.apply(accountUpdates(delta), (hash, enc) => subtrieNodes.set(bytesToHex(hash), enc))
    for (const { index, root: subtrieRoot } of changed) roots.set(index, subtrieRoot)
    aggregator.update(changed)
    const stale: Uint8Array[] = []
    root = aggregator.commit((hash, enc) => aggregate.set(bytesToHex(hash), { enc, writtenAt: block }), reportStale ? (hash) => stale.push(hash) : undefined)
    for (const hash of stale) if (aggregate.get(bytesToHex(hash))!.writtenAt < block) aggregate.delete(bytesToHex(hash))
  }
  const reachable = new Set<string>()
  if (layout.mode === 'mpt') {
    if (!equalsBytes(root, EMPTY_ROOT)) reachable.add(bytesToHex(root))
  } else {
    const recording = { loadNode: (hash: Uint8Array) => (reachable.add(bytesToHex(hash)), aggregate.get(bytesToHex(hash))?.enc) }
    leavesFromStore(recording, root, 4 * layout.splitNibbles)
  }
  assert.ok(reachable.size > 0 && state.accounts.size > 0)
  return { stored: new Set(aggregate.keys()), reachable }
}
