/**
 * What an L1-following verifier (`follow-l1.ts`) knows about the blocks it scheduled: the batches
 * on the L1 that hold them, and the verdicts given (by this process or any other on the same
 * queue). Bounded by the L1's finality, not by the chain's length: once the L1 has finalized a
 * batch and every block of it has its verdict, the batch is settled — its verdicts are folded
 * into counts and the first failures, and nothing of it is kept per block. A verdict counts only
 * for the batch hash it was given under while that batch is on the L1; a batch an L1 reorg
 * replaced keeps its verdicts until its blocks settle, in case the reorg is undone.
 */
import type { Hex } from 'viem'

/** The verdict on one block, as a verification job returns it (`follow-l1.ts`'s `BlockVerdict` adds what it measured). */
export type LedgerVerdict = {
  readonly block: string
  readonly batch: string
  /** The hash of the batch the block was verified in; a verdict counts only while the L1 has that batch. */
  readonly batchHash?: Hex
  readonly ok: boolean
  /** The rule a FAILED block broke (`VerdictReason`). */
  readonly code?: string
  readonly reason?: string
}

/** Failing blocks listed by `summary()`, the first in block order; the rest are counted. */
export const FAILURES_LISTED = 100

/** The verdicts that count, by what a status reports. */
export type VerdictSummary<V extends LedgerVerdict> = {
  readonly ok: number
  readonly failed: number
  /** The first FAILURES_LISTED failing blocks, in block order (those after a failure as `block.unverified-parent`). */
  readonly failures: readonly V[]
  /** Whether block `n` has a verdict that counts. */
  has(n: bigint): boolean
}

type ScheduledBatch = { readonly hash: Hex; readonly first: bigint; readonly last: bigint; readonly at: number }

export class VerdictLedger<V extends LedgerVerdict> {
  /** Batches scheduled and not settled, by index. */
  private readonly batches = new Map<bigint, ScheduledBatch>()
  /** Verdicts of blocks not settled: by block, then by the batch hash they were given under. */
  private readonly verdicts = new Map<bigint, Map<Hex, V>>()
  /** Batches settled: indices below this. */
  private settledBatches = 0n
  /** The last settled batch's hash, to tell whether the L1 still has it. */
  private settledHash: Hex | undefined
  /** The last block of the last settled batch. */
  private settledThrough = 0n
  private settledOk = 0
  private settledFailed = 0
  private readonly settledFailures: V[] = []
  /** The first failing block settled: every block after it fails as `block.unverified-parent`. */
  private firstFailed: bigint | undefined

  /** Verify blocks `from` through `to` (all after `from` without `to`). */
  constructor(
    private readonly from: bigint,
    private readonly to: bigint | undefined,
  ) {}

  /** Indices below this are settled: the L1 finalized them, and they are never scheduled again. */
  get settled(): bigint {
    return this.settledBatches
  }

  /** The hash batch `index` was scheduled under, the last settled one's included; undefined for one unknown. */
  hashOf(index: bigint): Hex | undefined {
    if (index === this.settledBatches - 1n) return this.settledHash
    return this.batches.get(index)?.hash
  }

  /** Batch `index` (blocks `first` through `last`) is on the L1 as `hash`, its jobs added at `at` (ms since the epoch). */
  schedule(index: bigint, hash: Hex, first: bigint, last: bigint, at: number): void {
    if (index < this.settledBatches) return
    this.batches.set(index, { hash, first, last, at })
  }

  /** An L1 reorg replaced batches `index` and after: they count for nothing until scheduled again. */
  forgetFrom(index: bigint): void {
    for (const k of [...this.batches.keys()]) if (k >= index) this.batches.delete(k)
  }

  /** A verdict given: kept under its batch hash; ignored for a settled block. */
  record(verdict: V): void {
    const n = BigInt(verdict.block)
    if (verdict.batchHash === undefined || n <= this.settledThrough) return
    let byHash = this.verdicts.get(n)
    if (byHash === undefined) this.verdicts.set(n, (byHash = new Map()))
    byHash.set(verdict.batchHash, verdict)
  }

