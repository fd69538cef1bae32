import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, concatBytes, unprefixedHexToBytes } from '@ethereumjs/util'
import { asDelta, type FullState, randomDeltas } from '../../test/commitment/random-states.ts'
import { createStateDelta } from '../state/types.ts'
import { LmdbStore } from '../storage/lmdb-store.ts'
import { layoutOf, type Layout } from './layout.ts'
import { CommitmentPipeline } from './pipeline.ts'
import { computeStateRoot } from './root.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-commitment-'))
  dirs.push(dir)
  return dir
}

/** Submit `blocks` random deltas and check each root against a from-scratch recomputation. */
async function run(pipeline: CommitmentPipeline, layout: Layout, seed: number, blocks: number, state: FullState, first: bigint) {
  const expected: string[] = []
  let n = first
  for (const delta of randomDeltas(seed, blocks, state)) {
    pipeline.submit(n, delta)
    pipeline.markDurable(n)
    expected.push(bytesToHex(computeStateRoot(asDelta(state), layout)))
    n++
  }
  for (let i = 0; i < blocks; i++) assert.equal(bytesToHex(await pipeline.rootOf(first + BigInt(i))), expected[i], `block ${first + BigInt(i)}`)
  await pipeline.flush()
}

describe('commitment pipeline', () => {
  for (const layout of [layoutOf('mpt', 1), layoutOf('sharded', 2)]) {
    it(`behavior: ${layout.mode} roots computed on 2 worker threads equal from-scratch roots, and survive a restart from LMDB`, async () => {
      const dir = tempDir()
      const state: FullState = { accounts: new Map(), storage: new Map() }
      let store = LmdbStore.open(dir)
      let pipeline = await CommitmentPipeline.open({ layout, threads: 2, store, dataDir: dir })
      await run(pipeline, layout, 7, 20, state, 0n)
      assert.equal(pipeline.stats().durable, 19n)
      await pipeline.close()
      await store.close()

      // Restart: the tries come back from the sub-trie roots and nodes in LMDB alone.
      store = LmdbStore.open(dir)
      pipeline = await CommitmentPipeline.open({ layout, threads: 2, store, dataDir: dir })
      assert.equal(pipeline.expected, 20n)
      assert.equal(bytesToHex(await pipeline.rootOf(19n)), bytesToHex(computeStateRoot(asDelta(state), layout)))
      await run(pipeline, layout, 8, 15, state, 20n)
      assert.ok(pipeline.stats().loadsOnUpdate > 0, 'nodes were loaded from LMDB after the restart')
      await pipeline.close()
      await store.close()
    })
  }

  it('behavior: prefetch loads the paths of the accounts a block will write, so updating them loads nothing from LMDB', async () => {
    const dir = tempDir()
    const layout = layoutOf('mpt', 1)
    const state: FullState = { accounts: new Map(), storage: new Map() }
    const store = LmdbStore.open(dir)
    const first = await CommitmentPipeline.open({ layout, threads: 2, store, dataDir: dir })
    await run(first, layout, 21, 10, state, 0n)
    await first.close()
    // Balance changes of existing accounts, applied by a restarted pipeline (nothing in memory).
    const block = (n: number) => {
      const delta = createStateDelta()
      for (const [address, record] of [...state.accounts].slice(n * 5, n * 5 + 5)) delta.accounts.set(address, { ...record, balance: record.balance + 1n })
      return delta
    }
    const loads: { prefetch: number; update: number }[] = []
    for (const prefetch of [false, true]) {
      const pipeline = await CommitmentPipeline.open({ layout, threads: 2, store, dataDir: dir })
      const delta = block(prefetch ? 1 : 0)
      if (prefetch) pipeline.prefetch(concatBytes(...[...delta.accounts.keys()].map((address) => unprefixedHexToBytes(address))))
      pipeline.submit(pipeline.expected, delta)
      await pipeline.rootOf(pipeline.expected - 1n)
      loads.push({ prefetch: pipeline.stats().loadsOnPrefetch, update: pipeline.stats().loadsOnUpdate })
      await pipeline.close()
    }
    assert.ok(loads[0]!.update > 0 && loads[0]!.prefetch === 0, `without prefetch: ${JSON.stringify(loads[0])}`)
    assert.ok(loads[1]!.prefetch > 0 && loads[1]!.update === 0, `with prefetch: ${JSON.stringify(loads[1])}`)
    await store.close()
  })

  it('behavior: the trie nodes of a block are stored only once the block is durable, not during its own write', async () => {
    const dir = tempDir()
    const layout = layoutOf('mpt', 1)
    const state: FullState = { accounts: new Map(), storage: new Map() }
    const store = LmdbStore.open(dir)
    const pipeline = await CommitmentPipeline.open({ layout, threads: 1, store, dataDir: dir })
    const [delta] = randomDeltas(31, 1, state)
    pipeline.submit(0n, delta!)
    await pipeline.rootOf(0n)
    // Long enough for a write that started with the root to have landed (~1 ms here).
    await new Promise((resolve) => setTimeout(resolve, 300))
    store.refreshReads()
    assert.equal(store.trieNodeCounts().nodes, 0, 'nodes were stored before the block was durable')
    pipeline.markDurable(0n)
    await pipeline.flush()
    store.refreshReads()
    assert.ok(store.trieNodeCounts().nodes > 0, 'no node was stored once the block was durable')
    assert.equal(pipeline.stats().durable, 0n)
    await pipeline.close()
    await store.close()
  })

  it('behavior: one thread and three give the same roots', async () => {
    const layout = layoutOf('sharded', 3)
    const roots: string[][] = []
    for (const threads of [1, 3]) {
      const pipeline = await CommitmentPipeline.open({ layout, threads })
      const state: FullState = { accounts: new Map(), storage: new Map() }
      let n = 0n
      for (const delta of randomDeltas(5, 12, state)) pipeline.submit(n++, delta)
      const list: string[] = []
      for (let i = 0n; i < n; i++) list.push(bytesToHex(await pipeline.rootOf(i)))
      roots.push(list)
      await pipeline.close()
    }
    assert.deepEqual(roots[0], roots[1])
  })

  it('behavior: a data dir keeps its commitment layout; another one is refused with a message naming the option', async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    const pipeline = await CommitmentPipeline.open({ layout: layoutOf('sharded', 3), threads: 1, store, dataDir: dir })
    await pipeline.close()
    await assert.rejects(() => CommitmentPipeline.open({ layout: layoutOf('mpt', 1), threads: 1, store, dataDir: dir }), /sharded:3 state commitment, but mpt is configured: set STATE_COMMITMENT/)
    await store.close()
  })

  it('behavior: blocks must be submitted in order', async () => {
    const pipeline = await CommitmentPipeline.open({ layout: layoutOf('mpt', 1), threads: 1 })
    const state: FullState = { accounts: new Map(), storage: new Map() }
    const [delta] = [...randomDeltas(1, 1, state)]
    assert.throws(() => pipeline.submit(1n, delta!), /expected block 0, got 1/)
    await pipeline.close()
  })
})
