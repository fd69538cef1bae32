/**
 * The block producer. Every MINIBLOCK_MS it takes the transactions pooled since the last
 * mini-batch, in the mempool's order, executes them on top of the open block (the executor keeps
 * the block's state, VM and cumulative gas between mini-batches) and has the writer make the
 * mini-batch durable before its receipts are served (preconfirmations). Every block time (or as
 * soon as the block is full) it seals the open block — the concatenation of its mini-batches,
 * identical to executing its transactions one after the other —: hands the state delta to the
 * commitment pipeline, assembles the header — whose state root is the root after block
 * N − STATE_ROOT_LAG, waiting for it only if the pipeline is further behind —, writes the block
 * and its state changes to LMDB in one transaction, and only then makes it the head.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address, equalsBytes } from '@ethereumjs/util'
import type { ChainWriter } from '../chain/chain-writer.ts'
import { childHeaderTemplate, type HeaderRules, laggedRootBlock } from '../chain/header-rules.ts'
import type { Chain, ChainBlock } from '../chain/chain.ts'
import type { CommitmentPipeline } from '../commitment/pipeline.ts'
import { witnessExtras } from '../witness/inputs.ts'
import { encodeReadSet } from '../state/read-set.ts'
import { assembleBlock } from '../execution/assemble.ts'
import type { BlockExecution, BlockExecutor, ExecutionStats, OpenBlockExecution } from '../execution/types.ts'
import { mergeDelta } from '../state/delta.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { decodeMiniBatches, encodeMiniBatch, type PreconfirmedMiniBatch } from './preconfirmations.ts'
import { MosaicError } from '../errors.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { NodeMetrics } from '../metrics/registry.ts'
import type { FlatState } from '../state/flat-state.ts'
import type { LmdbStore } from '../storage/lmdb-store.ts'
import { Mutex } from '../utils/mutex.ts'
import { bytesToHex } from '../utils/hex.ts'

export type SequencerOptions = {
  readonly common: Common
  readonly store: LmdbStore
  readonly chain: Chain
  readonly state: FlatState
  readonly mempool: Mempool
  readonly executor: BlockExecutor
  readonly metrics: NodeMetrics
  /** Shared with eth_call so a call never sees a half-applied block or mini-batch. */
  readonly stateLock: Mutex
  readonly blockTimeMs: number
  /** Interval of mini-batches (`MINIBLOCK_MS`); none when it is not below `blockTimeMs`. */
  readonly miniblockMs: number
  readonly emptyBlocks: boolean
  readonly blockGasLimit: bigint
  readonly baseFeeFloor: bigint
  readonly feeRecipient: Address
  readonly commitment: CommitmentPipeline
  /** Makes each mini-batch preconfirmed and each sealed block canonical (durable, visible, mempool, waiters). */
  readonly writer: ChainWriter
  /** L: the header of block N carries the state root after block max(N − L, 0). */
  readonly stateRootLag: number
  readonly log: (message: string) => void
}

/** The block being built: executed mini-batch by mini-batch, sealed at its deadline. */
type OpenBlock = {
  readonly execution: OpenBlockExecution
  /** Mini-batches stored (the next one's index). */
  stored: number
  /** Transactions executed so far (the next one's position). */
  count: number
  /** The sum of the gas limits of the transactions it executed (they stay pooled until it is sealed). */
  limits: bigint
  /**
   * Full: the last mini-batch left out a pooled transaction, next by nonce, whose gas limit the
   * block had no room for (geth's and anvil's rule: a block is full when the next transaction
   * does not fit in the gas left, counted by what the block used, not by its limits).
   */
  full: boolean
  /** Changes of mini-batches that included nothing (the prelude's), published with the next one. */
  carry: StateDelta
  readonly opened: number
}

/** The least gas a transaction uses: with less left, the block is full. */
const MIN_TX_GAS = 21_000n

/**
 * At most how many mini-batches a seal runs while each left out a transaction for lack of room.
 * Each is given the gas the one before left, by gas limits; calls that use two thirds of their
 * limits leave a third of it to the next, so four leave about 1%.
 */
const LAST_MINI_BATCHES = 4

