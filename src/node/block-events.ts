/**
 * The ordered stream of each block's life (`mosaic_subscribe("blocks")`): the store numbers and
 * keeps every event in the transaction that makes it true (`storage/lmdb-store.ts`, block events);
 * this hub hands them to listeners strictly in sequence order, reading any it did not hear of
 * (two commits finishing in one turn) back from the store, so a listener sees each number once
 * and none skipped.
 */
import { EventEmitter } from 'node:events'
import type { BlockEvent, LmdbStore, NewBlockEvent } from '../storage/lmdb-store.ts'
import { metaKeys, numberKey, readNumberKey } from '../storage/schema.ts'

/** Most verdicts held while an earlier block's is awaited; beyond it the oldest-waiting gap is given up on. */
const MAX_WAITING_VERDICTS = 10_000

export type Verdict = { readonly block: bigint; readonly ok: boolean; readonly batch: string; readonly reason?: string }

export class BlockEvents extends EventEmitter<{ event: [BlockEvent] }> {
  private last: bigint
  /** Verdicts that arrived before an earlier block's, by block. */
  private readonly waiting = new Map<bigint, Verdict>()
  private verifiedTo: bigint
  /** The last block with its `posted` event: a verdict is recorded after it, never before. */
  private postedTo: bigint

  constructor(private readonly store: LmdbStore) {
    super()
    this.setMaxListeners(0)
    this.last = store.lastBlockEvent
    const verified = store.getMeta(metaKeys.verifiedEventsTo)
    this.verifiedTo = verified === undefined ? 0n : readNumberKey(verified)
    const posted = store.getMeta(metaKeys.postedEventsTo)
    this.postedTo = posted === undefined ? 0n : readNumberKey(posted)
    store.onBlockEvents = (events) => this.deliver(events)
  }

  /** The sequence number of the newest event. */
  get lastSequence(): bigint {
    return this.last
  }

  /** Stored events after `after`, oldest first (at most `limit`). */
  read(after: bigint, limit: number): BlockEvent[] {
    return this.store.readBlockEvents(after, limit)
  }

  /** The oldest sequence number still stored. */
  oldest(): bigint {
    return this.store.oldestBlockEvent()
  }

  /**
   * A verifier's verdict: recorded as a `verified` event in block order, each block once — a
   * verifier that starts again and re-verifies blocks adds nothing for those already recorded —
   * and after the block's `posted` event (a verifier may hear of a batch before the poster does).
   */
  verdict(verdict: Verdict): void {
    if (verdict.block <= this.verifiedTo) return
    this.waiting.set(verdict.block, verdict)
    this.flushVerdicts()
  }

  private flushVerdicts(): void {
    if (this.waiting.size > MAX_WAITING_VERDICTS) {
      // Verdicts never came for some block (a verifier that started later): skip to the oldest waiting.
      this.verifiedTo = [...this.waiting.keys()].reduce((a, b) => (a < b ? a : b)) - 1n
    }
    const ready: NewBlockEvent[] = []
    for (let next = this.waiting.get(this.verifiedTo + 1n); next !== undefined && next.block <= this.postedTo; next = this.waiting.get(this.verifiedTo + 1n)) {
      this.waiting.delete(next.block)
      this.verifiedTo = next.block
      ready.push({ block: next.block, status: 'verified', data: { ok: next.ok, batch: next.batch, ...(next.reason === undefined ? {} : { reason: next.reason }) } })
    }
    if (ready.length > 0) {
      this.store.recordBlockEvents(ready, { [metaKeys.verifiedEventsTo]: numberKey(this.verifiedTo) }).catch((error: unknown) => console.error('block events: could not record verdicts:', error))
    }
  }

  private deliver(events: readonly BlockEvent[]): void {
    for (const event of events) if (event.status === 'posted' && event.block > this.postedTo) this.postedTo = event.block
    if (this.waiting.size > 0) queueMicrotask(() => this.flushVerdicts())
    for (const event of events) {
      if (event.sequence <= this.last) continue
      if (event.sequence > this.last + 1n) {
        for (const missed of this.store.readBlockEvents(this.last, Number(event.sequence - this.last - 1n))) {
          if (missed.sequence >= event.sequence) break
          this.last = missed.sequence
          this.emit('event', missed)
        }
      }
      this.last = event.sequence
      this.emit('event', event)
    }
  }
}
