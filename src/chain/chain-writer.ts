/**
 * The one owner of canonical state: the sequence that makes a block part of the chain, used by
 * the sequencer for the blocks it seals, by the replica for the blocks it applies and by restart
 * recovery for the commitments a crash interrupted.
 *
 * Durable before visible: a block is written to LMDB in one transaction (block, receipts,
 * indexes, state changes, delta, head pointer) and only after that commit returns is it made the
 * head, its state published and its commitment allowed to become durable. So a kill -9 at any
 * moment loses no receipt that was served. Then the mempool forgets what the block settled and
 * `eth_sendRawTransactionSync` waiters and `block` listeners hear of it.
 *
 * A mini-batch of the open block goes the same way (`preconfirm`): its record on disk, then its
 * transactions visible as preconfirmed (`pending`), then the mempool, waiters and `miniBatch`
 * listeners. The block that seals it clears the preconfirmed view in the turn it becomes the head.
 */
import { EventEmitter } from 'node:events'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { StateDelta } from '../state/types.ts'
import type { LmdbStore, StoredBlock } from '../storage/lmdb-store.ts'
import type { Chain, ChainBlock } from './chain.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/** The commitment pipeline as the writer sees it (`commitment/pipeline.ts`). */
export interface CommitmentLog {
  /** Blocks from here on have no durable commitment yet. */
  readonly expected: bigint
  submit(number: bigint, delta: StateDelta, witness?: never): void
  markDurable(number: bigint): void
}

/** The committed flat state (`state/flat-state.ts`). */
export interface PublishedState {
  apply(delta: StateDelta): void
}

/** The mempool (`mempool/mempool.ts`). */
export interface SettledPool {
  prune(included: readonly TypedTransaction[], rejected: readonly TypedTransaction[], changedAccounts: Iterable<string>): void
}

/** The preconfirmed transactions of the open block (`sequencer/preconfirmations.ts`): the `pending` view. */
export interface PreconfirmedState {
  /** Make a durable mini-batch visible: pending state, receipts, the pending block. */
  publish(batch: MiniBatchToPreconfirm): void
  /** The open block became canonical: nothing is pending any more. */
  clear(): void
}

export type ChainWriterOptions = {
  readonly store: LmdbStore
  readonly chain: Chain
  readonly state: PublishedState
  readonly commitment: Pick<CommitmentLog, 'markDurable'>
  readonly mempool: SettledPool
  /** Where preconfirmed mini-batches become visible (a sequencer); absent: no preconfirmations (a replica). */
  readonly pending?: PreconfirmedState | undefined
}

/** One executed mini-batch of the open block, ready to be preconfirmed. */
export type MiniBatchToPreconfirm = {
  readonly block: bigint
  /** Its position among the block's stored mini-batches. */
  readonly index: number
  /** What `LmdbStore.writeMiniBatch` keeps: enough to re-execute it after a crash (`sequencer/preconfirmations.ts`). */
  readonly record: Uint8Array
  /** Executed, in block order: each is preconfirmed at its position. */
  readonly included: readonly TypedTransaction[]
  /** Position in the block of the first of `included`. */
  readonly firstIndex: number
  /** Left out at execution: the mempool drops them, waiters hear why. */
  readonly rejected: readonly { readonly tx: TypedTransaction; readonly reason: string }[]
  /** The state it changed, values after it. */
  readonly changes: StateDelta
  /** Gas used by the block so far. */
  readonly gasUsed: bigint
}

/** A block ready to become canonical. */
export type BlockToCommit = {
  readonly stored: StoredBlock
  readonly chainBlock: ChainBlock
  readonly delta: StateDelta
  /** What execution read (`state/read-set.ts`), so the witness can be rebuilt after a crash. */
  readonly readSet?: Uint8Array | undefined
  /** Transactions execution left out of the block: the mempool drops them, waiters hear why. */
  readonly rejected?: readonly { readonly tx: TypedTransaction; readonly reason: string }[]
}