export class Sequencer {
  private blockTimer: NodeJS.Timeout | undefined
  private miniTimer: NodeJS.Timeout | undefined
  /** A mini-batch tick is set on the timer (not running, not resting). */
  private miniScheduled = false
  /** When mini-batch ticks stopped for an empty pool (performance.now() ms); undefined while they run. */
  private miniIdleSince: number | undefined
  /** Mini-batches and seals take turns (then the state lock, shared with eth_call). */
  private readonly production = new Mutex()
  private sealing = false
  private stopped = true
  private open: OpenBlock | undefined
  /**
   * Why block production stopped for good: a block or a mini-batch could not be made durable.
   * Its delta may already be in the commitment pipeline, or its transactions executed in the
   * open block, so nothing may follow it in this process; a restart resumes from what is on disk
   * (the kill -9 path).
   */
  halted: Error | undefined
  /** How the last block was executed (`mosaic_status`): mode, rounds, re-executions, conflicts and their hottest keys. */
  lastExecution: (ExecutionStats & { readonly block: bigint }) | undefined
  /** When the next block is due (performance.now() ms): a fixed schedule, not "block time after the last one finished". */
  private deadline = 0
  /** Undefined: no mini-batches (MINIBLOCK_MS ≥ BLOCK_TIME_MS), each block executed whole at its seal. */
  private readonly miniblockMs: number | undefined

  /** The chain's header rules, one owner for the sequencer and the verifiers (`chain/header-rules.ts`). */
  private readonly rules: HeaderRules

  constructor(private readonly o: SequencerOptions) {
    this.rules = { common: o.common, gasLimit: o.blockGasLimit, feeRecipient: o.feeRecipient, baseFeeFloor: o.baseFeeFloor, stateRootLag: o.stateRootLag }
    this.miniblockMs = o.miniblockMs < o.blockTimeMs ? o.miniblockMs : undefined
  }

  start(): void {
    this.stopped = false
    this.deadline = performance.now()
    this.schedule()
    this.scheduleMini()
  }

  /** Stops the timers and seals the open block, if any (its mini-batches are durable anyway). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.blockTimer !== undefined) clearTimeout(this.blockTimer)
    if (this.miniTimer !== undefined) clearTimeout(this.miniTimer)
    await this.production.run(async () => {
      if (this.open === undefined || this.halted !== undefined) return
      try {
        await this.o.stateLock.run(() => this.sealOpen())
      } catch (error) {
        this.o.log(`sealing the open block at stop failed: ${(error as Error).message}; its mini-batches are sealed at the next start`)
      }
    })
  }

  /**
   * The next tick is due one block time after the previous deadline, however long sealing took,
   * so blocks keep their cadence under load. A node that fell more than a block behind (a long
   * block, a stalled disk) starts a new schedule from now instead of sealing a burst to catch up.
   */
  private schedule(): void {
    if (this.stopped || this.halted !== undefined) return
    const now = performance.now()
    this.deadline += this.o.blockTimeMs
    if (this.deadline < now - this.o.blockTimeMs) this.deadline = now
    this.blockTimer = setTimeout(() => void this.tick(), Math.max(0, this.deadline - now))
  }

  /**
   * At the deadline (or at once when the pool holds a full block) the block takes what was pooled
   * since its last mini-batch in a last one, as anvil and geth take their whole pool, so a
   * transaction that arrives just before the deadline is in this block, not the next.
   */
  private async tick(early = false): Promise<void> {
    try {
      // A tick on the schedule (not an early seal of a full pool) may seal an empty block to lower the base fee.
      if (this.o.mempool.size > 0 || this.open !== undefined || this.o.emptyBlocks) await this.seal({ onSchedule: !early })
    } catch (error) {
      this.o.log(`block production failed: ${(error as Error).stack ?? error}`)
    } finally {
      this.schedule()
      // What was pooled without notifyPooled (or left over a full block) still gets its mini-batches.
      this.wakeMini()
    }
  }

  /**
   * Mini-batches every `MINIBLOCK_MS` after the previous one finished: under load they grow
   * instead of piling up. When a tick finds nothing to execute (an empty pool, or only what the
   * open block already executed or cannot take yet: a nonce gap, a fee cap below the base fee, a
   * full block) the timer rests (`miniIdleSince`) instead of waking the thread 50 times a second
   * for nothing; the next pooled transaction, or the next block, wakes it (`wakeMini`).
   */
  private scheduleMini(delayMs = this.miniblockMs): void {
    if (this.stopped || this.halted !== undefined || this.miniblockMs === undefined) return
    this.miniIdleSince = undefined
    this.miniScheduled = true
    this.miniTimer = setTimeout(() => void this.miniTick(), delayMs)
  }