  /** Whether `verdict` is recorded already, or its block settled. */
  knows(verdict: V): boolean {
    const n = BigInt(verdict.block)
    return n <= this.settledThrough || (verdict.batchHash !== undefined && this.verdicts.get(n)?.has(verdict.batchHash) === true)
  }

  /**
   * Settle, in order, every scheduled batch below `finalizedNext` (the inbox's batch count at
   * the L1's finalized block) whose blocks all have a verdict under its hash. Returns how many.
   */
  settle(finalizedNext: bigint): number {
    let count = 0
    for (;;) {
      const index = this.settledBatches
      const batch = this.batches.get(index)
      if (batch === undefined || index >= finalizedNext) return count
      const [first, last] = this.range(batch)
      const verdicts: V[] = []
      for (let n = first; n <= last; n++) {
        const verdict = this.verdicts.get(n)?.get(batch.hash)
        if (verdict === undefined) return count
        verdicts.push(verdict)
      }
      for (const verdict of verdicts) {
        const counted = this.counted(verdict, this.firstFailed)
        if (counted.ok) this.settledOk++
        else {
          this.settledFailed++
          this.firstFailed ??= BigInt(verdict.block)
          if (this.settledFailures.length < FAILURES_LISTED) this.settledFailures.push(counted)
        }
      }
      // Every verdict on these blocks goes, under any hash: no batch can hold them again. (Walked
      // by what is held when that is fewer: a verifier `--from` far into the chain settles the
      // batches before it, holding nothing for them.)
      if (BigInt(this.verdicts.size) < batch.last - this.settledThrough) {
        for (const n of [...this.verdicts.keys()]) if (n <= batch.last) this.verdicts.delete(n)
      } else for (let n = this.settledThrough + 1n; n <= batch.last; n++) this.verdicts.delete(n)
      this.batches.delete(index)
      this.settledBatches = index + 1n
      this.settledHash = batch.hash
      if (batch.last > this.settledThrough) this.settledThrough = batch.last
      count++
    }
  }

  /** The verdicts that count: settled ones, then those under the hashes of the batches on the L1. */
  summary(): VerdictSummary<V> {
    let ok = this.settledOk
    let failed = this.settledFailed
    const failures = [...this.settledFailures]
    let firstFailed = this.firstFailed
    const have = new Set<bigint>()
    for (const index of [...this.batches.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const batch = this.batches.get(index)!
      const [first, last] = this.range(batch)
      for (let n = first; n <= last; n++) {
        const verdict = this.verdicts.get(n)?.get(batch.hash)
        if (verdict === undefined) continue
        have.add(n)
        const counted = this.counted(verdict, firstFailed)
        if (counted.ok) ok++
        else {
          failed++
          firstFailed ??= n
          if (failures.length < FAILURES_LISTED) failures.push(counted)
        }
      }
    }
    const { from, settledThrough } = this
    return { ok, failed, failures, has: (n) => (n >= from && n <= settledThrough) || have.has(n) }
  }

  /** Scheduled blocks without a verdict that counts, each with when its batch was scheduled. */
  waiting(): { block: bigint; since: number }[] {
    const out: { block: bigint; since: number }[] = []
    for (const batch of this.batches.values()) {
      const [first, last] = this.range(batch)
      for (let n = first; n <= last; n++) if (this.verdicts.get(n)?.get(batch.hash) === undefined) out.push({ block: n, since: batch.at })
    }
    return out
  }

  /** What is held per batch and per block, for tests and status: both stay within what the L1 has not finalized. */
  get retained(): { batches: number; blocks: number } {
    return { batches: this.batches.size, blocks: this.verdicts.size }
  }

  /** The blocks of `batch` this verifier verifies. */
  private range(batch: ScheduledBatch): [bigint, bigint] {
    const first = batch.first > this.from ? batch.first : this.from
    const last = this.to !== undefined && this.to < batch.last ? this.to : batch.last
    return [first, last]
  }

  /** A verdict as it counts: an ok block after a failed one is FAILED as `block.unverified-parent`. */
  private counted(verdict: V, firstFailed: bigint | undefined): V {
    if (!verdict.ok || firstFailed === undefined) return verdict
    return { ...verdict, ok: false, code: 'block.unverified-parent', reason: `block ${firstFailed} failed verification, so no later block counts as verified (never from an unchained pre-state)` }
  }
}