export type InclusionOutcome = { status: 'included' } | { status: 'preconfirmed' } | { status: 'dropped'; reason: string } | { status: 'timeout' }

export type ChainWriterEvents = { block: [ChainBlock]; miniBatch: [MiniBatchToPreconfirm] }

export class ChainWriter extends EventEmitter<ChainWriterEvents> {
  /** `eth_sendRawTransactionSync` callers, by transaction hash (unprefixed hex). */
  private readonly waiters = new Map<string, Set<(outcome: InclusionOutcome) => void>>()

  constructor(private readonly o: ChainWriterOptions) {
    super()
    this.setMaxListeners(0)
  }

  /** Make `block` canonical: durable, then the head, then visible to everyone else. */
  async commit({ stored, chainBlock, delta, readSet, rejected = [] }: BlockToCommit): Promise<void> {
    const { store, chain, state, commitment, mempool } = this.o
    await store.writeBlock(stored, delta, readSet === undefined ? {} : { readSet })
    chain.advance(stored.number, chainBlock, stored.serialized.length)
    state.apply(delta)
    // The open block's preconfirmed view, now the head's state: gone in the same turn.
    this.o.pending?.clear()
    commitment.markDurable(stored.number)
    mempool.prune(
      chainBlock.block.transactions,
      rejected.map((r) => r.tx),
      delta.accounts.keys(),
    )
    if (this.waiters.size > 0) {
      for (const hash of stored.txHashes) this.settle(bytesToUnprefixedHex(hash), { status: 'included' })
      for (const { tx, reason } of rejected) this.settle(bytesToUnprefixedHex(tx.hash()), { status: 'dropped', reason })
    }
    this.emit('block', chainBlock)
  }

  /**
   * Preconfirm a mini-batch of the open block: durable first (its record on disk, so a restart
   * re-executes it at the same position), then visible (pending state and receipts), then the
   * mempool drops what execution refused and `eth_sendRawTransactionSync` waiters and
   * `miniBatch` listeners hear of it. Throws, showing nothing, when it could not be made durable.
   */
  async preconfirm(batch: MiniBatchToPreconfirm): Promise<void> {
    const { store, mempool, pending } = this.o
    if (pending === undefined) throw new Error('ChainWriter.preconfirm: this node keeps no preconfirmations')
    if (batch.included.length > 0) {
      await store.writeMiniBatch(batch.block, batch.index, batch.record)
      pending.publish(batch)
    }
    if (batch.rejected.length > 0) {
      mempool.prune(
        [],
        batch.rejected.map((r) => r.tx),
        [],
      )
    }
    if (this.waiters.size > 0) {
      for (const tx of batch.included) this.settle(bytesToUnprefixedHex(tx.hash()), { status: 'preconfirmed' })
      for (const { tx, reason } of batch.rejected) this.settle(bytesToUnprefixedHex(tx.hash()), { status: 'dropped', reason })
    }
    if (batch.included.length > 0) this.emit('miniBatch', batch)
  }

  /** Resolves once the transaction `hash` is preconfirmed or in a durable block, is dropped, or `timeoutMs` passed. */
  waitForInclusion(hash: Uint8Array, timeoutMs: number): Promise<InclusionOutcome> {
    const key = bytesToUnprefixedHex(hash)
    return new Promise((resolve) => {
      let waiting = this.waiters.get(key)
      if (waiting === undefined) {
        waiting = new Set()
        this.waiters.set(key, waiting)
      }
      const finish = (outcome: InclusionOutcome): void => {
        clearTimeout(timer)
        resolve(outcome)
      }
      const timer = setTimeout(() => {
        const set = this.waiters.get(key)
        set?.delete(finish)
        if (set?.size === 0) this.waiters.delete(key)
        resolve({ status: 'timeout' })
      }, timeoutMs)
      waiting.add(finish)
    })
  }

  private settle(key: string, outcome: InclusionOutcome): void {
    const waiting = this.waiters.get(key)
    if (waiting === undefined) return
    this.waiters.delete(key)
    for (const finish of waiting) finish(outcome)
  }
}