  private async miniTick(): Promise<void> {
    this.miniScheduled = false
    // A failed mini-batch is tried again at the next tick.
    let again = true
    try {
      // During a seal it waits for it, then opens the next block at once: no tick lost to a seal.
      again = this.o.mempool.size > 0 && (await this.production.run(() => this.o.stateLock.run(() => this.miniBatch())))
    } catch (error) {
      this.o.log(`mini-batch failed: ${(error as Error).stack ?? error}`)
    } finally {
      if (again) this.scheduleMini()
      else this.miniIdleSince = performance.now()
    }
  }

  /**
   * Restarts resting mini-batch ticks on the grid they would have kept (a whole number of
   * `MINIBLOCK_MS` after the last one), so a transaction that comes to an idle node waits as long
   * for its mini-batch as it did when the timer never rested.
   */
  private wakeMini(): void {
    if (this.miniIdleSince === undefined || this.miniblockMs === undefined || this.o.mempool.size === 0) return
    const since = performance.now() - this.miniIdleSince
    this.scheduleMini(this.miniblockMs - (since % this.miniblockMs))
  }

  /**
   * Called after a transaction is pooled: its mini-batch is due; the block is sealed at once when
   * the pool fills it. With no block open, a pool that holds a block's worth of gas limits has the
   * next mini-batch run now, to open one (and seal it, when it is full); without mini-batches the
   * block is then sealed at once, executed whole from what fits by gas limits.
   */
  notifyPooled(): void {
    this.wakeMini()
    if (!this.poolFillsBlock()) return
    if (this.open !== undefined || this.miniblockMs === undefined) this.sealSoon()
    else this.hurryMini()
  }

  /**
   * Whether the pool holds enough to fill the block. An open block weighs the gas limits of the
   * pooled transactions it has not executed by what its own transactions used of theirs (a call
   * sent with a limit of 80,000 that used 52,000 fills 52,000 of a block, as geth and anvil count
   * it) against the gas it has left; with none open, the pool's gas limits against a whole block.
   */
  private poolFillsBlock(): boolean {
    const { mempool, blockGasLimit } = this.o
    const open = this.open
    if (open === undefined) return mempool.pooledGas >= blockGasLimit
    const waiting = mempool.pooledGas - open.limits
    const used = open.execution.gasUsed
    const expected = open.limits > 0n ? (waiting * used) / open.limits : waiting
    return expected >= open.execution.header.gasLimit - used
  }

  /** The next mini-batch runs now instead of at its tick (a running one decides for itself). */
  private hurryMini(): void {
    if (this.miniScheduled && this.miniTimer !== undefined) clearTimeout(this.miniTimer)
    if (this.miniScheduled || this.miniIdleSince !== undefined) this.scheduleMini(0)
  }

  /** Seal now instead of at the deadline; the schedule restarts from this early block. */
  private sealSoon(): void {
    if (this.stopped || this.sealing) return
    if (this.blockTimer !== undefined) clearTimeout(this.blockTimer)
    this.deadline = performance.now()
    void this.tick(true)
  }

  /**
   * Seal one block now (the block timer, and tests and the devnet's on-demand mining): an open
   * block gets what was pooled since its last mini-batch as a last one, and more while each left
   * out a transaction for lack of room and what it executed used less than its gas limits
   * (unless `lastMiniBatch` is false: only what is preconfirmed is sealed), then is sealed; with no
   * block open (no mini-batch ran since the last seal: MINIBLOCK_MS ≥ BLOCK_TIME_MS, or sealing
   * on demand) the pooled transactions are executed as one block, in parallel with
   * `EXECUTOR=parallel`, and are included, not preconfirmed first.
   */
  async seal({ lastMiniBatch = true, onSchedule = false }: { readonly lastMiniBatch?: boolean; readonly onSchedule?: boolean } = {}): Promise<ChainBlock | undefined> {
    this.sealing = true
    try {
      return await this.production.run(async () => {
        this.refuseWhenHalted()
        return this.o.stateLock.run(async () => {
          if (this.open === undefined) return this.produceWhole(onSchedule)
          if (lastMiniBatch) for (let round = 1; (await this.miniBatch()) && this.open.full && round < LAST_MINI_BATCHES; round++);
          return this.sealOpen(onSchedule)
        })
      })
    } finally {
      this.sealing = false
    }
  }

