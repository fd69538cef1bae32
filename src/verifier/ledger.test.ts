import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Hex } from 'viem'
import { FAILURES_LISTED, type LedgerVerdict, VerdictLedger } from './ledger.ts'

const hashOf = (index: bigint, version = 0) => `0x${index.toString(16).padStart(4, '0')}${version.toString(16).padStart(60, '0')}` as Hex
const verdict = (block: bigint, index: bigint, ok = true, version = 0): LedgerVerdict => ({
  block: block.toString(),
  batch: index.toString(),
  batchHash: hashOf(index, version),
  ok,
  ...(ok ? {} : { code: 'block.post-state-root', reason: 'wrong root' }),
})

/** Batches of 4 blocks: batch i holds blocks 4i+1 … 4i+4. */
function scheduleAndVerify(ledger: VerdictLedger<LedgerVerdict>, batches: bigint, failing: ReadonlySet<bigint> = new Set()): void {
  for (let i = 0n; i < batches; i++) {
    ledger.schedule(i, hashOf(i), 4n * i + 1n, 4n * i + 4n, 0)
    for (let n = 4n * i + 1n; n <= 4n * i + 4n; n++) ledger.record(verdict(n, i, !failing.has(n)))
  }
}

describe('VerdictLedger', () => {
  it('behavior: what it holds per block stays within the batches the L1 has not finalized, however long the chain', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(1n, undefined)
    for (let round = 0n; round < 50n; round++) {
      for (let i = round * 100n; i < (round + 1n) * 100n; i++) {
        ledger.schedule(i, hashOf(i), 4n * i + 1n, 4n * i + 4n, 0)
        for (let n = 4n * i + 1n; n <= 4n * i + 4n; n++) ledger.record(verdict(n, i))
      }
      // The L1 finalizes all but the last 10 batches.
      ledger.settle((round + 1n) * 100n - 10n)
      assert.deepEqual(ledger.retained, { batches: 10, blocks: 40 })
    }
    const summary = ledger.summary()
    assert.equal(summary.ok, 50 * 100 * 4)
    assert.equal(summary.failed, 0)
    assert.ok(summary.has(1n) && summary.has(20_000n) && !summary.has(20_001n) && !summary.has(0n))
  })

  it('behavior: a batch settles only once finalized and once every one of its blocks has a verdict', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(1n, undefined)
    ledger.schedule(0n, hashOf(0n), 1n, 4n, 0)
    ledger.schedule(1n, hashOf(1n), 5n, 8n, 0)
    for (const n of [1n, 2n, 3n, 4n, 5n, 6n, 8n]) ledger.record(verdict(n, n <= 4n ? 0n : 1n))
    assert.equal(ledger.settle(0n), 0, 'nothing finalized')
    assert.equal(ledger.settle(2n), 1, 'batch 1 waits for block 7')
    assert.equal(ledger.settled, 1n)
    assert.deepEqual(
      ledger.waiting().map((w) => w.block),
      [7n],
    )
    ledger.record(verdict(7n, 1n))
    assert.equal(ledger.settle(2n), 1)
    assert.deepEqual(ledger.retained, { batches: 0, blocks: 0 })
    assert.equal(ledger.summary().ok, 8)
  })

  it('behavior: after a failure every later block counts as failed (block.unverified-parent), settled or not, and the list is bounded', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(1n, undefined)
    scheduleAndVerify(ledger, 100n, new Set([6n]))
    ledger.settle(50n)
    const summary = ledger.summary()
    assert.equal(summary.ok, 5)
    assert.equal(summary.failed, 395)
    assert.equal(summary.failures.length, FAILURES_LISTED)
    assert.deepEqual(
      summary.failures.slice(0, 3).map((f) => [f.block, f.code]),
      [
        ['6', 'block.post-state-root'],
        ['7', 'block.unverified-parent'],
        ['8', 'block.unverified-parent'],
      ],
    )
    assert.match(summary.failures[1]!.reason!, /block 6 failed verification/)
  })

  it('behavior: a reorg replaces an unsettled batch — its verdicts stop counting, and count again if the reorg is undone', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(1n, undefined)
    scheduleAndVerify(ledger, 2n, new Set([5n]))
    assert.equal(ledger.summary().failed, 4)
    // The L1 replaces batch 1 with another version, honest this time.
    ledger.forgetFrom(1n)
    assert.equal(ledger.hashOf(1n), undefined)
    ledger.schedule(1n, hashOf(1n, 1), 5n, 8n, 0)
    assert.equal(ledger.summary().failed, 0, 'the replaced batch’s FAILED verdict no longer counts')
    assert.deepEqual(
      ledger.waiting().map((w) => w.block),
      [5n, 6n, 7n, 8n],
    )
    for (let n = 5n; n <= 8n; n++) ledger.record(verdict(n, 1n, true, 1))
    assert.deepEqual([ledger.summary().ok, ledger.summary().failed], [8, 0])
    // Undone: the first version is back, and so is its verdict.
    ledger.forgetFrom(1n)
    ledger.schedule(1n, hashOf(1n), 5n, 8n, 0)
    assert.deepEqual([ledger.summary().ok, ledger.summary().failed], [4, 4])
    // Settled, the verdicts of both versions go.
    ledger.settle(2n)
    assert.deepEqual(ledger.retained, { batches: 0, blocks: 0 })
    assert.equal(ledger.hashOf(1n), hashOf(1n))
  })

  it('behavior: only blocks from `from` through `to` are waited for and counted', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(3n, 6n)
    ledger.schedule(0n, hashOf(0n), 1n, 4n, 0)
    ledger.schedule(1n, hashOf(1n), 5n, 8n, 0)
    assert.deepEqual(
      ledger.waiting().map((w) => w.block),
      [3n, 4n, 5n, 6n],
    )
    for (const n of [3n, 4n]) ledger.record(verdict(n, 0n))
    for (const n of [5n, 6n]) ledger.record(verdict(n, 1n))
    assert.equal(ledger.settle(2n), 2)
    const summary = ledger.summary()
    assert.equal(summary.ok, 4)
    assert.ok(!summary.has(2n) && summary.has(3n) && summary.has(6n))
  })

  it('behavior: a verifier from far into the chain settles the batches before `from`, holding nothing for them', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(40_000_001n, undefined)
    for (let i = 0n; i < 10n; i++) ledger.schedule(i, hashOf(i), 4_000_000n * i + 1n, 4_000_000n * (i + 1n), 0)
    ledger.schedule(10n, hashOf(10n), 40_000_001n, 40_000_004n, 0)
    for (let n = 40_000_001n; n <= 40_000_004n; n++) ledger.record(verdict(n, 10n))
    assert.equal(ledger.settle(11n), 11)
    assert.deepEqual([ledger.summary().ok, ledger.retained.blocks], [4, 0])
  })

  it('behavior: a verdict on a settled block is ignored, and known', () => {
    const ledger = new VerdictLedger<LedgerVerdict>(1n, undefined)
    scheduleAndVerify(ledger, 1n)
    ledger.settle(1n)
    const late = verdict(2n, 0n, false, 3)
    assert.equal(ledger.knows(late), true)
    ledger.record(late)
    assert.deepEqual([ledger.summary().ok, ledger.summary().failed, ledger.retained.blocks], [4, 0, 0])
    assert.equal(ledger.knows(verdict(5n, 1n)), false)
  })
})
