import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createStateDelta } from '../state/types.ts'
import { type BlockEvent, LmdbStore, type StoredBlock } from '../storage/lmdb-store.ts'
import { BlockEvents } from './block-events.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-events-'))
  dirs.push(dir)
  return dir
}
function block(number: bigint): StoredBlock {
  return { number, hash: new Uint8Array(32).fill(Number(number)), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }
}
const commitment = (number: bigint) => ({ number, root: new Uint8Array(32).fill(Number(number)), witness: undefined, nodes: [] })
const text = (events: readonly BlockEvent[]) => events.map((e) => `${e.sequence}:${e.block}:${e.status}`)

describe('block events', () => {
  it('behavior: each block\'s life is numbered in the order it happened, heard once each in order, and resumes after a reopen with no gap and no duplicate', async () => {
    const dir = tempDir()
    let store = LmdbStore.open(dir)
    let events = new BlockEvents(store)
    const heard: BlockEvent[] = []
    events.on('event', (e) => heard.push(e))
    // Commits started together, finishing in one turn: still heard in sequence order. (Blocks
    // are written one at a time: a block's change set is read from its parent's state.)
    await store.writeBlock(block(0n), createStateDelta())
    await Promise.all([store.writeBlock(block(1n), createStateDelta()), store.writeCommitments([commitment(0n), commitment(1n)])])
    await store.recordL1Progress(1n, 0n, (n) => ({ batch: '0', l1Block: String(10n + n) }))
    assert.deepEqual(text(heard), ['1:0:executed', '2:1:executed', '3:0:rooted', '4:1:rooted', '5:1:posted'])
    assert.deepEqual(heard.at(-1)!.data, { batch: '0', l1Block: '11' })
    assert.equal(heard[2]!.data.stateRoot, `0x${'00'.repeat(32)}`)
    // Nothing new from the L1: no event; the finalized block catches up later.
    await store.recordL1Progress(1n, 0n, () => undefined)
    assert.equal(heard.length, 5)
    await store.close()

    store = LmdbStore.open(dir)
    events = new BlockEvents(store)
    assert.equal(events.lastSequence, 5n)
    await store.writeBlock(block(2n), createStateDelta())
    await store.recordL1Progress(2n, 2n, () => undefined)
    // A client that saw event 3 reads on from 4: every later event once, in order.
    assert.deepEqual(text(events.read(3n, 100)), ['4:1:rooted', '5:1:posted', '6:2:executed', '7:2:posted', '8:1:finalized', '9:2:finalized'])
    await store.close()
  })

  it('behavior: verdicts become `verified` events in block order after the block\'s `posted`, each block once, also when a restarted verifier repeats them', async () => {
    const dir = tempDir()
    let store = LmdbStore.open(dir)
    let events = new BlockEvents(store)
    for (let n = 0n; n <= 3n; n++) await store.writeBlock(block(n), createStateDelta())
    const heard: BlockEvent[] = []
    events.on('event', (e) => heard.push(e))
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50))
    events.verdict({ block: 2n, ok: true, batch: '0' })
    await settle()
    assert.equal(heard.length, 0, 'block 2 waits for block 1')
    events.verdict({ block: 1n, ok: false, batch: '0', reason: 'STATE_ROOT' })
    await settle()
    assert.equal(heard.length, 0, 'verdicts wait for the blocks to be posted')
    await store.recordL1Progress(2n, 0n, () => undefined)
    await settle()
    assert.deepEqual(text(heard), ['5:1:posted', '6:2:posted', '7:1:verified', '8:2:verified'])
    assert.deepEqual(heard[2]!.data, { ok: false, batch: '0', reason: 'STATE_ROOT' })
    await store.close()
    store = LmdbStore.open(dir)
    events = new BlockEvents(store)
    const again: BlockEvent[] = []
    events.on('event', (e) => again.push(e))
    await store.recordL1Progress(3n, 0n, () => undefined)
    for (const block of [1n, 2n, 3n]) events.verdict({ block, ok: true, batch: '1' })
    await settle()
    assert.deepEqual(text(again), ['9:3:posted', '10:3:verified'])
    await store.close()
  })

  it('behavior: past BLOCK_EVENTS_KEPT the oldest events are pruned, and the oldest kept is known', async () => {
    const store = LmdbStore.open(tempDir(), { blockEventsKept: 5 })
    try {
      for (let n = 0n; n < 10n; n++) await store.writeBlock(block(n), createStateDelta())
      assert.equal(store.lastBlockEvent, 10n)
      assert.equal(store.oldestBlockEvent(), 6n)
      assert.deepEqual(text(store.readBlockEvents(0n, 100)), ['6:5:executed', '7:6:executed', '8:7:executed', '9:8:executed', '10:9:executed'])
    } finally {
      await store.close()
    }
  })
})