  /** Run one mini-batch now (tests use this to cut a block into mini-batches where they choose). */
  async runMiniBatch(): Promise<void> {
    await this.production.run(() => this.o.stateLock.run(() => this.miniBatch()))
  }

  private refuseWhenHalted(): void {
    if (this.halted !== undefined) throw new MosaicError('INTERNAL', `block production stopped: ${this.halted.message}; restart the node to resume from its data dir`)
  }

  private halt(error: unknown, what: string): void {
    this.halted = error instanceof Error ? error : new Error(String(error))
    this.o.log(`${what} could not be made durable (${this.halted.message}): block production stopped; restart the node to resume from its data dir`)
  }

  /** The header of the block being built: the open block's, or a template for the block after the head. */
  nextHeader(): BlockHeader {
    return this.open?.execution.header ?? this.freshHeader()
  }

  private freshHeader(): BlockHeader {
    const parent = this.o.chain.getBlock(this.o.chain.head)
    if (parent === undefined) throw new Error(`head block ${this.o.chain.head} missing from the store`)
    // Several blocks per second share a timestamp (as Arbitrum's do); it never goes backwards.
    return childHeaderTemplate({ header: parent.block.header, hash: parent.hash }, this.rules, BigInt(Math.floor(Date.now() / 1000)))
  }

  private async openBlock(header: BlockHeader): Promise<OpenBlock> {
    const { executor, state, chain } = this.o
    const execution = await executor.openBlock({ header, state, blockHash: (n) => chain.getBlockHash(n) })
    return { execution, stored: 0, count: 0, limits: 0n, full: false, carry: createStateDelta(), opened: performance.now() }
  }

  /**
   * One mini-batch (under the state lock): the transactions pooled since the last one, in the
   * mempool's order (arrival, nonce order per sender — the mempool reads nonces from the
   * preconfirmed state, so it offers only what the open block has not executed), up to the gas
   * the block has left, executed on top of the open block, then preconfirmed by the writer:
   * durable, visible, waiters answered. Whether it had transactions to execute.
   */
  private async miniBatch(): Promise<boolean> {
    const { mempool, commitment, writer, metrics } = this.o
    this.refuseWhenHalted()
    if (this.open === undefined) {
      if (mempool.size === 0) return false
      this.open = await this.openBlock(this.freshHeader())
    }
    const open = this.open
    const { header } = open.execution
    const left = header.gasLimit - open.execution.gasUsed
    if (left < MIN_TX_GAS) return false
    const { transactions: candidates, leftOut } = mempool.select(left, header.baseFeePerGas ?? 0n)
    open.full = leftOut
    if (candidates.length === 0) {
      if (leftOut) queueMicrotask(() => this.sealSoon())
      return false
    }
    const started = performance.now()
    // Trie paths of the accounts the block will write are loaded while it executes.
    commitment.prefetch(touchedAccounts(candidates, header.coinbase))
    const batch = await open.execution.execute(candidates)
    const included = batch.executed.map((e) => e.tx)
    // In the block from now on, as their gas is (`poolFillsBlock` weighs one by the other).
    for (const tx of included) open.limits += tx.gasLimit
    // A mini-batch that includes nothing is not published: its changes (the prelude's) go with the next.
    const changes = mergeDelta(open.carry, batch.changes)
    const preconfirmed: PreconfirmedMiniBatch = {
      block: header.number,
      index: open.stored,
      record: included.length === 0 ? new Uint8Array() : encodeMiniBatch(open.stored === 0 ? header : undefined, included),
      included,
      firstIndex: open.count,
      rejected: batch.rejected,
      changes,
      gasUsed: batch.gasUsed,
      header,
      executed: batch.executed,
    }
    try {
      await writer.preconfirm(preconfirmed)
    } catch (error) {
      this.halt(error, `mini-batch ${open.stored} of block ${header.number}`)
      throw error
    }
    if (batch.rejected.length > 0) metrics.rejectedTxs.inc({ reason: 'execution' }, batch.rejected.length)
    if (included.length > 0) {
      open.stored++
      open.count += included.length
      open.carry = createStateDelta()
      metrics.miniBatches.inc()
      metrics.preconfirmedTxs.inc({}, included.length)
      metrics.miniBatchTime.observe((performance.now() - started) / 1000)
    }
    // A full block is sealed at once rather than at its deadline (its seal fills what this left).
    if (open.full || header.gasLimit - batch.gasUsed < MIN_TX_GAS || this.poolFillsBlock()) queueMicrotask(() => this.sealSoon())
    return true
  }

  /**
   * Seal the open block (under the state lock): finish its execution, hand the delta to the
   * commitment pipeline, assemble the header — whose state root is the root after block
   * N − STATE_ROOT_LAG — and have the writer make it canonical. Without an open block, an empty
   * block when EMPTY_BLOCKS is on.
   */
  private async sealOpen(onSchedule = false): Promise<ChainBlock | undefined> {
    const open = this.open
    if (open === undefined) return this.produceWhole(onSchedule)
    this.open = undefined
    const execution = open.execution.finish()
    if (execution.executed.length === 0 && !this.sealsEmpty(onSchedule, open.execution.header)) return undefined
    return this.sealExecuted(open.execution.header, execution, open.stored, open.opened)
  }

  /** A block of the pooled transactions executed in one go (no mini-batch opened it). */
  private async produceWhole(onSchedule = false): Promise<ChainBlock | undefined> {
    const { mempool, executor, chain, state, commitment } = this.o
    const started = performance.now()
    const template = this.freshHeader()
    const { transactions: candidates } = mempool.select(template.gasLimit, template.baseFeePerGas ?? 0n)
    if (candidates.length === 0 && !this.sealsEmpty(onSchedule, template)) return undefined
    // Trie paths of the accounts the block will write are loaded while it executes.
    commitment.prefetch(touchedAccounts(candidates, template.coinbase))
    const execution = await executor.executeBlock({ header: template, transactions: candidates, state, blockHash: (n) => chain.getBlockHash(n) })
    return this.sealExecuted(template, execution, 0, started)
  }

  /**
   * Whether a block with no transactions is sealed: always with EMPTY_BLOCKS; otherwise at a
   * scheduled tick when a pooled transaction, next by nonce, waits for the base fee to fall below
   * its fee cap. Only blocks lower the base fee (12.5% per empty one): without them, a base fee
   * that full blocks raised past every pooled fee cap would stay there, and the chain would stall
   * with a full pool. geth and anvil keep sealing, empty or not, for the same reason.
   */
  private sealsEmpty(onSchedule: boolean, header: BlockHeader): boolean {
    return this.o.emptyBlocks || (onSchedule && this.o.mempool.waitsForBaseFee(header.baseFeePerGas ?? 0n))
  }

  /** The commit of an executed block: commitment, header, then the writer's commit sequence. */
  private async sealExecuted(template: BlockHeader, execution: BlockExecution, miniBatches: number, opened: number): Promise<ChainBlock> {
    const { chain, state, metrics, commitment } = this.o
    const sealStarted = performance.now()
    const number = template.number
    const extras = witnessExtras(execution.reads, state, number - 1n, (n) => chain.getHeader(n)?.serialize())
    commitment.submit(number, execution.delta, { reads: execution.reads, ...extras })
    const stateRoot = await commitment.rootOf(laggedRootBlock(number, this.o.stateRootLag))
    const { block, stored, chainBlock } = assembleBlock(template, execution.executed, execution.gasUsed, stateRoot)
    const readSet = encodeReadSet(execution.reads, extras.codeHashes)
    try {
      await this.o.writer.commit({ stored, chainBlock, delta: execution.delta, readSet, rejected: execution.rejected })
    } catch (error) {
      this.halt(error, `block ${number}`)
      throw error
    }
    // Its stored mini-batches are now stale: the next block's first mini-batch drops them in its
    // own write, and a start drops any a crash left behind (`recoverOpenBlock`).
    metrics.blocks.inc()
    metrics.executorBlocks.inc({ executor_mode: execution.stats.mode })
    metrics.executorAborts.inc({}, execution.stats.aborts)
    metrics.executorRounds.inc({}, execution.stats.rounds)
    metrics.executorLastAborts.set(execution.stats.aborts)
    metrics.executorConflicts.inc({}, execution.stats.conflicts ?? 0)
    this.lastExecution = { block: number, ...execution.stats }
    metrics.txs.inc({}, execution.executed.length)
    metrics.blockTime.observe((performance.now() - sealStarted) / 1000)
    metrics.stateRootLag.set(Number(number - (commitment.stats().computed ?? -1n)))
    this.o.log(
      `sealed block ${block.header.number} hash=${bytesToHex(chainBlock.hash).slice(0, 18)}… txs=${execution.executed.length} mini-batches=${miniBatches} gas=${execution.gasUsed} in ${(performance.now() - sealStarted).toFixed(1)} ms, ${(performance.now() - opened).toFixed(1)} ms after it opened`,
    )
    return chainBlock
  }

  /**
   * At start, before anything is served: the open block a crash interrupted. Its stored
   * mini-batches — every preconfirmed transaction, in order, and its header template — are
   * re-executed and sealed as that block, so each preconfirmed transaction lands at the position
   * and with the receipt it was preconfirmed with (execution is deterministic). Mini-batches of
   * blocks already stored (kept until their block's write is flushed) are dropped. A power cut
   * that lost the last blocks' writes leaves the mini-batches of each: they are sealed in turn.
   * Returns the last block sealed, if any.
   */
  async recoverOpenBlock(): Promise<ChainBlock | undefined> {
    let sealed: ChainBlock | undefined
    for (;;) {
      const block = await this.recoverBlockAfterHead()
      if (block === undefined) return sealed
      sealed = block
    }
  }

  private async recoverBlockAfterHead(): Promise<ChainBlock | undefined> {
    const { store, chain, common } = this.o
    const head = chain.head
    const records = store.readMiniBatches()
    if (records.some((r) => r.block <= head)) await store.dropMiniBatches(head)
    const after = records.filter((r) => r.block > head)
    if (after.length === 0) return undefined
    if (after[0]!.block !== head + 1n) throw new MosaicError('STORE_CORRUPT', `a mini-batch of block ${after[0]!.block} is stored but the head is ${head}`)
    const mine = after.filter((r) => r.block === head + 1n)
    const { header, transactions } = decodeMiniBatches(mine, common)
    const parentHash = chain.getBlockHash(head)
    if (header.number !== head + 1n || parentHash === undefined || !equalsBytes(header.parentHash, parentHash)) {
      throw new MosaicError('STORE_CORRUPT', `the stored mini-batches of block ${header.number} do not follow the head ${head}`)
    }
    return this.production.run(() =>
      this.o.stateLock.run(async () => {
        const open = await this.openBlock(header)
        this.open = open
        const batch = await open.execution.execute(transactions)
        if (batch.rejected.length > 0) {
          // Execution is deterministic: this is a different chain config or a bug, never a choice.
          throw new MosaicError('STORE_CORRUPT', `re-executing the preconfirmed mini-batches of block ${header.number} left out ${batch.rejected.length} transaction(s): ${batch.rejected[0]!.reason}`)
        }
        open.stored = mine.length
        open.count = batch.executed.length
        this.o.log(`sealing block ${header.number} from ${mine.length} stored mini-batch(es), ${transactions.length} preconfirmed transaction(s)`)
        return this.sealOpen()
      }),
    )
  }
}

/** Senders, recipients and the fee recipient of the candidates (lowercase hex, no 0x). */
function touchedAccounts(candidates: readonly TypedTransaction[], coinbase: Address): Uint8Array {
  let count = 1
  for (const tx of candidates) count += tx.to === undefined ? 1 : 2
  const packed = new Uint8Array(count * 20)
  packed.set(coinbase.bytes)
  let at = 20
  for (const tx of candidates) {
    packed.set(tx.getSenderAddress().bytes, at)
    at += 20
    if (tx.to !== undefined) {
      packed.set(tx.to.bytes, at)
      at += 20
    }
  }
  return packed
}

