/**
 * The parallel executor: optimistic concurrency over worker threads, with a result identical to
 * executing the block's transactions one after the other in the order it returns.
 *
 * Each round (Reddio §III–IV; Block-STM's validation idea):
 * 1. take the pending transactions (up to `maxBatch`; a few per chunk while a contract among them
 *    has not been seen run in parallel: a probe, `probeTxsPerChunk`) and partition them into one chunk per
 *    thread — with `mainThreadShare`, one more for the main thread: transactions that share a
 *    sender or a known recipient (`batch.ts`) go to the same chunk, in order, so known conflicts
 *    never cross chunks and each sender keeps nonce order;
 * 2. every worker executes its chunk in order against committed state (all earlier rounds), the
 *    main thread its own while they do, and each returns per transaction its read set, write set
 *    and result (`chunk-runner.ts`);
 * 3. the coordinator validates in the block's order — the order it was given, the mempool's:
 *    arrival, with nonce order per sender (Block-STM's preset order) — across chunks: a
 *    transaction commits if no transaction committed before it in this round wrote a key it
 *    read. At the first that fails, the round stops; it and every later one go back to pending,
 *    to run again on the new state. The first always commits, so every round makes progress.
 * Parallelism changes when a transaction runs, never where it lands: the result is that of
 * executing the given order sequentially. The fee recipient's balance, which every transaction
 * credits, is applied as a delta at commit (see `chunk-runner.ts`) so it does not serialize the block.
 */
import { fileURLToPath } from 'node:url'
import { type Block, type BlockHeader, createBlock } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address, KECCAK256_NULL } from '@ethereumjs/util'
import { paramsVM, type TxReceipt } from '@ethereumjs/vm'
import type { Piscina } from 'piscina'
import { hasPinnedSender, pinSender, serializedTx } from '../../chain/transaction.ts'
import { isEmptyDelta, mergeDelta } from '../../state/delta.ts'
import { JournaledStateManager } from '../../state/journaled-state-manager.ts'
import { OverlayReader } from '../../state/overlay-reader.ts'
import { addStorageRead, createReadSet, mergeReadSet, type ReadSet, ReadSetRecorder } from '../../state/read-set.ts'
import { createStateDelta, type StateDelta, type StateReader } from '../../state/types.ts'
import type { BlockExecution, BlockExecutor, ExecuteBlockParameters, ExecutedTx, MiniBatchExecution, OpenBlockExecution, OpenBlockParameters, RejectedTx } from '../types.ts'
import { applyBlockPrelude } from '../vm.ts'
import { conflictHints, partitionBatch } from './batch.ts'
import { ChunkRunner } from './chunk-runner.ts'
import { type BlockEnv, type ExecuteResult, type ExecuteTask, type ExecutorWorkerMemory, type LogEntry, packDeltaForWorkers, packForWorkers, type PackedLogEntry, packTxInputs, type TxInput, type TxOutcome, unpackOutcomes, type WorkerInit, type WorkerStateSource } from './protocol.ts'
import { accountKey, slotKey } from './protocol.ts'
import { RECOVERY_COALESCE_MS, recoverOnThisThread, SenderRecoveryPool, shipToExecutorWorkers } from './sender-recovery.ts'
import { type NativeWorkerPool, startNativeWorkerPool } from '../../utils/worker-pool.ts'
import { bytesToUnprefixedHex } from '../../utils/hex.ts'

export type CreateParallelExecutorParameters = {
  readonly common: Common
  /** Worker threads (≥ 1). */
  readonly threads: number
  /** Where workers read committed state; it must equal the state of the first block executed. */
  readonly source: WorkerStateSource
  /** Bytes of committed state all workers together keep in memory; unset: no limit. */
  readonly stateCacheBytes?: number | undefined
  /** Executes tiny, contended or cheap blocks. */
  readonly fallback: BlockExecutor
  /** Blocks with fewer transactions run on the fallback. Default 16. */
  readonly minParallelTxs?: number
  /**
   * Whole blocks whose predicted work per transaction is below this run on the fallback (see
   * `predictedWork`); so does a block opened for mini-batches while the recent transactions'
   * work per transaction is below it (`recentWork`). Default `MIN_PARALLEL_WORK`; 0 sends every
   * block of `minParallelTxs` or more, and every block opened for mini-batches, to the workers.
   */
  readonly minParallelWork?: number
  /** Keys the write log keeps for workers behind (see LOG_LIMIT_KEYS); tests set it small. */
  readonly logLimitKeys?: number
  /** Most transactions in one round. Default 4096. */
  readonly maxBatch?: number
  /**
   * A round that would call a contract this executor has not yet seen run in parallel (neither
   * hot nor calm) takes at most this many transactions per chunk: a probe, which learns whether
   * the contract's calls conflict before a whole block of them is run and thrown away. Default
   * `PROBE_TXS_PER_CHUNK`; 0: no probe.
   */
  readonly probeTxsPerChunk?: number
  /**
   * The main thread runs a chunk of every round itself, beside the workers' chunks, instead of
   * waiting for them (a block of one chunk runs here alone). Default false.
   */
  readonly mainThreadShare?: boolean
  /** For the differential test's negative control only: skip the read-set check. */
  readonly unsafeSkipValidation?: boolean
}

const WORKER = fileURLToPath(new URL('./worker-entry.mjs', import.meta.url))
/**
 * What a transaction is predicted to cost, in plain transfers: a transfer with no calldata runs in
 * ~50 µs on the sequential executor, a token transfer or a swap in 500–700 µs (`bench:exec`,
 * sequential: 18,758 transfers/s against 1,886 ERC-20 and 1,399 AMM transactions/s).
 */
const PLAIN_TRANSFER_WORK = 1
const CONTRACT_CALL_WORK = 10
/**
 * Below this much predicted work per transaction, a block runs faster sequentially. Shipping a
 * transaction to a worker, decoding it there and validating its outcome costs ~60 µs of a
 * worker's time, and on 2 threads the coordinator adds its own: `bench:exec` measured parallel-2
 * at ~82 µs + 0.62 × the sequential time per transaction (transfers 0.46×, ERC-20 1.29× the
 * sequential executor), which breaks even at ~220 µs, about 4 plain transfers. The threshold
 * asks for more, because that fit leaves out what a marginal block risks: conflicts that re-run
 * the rest of a round, and workers gone cold while blocks ran on the fallback. At 4, the 5 of 50
 * `mixed` blocks just above it ran on the workers with 39 re-executions each and made the
 * workload 0.85× the sequential executor (all 50 on the workers: 0.92×).
 */
export const MIN_PARALLEL_WORK = 6
/** How many recent transactions `recentWork` averages over, about. */
const RECENT_WORK_TXS = 256
const HOT_LIMIT = 1024
/**
 * Per chunk, the transactions of a probe round (`probeTxsPerChunk`). bench:exec `amm`: a fresh
 * executor's first block ran all 200 swaps on the workers, found the second already in conflict,
 * and threw the rest away (~390 ms against ~95 ms for the block on the sequential executor).
 */
export const PROBE_TXS_PER_CHUNK = 4
/**
 * What the write log keeps for workers that have not run for a while — at most so many entries,
 * and so many keys (accounts and slots written) in them: a run of blocks on the fallback (cheap,
 * contended) would otherwise leave up to LOG_LIMIT whole blocks' writes in memory, and ship them
 * all to each worker with its next task. Beyond either bound, entries already durable go; an
 * LMDB-backed worker behind them drops its cache and reads LMDB instead.
 */
const LOG_LIMIT = 1024
const LOG_LIMIT_KEYS = 16_384

export function createParallelExecutor(parameters: CreateParallelExecutorParameters): ParallelExecutor {
  const { common, threads, source } = parameters
  if (!Number.isSafeInteger(threads) || threads < 1) throw new Error('threads must be a positive integer')
  const stateCacheBytes = parameters.stateCacheBytes === undefined ? undefined : Math.floor(parameters.stateCacheBytes / threads)
  const workerData: WorkerInit = { chainId: Number(common.chainId()), hardfork: common.hardfork(), source, stateCacheBytes }
  // 'async' atomics: a worker waits for its next task with Atomics.waitAsync, so its event loop
  // runs between tasks. With piscina's default ('sync') it never does, and lmdb-js schedules a
  // timer each time a task renews the worker's read snapshot (`refreshReads`): those timers never
  // ran and piled up, one per task, for the life of the node.
  return new ParallelExecutor(parameters, startNativeWorkerPool({ filename: WORKER, threads, workerData, atomics: 'async', label: 'parallel executor' }))
}

/** A block being executed on the workers: what its committed rounds have produced so far. */
type ParallelBlock = {
  readonly header: BlockHeader
  /** Committed state of the parent block. */
  readonly state: StateReader
  readonly env: BlockEnv
  /** `env.ancestors` unpacked: for this thread's own chunks. */
  readonly ancestors: ReadonlyMap<string, Uint8Array>
  /** The fee recipient (lowercase hex, no 0x). */
  readonly coinbase: string
  /** Everything the block changed so far, the prelude included. */
  readonly delta: StateDelta
  /** Changes since the last mini-batch returned (the first one carries the prelude's). */
  unpublished: StateDelta
  readonly reads: ReadSet
  readonly executed: ExecutedTx[]
  readonly rejected: RejectedTx[]
  gasUsed: bigint
  rounds: number
  aborts: number
  /** Executions, re-executions included, that ran as plain value transfers without the EVM. */
  transfersWithoutEVM: number
  /** Conflicts by the key that caused them (visibility: `mosaic_status`, metrics). */
  readonly conflicts: Map<string, number>
  /** The block as the main thread's chunk runner executes in it; made on its first chunk. */
  vmBlock: Block | undefined
}

/**
 * The work these transactions are predicted to take, in plain transfers: a transaction with no
 * calldata and no access list to an address counts `PLAIN_TRANSFER_WORK` (a transfer to a
 * contract's `receive` is counted as plain: the prediction is about speed, never the result),
 * any other `CONTRACT_CALL_WORK`.
 */
export function predictedWork(transactions: readonly TypedTransaction[]): number {
  let work = 0
  for (const tx of transactions) {
    const plain = tx.to !== undefined && tx.data.length === 0 && !('accessList' in tx && tx.accessList.length > 0) && !('authorizationList' in tx)
    work += plain ? PLAIN_TRANSFER_WORK : CONTRACT_CALL_WORK
  }
  return work
}

/** Keys a delta writes: accounts, slots and cleared storages. */
function deltaKeys(delta: StateDelta): number {
  let keys = delta.accounts.size + delta.storageCleared.size
  for (const slots of delta.storage.values()) keys += slots.size
  return keys
}

function finishBlock(block: ParallelBlock): BlockExecution {
  const { executed, rejected, gasUsed, delta, reads, rounds, aborts, conflicts, transfersWithoutEVM } = block
  const hotKeys = [...conflicts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([key, count]) => ({ key, conflicts: count }))
  const conflictCount = [...conflicts.values()].reduce((sum, n) => sum + n, 0)
  return { executed, rejected, gasUsed, delta, reads, stats: { mode: 'parallel', rounds, aborts, conflicts: conflictCount, hotKeys, transfersWithoutEVM } }
}

type Candidate = {
  readonly tx: TypedTransaction
  readonly sender: Address
  readonly senderKey: string
  /** The contract a call with calldata goes to (hex); undefined for value transfers and creations. */
  readonly callee: string | undefined
  readonly input: TxInput
}

/** What one `runRounds` call has committed so far: it joins the block once the call is done. */
type Added = {
  readonly delta: StateDelta
  readonly reads: ReadSet
  /** The block's gas used, this call's transactions included. */
  gasUsed: bigint
  readonly executed: ExecutedTx[]
  readonly rejected: RejectedTx[]
}

export class ParallelExecutor implements BlockExecutor {
  readonly mode = 'parallel' as const
  /** Committed write sets since `logStart`, in order: how workers' cached state follows the chain. */
  private log: (LogEntry & { packed?: PackedLogEntry })[] = []
  /** Sequence number of `log[0]`. */
  private logStart = 0
  /** Keys (accounts, slots, cleared storages) written in the log's entries. */
  private logKeys = 0
  /** Entries before this are durable in LMDB (every earlier block was committed before this one ran). */
  private durableBelow = 0
  /** Log length each worker thread has applied, as far as the coordinator knows: what its tasks need not carry. */
  private readonly applied = new Map<number, number>()
  /**
   * Per worker thread, where the log stood durable (`durableBelow`) at its last task: it holds
   * every entry before that in its cache, for good, and never needs one of them again, so the log
   * may drop them. (Later entries it holds may be taken back, `rollBack`, and then sent again.)
   */
  private readonly durable = new Map<number, number>()
  /** Times log entries were taken back (`rollBack`); every task carries it (`ExecuteTask.resetEpoch`). */
  private resetEpoch = 0
  /** Contracts seen to conflict: calls into them are kept in one chunk. */
  private readonly hot = new Set<string>()
  /** Contracts whose calls committed in a parallel round without a conflict on their own state. */
  private readonly calm = new Set<string>()
  /** Each worker's memory as of its last task, by thread id. */
  private readonly memory = new Map<number, ExecutorWorkerMemory>()
  /** Blocks started and not finished (at most one: the executor is not re-entrant). */
  private openBlocks = 0
  /**
   * Predicted work per transaction (`predictedWork`) of the transactions executed lately, a
   * moving average over about `RECENT_WORK_TXS` of them; undefined before the first. A block
   * opened for mini-batches has to choose where it runs before its transactions are known: it
   * goes by these.
   */
  private recentWork: number | undefined
  /** Time workers spent executing (diagnostics: compare with the wall time of a block). */
  workerBusyMs = 0
  /** Time the main thread spent executing its own chunks (`mainThreadShare`). */
  mainBusyMs = 0
  /** The main thread's chunk runner (`mainThreadShare`), made on first use. */
  private mainRunner: Promise<ChunkRunner> | undefined
  /** ecrecover on the same workers: for the mempool, and for blocks whose senders are not known. */
  readonly senders: SenderRecoveryPool
  private readonly threads: number
  private readonly minParallelTxs: number
  private readonly minParallelWork: number
  private readonly maxBatch: number
  private readonly probeTxsPerChunk: number
  /** The chain's Common with the VM's parameters (the EIP-2935 prelude needs them). */
  private readonly vmCommon: Common

  private readonly pool: Piscina

  constructor(
    private readonly parameters: CreateParallelExecutorParameters,
    private readonly workers: NativeWorkerPool,
  ) {
    this.pool = workers.pool
    this.threads = parameters.threads
    this.minParallelTxs = parameters.minParallelTxs ?? 16
    this.minParallelWork = parameters.minParallelWork ?? MIN_PARALLEL_WORK
    this.maxBatch = parameters.maxBatch ?? 4096
    this.probeTxsPerChunk = parameters.probeTxsPerChunk ?? PROBE_TXS_PER_CHUNK
    this.vmCommon = parameters.common.copy()
    this.vmCommon.updateParams(paramsVM)
    this.senders = new SenderRecoveryPool(shipToExecutorWorkers(this.pool, this.threads), RECOVERY_COALESCE_MS, recoverOnThisThread(parameters.common))
  }

  /**
   * Resolves once every worker thread has loaded its module. Until then the threads still
   * starting take the cores' time from whatever runs: a benchmark waits for this before its timer.
   */
  ready(): Promise<void> {
    return this.workers.started
  }

  workerMemory(): readonly ExecutorWorkerMemory[] {
    return [...this.memory.values()]
  }

  async close(): Promise<void> {
    await this.workers.close()
    await this.parameters.fallback.close()
  }

  /** Chunks in a round that spreads: one per worker, and one more for this thread with `mainThreadShare`. */
  private get chunksPerRound(): number {
    return this.threads + (this.parameters.mainThreadShare === true ? 1 : 0)
  }

  private get logEnd(): number {
    return this.logStart + this.log.length
  }

  private appendLog(delta: StateDelta): void {
    if (isEmptyDelta(delta)) return
    this.log.push({ seq: this.logEnd, delta })
    this.logKeys += deltaKeys(delta)
  }

  /**
   * Take back the log entries from `mark` on: the writes of a block, or of a mini-batch, that
   * failed part-way (a worker thread that died under its task, an exception out of execution).
   * Workers may have applied some of them; none is durable (`mark` ≥ `durableBelow`), so with the
   * next task each worker drops what is not durable (`resetEpoch`) and is sent the log again from
   * where its durable state ends.
   */
  private rollBack(mark: number): void {
    if (mark >= this.logEnd) return
    for (const { delta } of this.log.slice(mark - this.logStart)) this.logKeys -= deltaKeys(delta)
    this.log = this.log.slice(0, mark - this.logStart)
    this.resetEpoch++
    // Workers drop what is not durable: their next tasks carry the log from its start.
    this.applied.clear()
  }

  /**
   * Keep the log bounded: entries every worker holds as durable go; past LOG_LIMIT entries or
   * LOG_LIMIT_KEYS keys, so do entries of blocks already durable, when workers read LMDB (one
   * behind them drops its cache instead).
   */
  private trimLog(): void {
    let keepFrom = this.durable.size < this.threads ? this.logStart : Math.min(...this.durable.values())
    if (this.parameters.source.kind === 'lmdb' && (this.logEnd - keepFrom > LOG_LIMIT || this.logKeys > (this.parameters.logLimitKeys ?? LOG_LIMIT_KEYS))) keepFrom = Math.max(keepFrom, this.durableBelow)
    if (keepFrom <= this.logStart) return
    for (const { delta } of this.log.slice(0, keepFrom - this.logStart)) this.logKeys -= deltaKeys(delta)
    this.log = this.log.slice(keepFrom - this.logStart)
    this.logStart = keepFrom
  }

  /** Entries the log holds, and the keys in them (diagnostics and tests: they stay bounded). */
  get logSize(): { readonly entries: number; readonly keys: number } {
    return { entries: this.log.length, keys: this.logKeys }
  }

  /** Blocks where most calls go into contracts known to conflict run faster sequentially. */
  private contended(transactions: readonly TypedTransaction[]): boolean {
    let hot = 0
    for (const tx of transactions) if (tx.to !== undefined && this.hot.has(bytesToUnprefixedHex(tx.to.bytes))) hot++
    return hot * 2 > transactions.length
  }

  /**
   * Whether a whole block is predicted to run faster on the fallback than on the workers: too
   * few transactions, mostly calls into contracts known to conflict, or too little work per
   * transaction to pay for shipping and validating it (`predictedWork`).
   */
  private sequentialIsFaster(transactions: readonly TypedTransaction[]): boolean {
    if (transactions.length < this.minParallelTxs || this.contended(transactions)) return true
    return predictedWork(transactions) < this.minParallelWork * transactions.length
  }

  private observeWork(transactions: readonly TypedTransaction[]): void {
    if (transactions.length === 0) return
    const perTx = predictedWork(transactions) / transactions.length
    const weight = Math.min(1, transactions.length / RECENT_WORK_TXS)
    this.recentWork = this.recentWork === undefined ? perTx : this.recentWork + weight * (perTx - this.recentWork)
  }

  async executeBlock(parameters: ExecuteBlockParameters): Promise<BlockExecution> {
    const { transactions } = parameters
    this.refuseWhileOpen()
    this.observeWork(transactions)
    // Blocks are committed one after the other: all that is logged before this one is durable.
    this.durableBelow = this.logEnd
    this.trimLog()
    await this.recoverUnknownSenders(transactions)
    if (this.sequentialIsFaster(transactions)) {
      const result = await this.parameters.fallback.executeBlock(parameters)
      this.appendLog(result.delta)
      return result
    }
    const mark = this.logEnd
    const block = await this.startBlock(parameters)
    try {
      await this.runRounds(block, this.candidatesOf(transactions), this.chunksPerRound)
    } catch (error) {
      // The block is not executed: the prelude's writes go back too.
      this.rollBack(mark)
      throw error
    } finally {
      this.openBlocks--
    }
    return finishBlock(block)
  }

  /**
   * A block in mini-batches: each `execute` runs its transactions in rounds on the workers, on
   * top of every earlier mini-batch (the workers follow them through the write log, as they
   * follow earlier rounds), so a mini-batch's result is that of executing it after the block so
   * far, one transaction after the other. A mini-batch too small to pay for a chunk per thread,
   * or contended, runs as one chunk, in order, nothing re-executed: on this thread, unless the
   * executor has a single worker and no `mainThreadShare` (`runChunks`).
   * (A cheap one still runs in chunks: whether one chunk would pay there is not measured.)
   */
  async openBlock(parameters: OpenBlockParameters): Promise<OpenBlockExecution> {
    this.refuseWhileOpen()
    this.durableBelow = this.logEnd
    this.trimLog()
    if (this.recentWork !== undefined && this.recentWork < this.minParallelWork) return this.openOnFallback(parameters)
    const block = await this.startBlock(parameters)
    return this.openExecution(
      parameters.header,
      () => block.gasUsed,
      (transactions) => {
        const candidates = this.candidatesOf(transactions)
        const chunks = candidates.length < this.minParallelTxs || this.contended(transactions) ? 1 : this.chunksPerRound
        return this.runRounds(block, candidates, chunks)
      },
      () => finishBlock(block),
    )
  }

  /**
   * A block opened for mini-batches while the recent transactions were cheap (plain transfers):
   * on the fallback, as a whole block of them would run. Each mini-batch shipped to the workers
   * cost more than it ran there (bench:e2e `transfers-single`: 0.79× the sequential executor's
   * tx/s). Its writes join the log when it finishes, as a whole block's on the fallback do.
   */
  private async openOnFallback(parameters: OpenBlockParameters): Promise<OpenBlockExecution> {
    this.openBlocks++
    let open: OpenBlockExecution
    try {
      open = await this.parameters.fallback.openBlock(parameters)
    } catch (error) {
      this.openBlocks--
      throw error
    }
    return this.openExecution(
      open.header,
      () => open.gasUsed,
      (transactions) => open.execute(transactions),
      () => {
        const result = open.finish()
        this.appendLog(result.delta)
        return result
      },
    )
  }

  /**
   * What an open block does wherever it runs: refuse mini-batches once finished, learn their
   * predicted work (`recentWork`), recover the senders not known yet, and free the executor when
   * it finishes.
   */
  private openExecution(header: BlockHeader, gasUsed: () => bigint, run: (transactions: readonly TypedTransaction[]) => Promise<MiniBatchExecution>, finish: () => BlockExecution): OpenBlockExecution {
    let finished = false
    return {
      header,
      get gasUsed() {
        return gasUsed()
      },
      execute: async (transactions) => {
        if (finished) throw new Error('ParallelExecutor: the block is finished')
        this.observeWork(transactions)
        await this.recoverUnknownSenders(transactions)
        return run(transactions)
      },
      finish: () => {
        if (finished) throw new Error('ParallelExecutor: the block is finished')
        finished = true
        this.openBlocks--
        return finish()
      },
    }
  }

  private refuseWhileOpen(): void {
    if (this.openBlocks > 0) throw new Error('ParallelExecutor: a block is already being executed (not re-entrant)')
  }

  private candidatesOf(transactions: readonly TypedTransaction[]): Candidate[] {
    return transactions.map((tx, id): Candidate => {
      const sender = tx.getSenderAddress()
      const callee = tx.to !== undefined && tx.data.length > 0 ? bytesToUnprefixedHex(tx.to.bytes) : undefined
      return { tx, sender, senderKey: bytesToUnprefixedHex(sender.bytes), callee, input: { id, raw: serializedTx(tx), sender: sender.bytes } }
    })
  }

  /**
   * Transactions that did not come through the mempool (a block being re-executed) have no
   * recovered sender yet: recover them all on the workers in one go, not one by one here.
   */
  private async recoverUnknownSenders(transactions: readonly TypedTransaction[]): Promise<void> {
    const unknown = transactions.filter((tx) => !hasPinnedSender(tx) && !Object.isFrozen(tx))
    if (unknown.length === 0) return
    const senders = await this.senders.recoverMany(unknown.map(serializedTx))
    unknown.forEach((tx, i) => {
      const sender = senders[i]!
      // A transaction without a valid signature keeps failing where execution asks for its sender.
      if (sender instanceof Uint8Array) pinSender(tx, sender)
    })
  }

  /** A block started on the workers: the prelude (EIP-2935) applied on this thread and logged, the environment workers run under. */
  private async startBlock({ header, state, blockHash }: OpenBlockParameters): Promise<ParallelBlock> {
    this.openBlocks++
    const mark = this.logEnd
    try {
      const reads = createReadSet()
      const prelude = new JournaledStateManager(new ReadSetRecorder(state, reads))
      await applyBlockPrelude(this.vmCommon, prelude, header)
      const delta = createStateDelta()
      mergeDelta(delta, prelude.delta())
      this.appendLog(prelude.delta())
      const ancestors = new Map<string, Uint8Array>()
      for (let n = header.number - 1n; n >= 0n && n >= header.number - 256n; n--) {
        const hash = blockHash(n)
        if (hash !== undefined) ancestors.set(n.toString(), hash)
      }
      const env: BlockEnv = { header: header.toJSON() as Record<string, string | undefined>, ancestors: packForWorkers(ancestors) }
      return { header, state, env, ancestors, coinbase: bytesToUnprefixedHex(header.coinbase.bytes), delta, unpublished: mergeDelta(createStateDelta(), delta), reads, executed: [], rejected: [], gasUsed: 0n, rounds: 0, aborts: 0, transfersWithoutEVM: 0, conflicts: new Map(), vmBlock: undefined }
    } catch (error) {
      this.rollBack(mark)
      this.openBlocks--
      throw error
    }
  }

  /**
   * Execute `candidates` after everything the block holds, in rounds of up to `chunks` chunks
   * (one: in order, on this thread unless the executor has a single worker and no `mainThreadShare`).
   * Returns what they added: executed and rejected in their order, and the state they changed.
   */
  private async runRounds(block: ParallelBlock, candidates: readonly Candidate[], chunks: number): Promise<MiniBatchExecution> {
    // All or nothing: what the rounds commit joins the block once the last round is done. If one
    // fails part-way (a worker thread died under its task), the block stays as it was and the
    // log entries of the rounds that did commit are taken back; an open block can take the same
    // transactions again.
    const mark = this.logEnd
    const added: Added = { delta: createStateDelta(), reads: createReadSet(), gasUsed: block.gasUsed, executed: [], rejected: [] }
    try {
      await this.runRoundsInto(block, added, candidates, chunks)
    } catch (error) {
      this.rollBack(mark)
      throw error
    }
    const { delta, reads, gasUsed, executed, rejected } = added
    mergeDelta(block.delta, delta)
    mergeDelta(block.unpublished, delta)
    mergeReadSet(block.reads, reads)
    block.gasUsed = gasUsed
    block.executed.push(...executed)
    block.rejected.push(...rejected)
    const changes = block.unpublished
    block.unpublished = createStateDelta()
    return { executed, rejected, gasUsed, changes }
  }

  private async runRoundsInto(block: ParallelBlock, added: Added, candidates: readonly Candidate[], chunks: number): Promise<void> {
    const { header, state, coinbase } = block
    const current = (address: string) => {
      const written = added.delta.accounts.get(address) ?? block.delta.accounts.get(address)
      return written !== undefined ? (written ?? undefined) : state.getAccount(address)
    }
    const { executed, rejected } = added
    let pending = candidates.map((c) => c.input.id)
    while (pending.length > 0) {
      block.rounds++
      const { size, probe } = this.roundSize(pending, candidates, chunks)
      const batch = pending.slice(0, size)
      const parts = this.partition(batch, candidates, chunks)
      const results = await this.runChunks(block, added.delta, parts, candidates, probe)
      const roundDelta = createStateDelta()
      const roundWrites = new Set<string>()
      // Commit in the block's order (the mempool's: arrival, nonce order per sender), not chunk
      // by chunk: each outcome stands if nothing committed before it in this round wrote what it
      // read. At the first that does not, the round stops; it and everything after it run again
      // on the new state. (Reads a chunk's own earlier writes answered are not recorded, and need
      // not be: any other writer in between would itself have read the key and failed first. The
      // one writer that does not read is a fee delta, so reads of the fee recipient are recorded
      // wherever they were answered: see chunk-runner.ts.)
      const outcomes = results.flat().sort((a, b) => a.id - b.id)
      let stopAt = outcomes.length
      for (const [index, outcome] of outcomes.entries()) {
        const candidate = candidates[outcome.id]!
        // Fee payments are credited without a recorded read (see chunk-runner.ts), so a transaction that
        // writes the fee recipient's whole account must not follow any write to it in this round.
        const overwritesFees = outcome.ok && outcome.writes.accounts.has(coinbase) && roundWrites.has(accountKey(coinbase))
        const conflictKey = this.parameters.unsafeSkipValidation ? undefined : overwritesFees ? accountKey(coinbase) : this.conflict(outcome.reads, roundWrites, candidate)
        if (conflictKey !== undefined) {
          block.conflicts.set(conflictKey, (block.conflicts.get(conflictKey) ?? 0) + 1)
          stopAt = index
          break
        }
        if (!outcome.ok) {
          rejected.push({ tx: candidate.tx, reason: outcome.error })
          continue
        }
        if (added.gasUsed + candidate.tx.gasLimit > header.gasLimit) {
          rejected.push({ tx: candidate.tx, reason: `block gas limit reached: ${added.gasUsed} used, tx gas limit ${candidate.tx.gasLimit}` })
          // Later transactions of its chunk saw writes that never happened.
          if (!isEmptyDelta(outcome.writes)) {
            stopAt = index + 1
            break
          }
          continue
        }
        mergeDelta(roundDelta, outcome.writes)
        markWrites(roundWrites, outcome.writes)
        addReads(added.reads, outcome.reads)
        if (outcome.feeDelta !== 0n) {
          const before = roundDelta.accounts.get(coinbase) ?? current(coinbase)
          roundDelta.accounts.set(coinbase, {
            nonce: before?.nonce ?? 0n,
            balance: (before?.balance ?? 0n) + outcome.feeDelta,
            codeHash: before?.codeHash ?? KECCAK256_NULL,
          })
          roundWrites.add(accountKey(coinbase))
        }
        added.gasUsed += outcome.gasUsed
        executed.push({
          tx: candidate.tx,
          sender: candidate.sender,
          receipt: receiptOf(outcome, added.gasUsed),
          gasUsed: outcome.gasUsed,
          createdAddress: outcome.createdAddress === undefined ? undefined : new Address(outcome.createdAddress),
        })
      }
      const retry = outcomes.slice(stopAt).map((outcome) => outcome.id)
      if (parts.length > 1) this.learnCalm(outcomes.slice(0, stopAt).map((outcome) => candidates[outcome.id]!))
      block.aborts += retry.length
      mergeDelta(added.delta, roundDelta)
      this.appendLog(roundDelta)
      // What is left: the stopped outcomes, then the pending beyond this round's batch, in order.
      pending = [...retry, ...pending.slice(batch.length)]
    }
  }

  /**
   * How many of `pending` the next round takes: `maxBatch`, or a probe's few per chunk while a
   * contract called more than once among them has not been seen run in parallel (see
   * `probeTxsPerChunk`). A contract called once in the round is not probed: its calls cannot
   * conflict with each other there, and a block of calls into many new contracts (each to a
   * fresh address, say) would otherwise run as probe after probe, a few per chunk.
   */
  private roundSize(pending: readonly number[], candidates: readonly Candidate[], chunks: number): { readonly size: number; readonly probe: boolean } {
    const probe = chunks * this.probeTxsPerChunk
    if (chunks === 1 || probe === 0 || pending.length <= probe) return { size: this.maxBatch, probe: false }
    const once = new Set<string>()
    const unseenAgain = pending.slice(0, this.maxBatch).some((id) => {
      const callee = candidates[id]!.callee
      if (callee === undefined || this.hot.has(callee) || this.calm.has(callee)) return false
      if (once.has(callee)) return true
      once.add(callee)
      return false
    })
    return unseenAgain ? { size: probe, probe: true } : { size: this.maxBatch, probe: false }
  }

  /** Contracts called by transactions committed in a round that spread: calm, unless hot. */
  private learnCalm(committed: readonly Candidate[]): void {
    for (const { callee } of committed) {
      if (callee === undefined || this.hot.has(callee) || this.calm.has(callee)) continue
      if (this.calm.size >= HOT_LIMIT) this.calm.clear()
      this.calm.add(callee)
    }
  }

  /** The key of `reads` that a transaction committed earlier in this round wrote, if any. Learns hot contracts. */
  private conflict(reads: ReadonlySet<string>, written: ReadonlySet<string>, candidate: Candidate): string | undefined {
    if (written.size === 0) return undefined
    for (const key of reads) {
      const address = key.slice(1, 41)
      if (written.has(key) || (key[0] === 's' && written.has(`c${address}`))) {
        // A call whose conflict is on its target contract's own state: keep such calls together.
        const to = candidate.tx.to
        if (to !== undefined && candidate.tx.data.length > 0 && bytesToUnprefixedHex(to.bytes) === address) {
          if (this.hot.size >= HOT_LIMIT) this.hot.clear()
          this.hot.add(address)
          this.calm.delete(address)
        }
        return key
      }
    }
    return undefined
  }

  private partition(batch: readonly number[], candidates: readonly Candidate[], threads: number): number[][] {
    return partitionBatch(batch, (id) => conflictHints(candidates[id]!.tx, candidates[id]!.senderKey, this.hot), threads)
  }

  /**
   * Run a round's chunks: each on a worker, but with `mainThreadShare` the first on this thread,
   * once the others are on their way. Returns each chunk's outcomes.
   *
   * A probe round (`probe`: a few transactions per chunk, `roundSize`) runs all its chunks on
   * this thread, one after the other, each over committed state alone, as on the workers: its
   * outcomes, and what validation learns from them, are the same, and its few transactions do
   * not pay for a worker's round trip. Workers that sat idle through blocks on the fallback are
   * sent every log entry since with their next task: on bench:exec `amm`, a probe shipped after
   * the warm-up's 24 blocks took 95–228 ms for its 8 swaps (11 ms packing 25 entries here,
   * then each worker applying them) against ~35 ms for a whole block on the fallback. Run here,
   * the first timed block (probe and the rest) took 44–162 ms against 120–303 ms shipped
   * (`parallel-2` and `parallel-1+main`, three runs each, the builds one after the other).
   *
   * A round that could not spread — one chunk where the executor spreads over several threads:
   * all of it linked by a sender or a known hot contract — runs on this thread even without
   * `mainThreadShare`. This thread only waits for it otherwise, and on a worker the chunk pays the
   * round trip and the recording of what it read for nothing: bench:exec `amm`, whose first
   * block learns that every swap conflicts, ran its second round (199 swaps in one chunk) in ~250
   * ms on a worker against ~90 ms for the whole block on the sequential executor.
   */
  private async runChunks(block: ParallelBlock, roundsSoFar: StateDelta, chunks: readonly (readonly number[])[], candidates: readonly Candidate[], probe: boolean): Promise<(readonly TxOutcome[])[]> {
    if (probe) {
      const outcomes: (readonly TxOutcome[])[] = []
      for (const chunk of chunks) outcomes.push(await this.runHere(block, roundsSoFar, chunk.map((id) => candidates[id]!)))
      return outcomes
    }
    const here = this.parameters.mainThreadShare === true || (chunks.length === 1 && this.chunksPerRound > 1)
    const [own, ...shipped] = here ? chunks : [undefined, ...chunks]
    const running = shipped.map((chunk) => this.run(block, chunk!.map((id) => candidates[id]!.input)))
    if (own !== undefined) running.unshift(this.runHere(block, roundsSoFar, own.map((id) => candidates[id]!)))
    // Every chunk settles before the round fails, so no task outlives it unobserved (and none
    // acknowledges log entries after they were taken back).
    const settled = await Promise.allSettled(running)
    const failed = settled.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return settled.map((result) => (result as PromiseFulfilledResult<readonly TxOutcome[]>).value)
  }

  /**
   * Run a chunk on this thread, over the parent state, what the block committed before this
   * mini-batch, and the rounds of it so far (`roundsSoFar`).
   */
  private async runHere(block: ParallelBlock, roundsSoFar: StateDelta, chunk: readonly Candidate[]): Promise<TxOutcome[]> {
    const runner = await (this.mainRunner ??= ChunkRunner.create(this.parameters.common))
    block.vmBlock ??= createBlock({ header: block.header }, { common: runner.common, setHardfork: false })
    const before = new OverlayReader(block.state)
    before.delta = block.delta
    const committed = new OverlayReader(before)
    committed.delta = roundsSoFar
    const started = performance.now()
    const { outcomes, blockNumbers, transfersWithoutEVM } = await runner.run(
      chunk.map(({ input, tx }) => ({ id: input.id, tx })),
      (item) => item.tx,
      block.vmBlock,
      committed,
      (n) => block.ancestors.get(n.toString()),
    )
    this.mainBusyMs += performance.now() - started
    block.transfersWithoutEVM += transfersWithoutEVM
    for (const n of blockNumbers) block.reads.blockNumbers.add(n)
    return outcomes
  }

  /**
   * A thread that has not answered before (piscina replaced one that died): forget the threads
   * that are gone, or the log would be kept, and shipped, from the point a dead thread reached,
   * and `workerMemory` would count its heap for good.
   */
  private forgetExitedThreads(threadId: number): void {
    if (this.durable.has(threadId)) return
    const alive = new Set(this.pool.threads.map((thread) => thread.threadId))
    for (const id of [...this.durable.keys()]) {
      if (alive.has(id)) continue
      this.applied.delete(id)
      this.durable.delete(id)
      this.memory.delete(id)
    }
  }

  /** Run one chunk on a worker, sending the log entries it may not have seen. */
  private async run(block: ParallelBlock, txs: TxInput[]): Promise<readonly TxOutcome[]> {
    let from = Math.max(this.logStart, Math.min(...(this.applied.size < this.threads ? [0] : [...this.applied.values()])))
    for (;;) {
      // Each entry is packed once, when it first goes to a worker.
      const entries = this.log.slice(Math.max(0, from - this.logStart)).map((entry) => (entry.packed ??= { seq: entry.seq, delta: packDeltaForWorkers(entry.delta) }))
      // Packed anew for each try: the bytes move to the worker.
      const packed = packTxInputs(txs)
      const task: ExecuteTask = { block: block.env, entries, logLength: this.logEnd, durableBelow: this.durableBelow, resetEpoch: this.resetEpoch, txs: packed }
      const result = (await this.pool.run(task, { transferList: [packed.buffer as ArrayBuffer] })) as ExecuteResult
      if (result.kind === 'behind') {
        // Trimmed entries are resent as far as the log has them; a worker behind those reads LMDB.
        const sentFrom = entries[0]?.seq ?? this.logEnd
        from = Math.max(result.appliedUpTo, this.logStart)
        if (from >= sentFrom) {
          // Only a worker that has no LMDB to fall back on gets here: one started afresh from the
          // snapshot (piscina replaced a thread that died) once the log no longer starts at 0.
          throw new Error(
            `ParallelExecutor: worker thread ${result.threadId} has applied the write log up to ${result.appliedUpTo}, and the log now starts at ${this.logStart}: ` +
              'a thread restarted from the snapshot cannot catch up (LMDB-backed workers restart from the store)',
          )
        }
        continue
      }
      this.forgetExitedThreads(result.threadId)
      if (task.resetEpoch === this.resetEpoch) {
        this.applied.set(result.threadId, task.logLength)
        this.durable.set(result.threadId, task.durableBelow)
      }
      this.memory.set(result.threadId, result.memory)
      this.workerBusyMs += result.busyMs
      block.transfersWithoutEVM += result.transfersWithoutEVM
      for (const n of result.blockNumbers) block.reads.blockNumbers.add(n)
      return unpackOutcomes(result.outcomes)
    }
  }
}

/** Add a transaction's read set (`a<address>`, `s<address><slot>` keys) to the block's. */
function addReads(reads: ReadSet, keys: ReadonlySet<string>): void {
  for (const key of keys) {
    if (key[0] === 'a') reads.accounts.add(key.slice(1))
    else if (key[0] === 's') addStorageRead(reads, key.slice(1, 41), key.slice(41))
  }
}

function markWrites(written: Set<string>, delta: StateDelta): void {
  for (const address of delta.accounts.keys()) written.add(accountKey(address))
  for (const [address, slots] of delta.storage) for (const slot of slots.keys()) written.add(slotKey(address, slot))
  for (const address of delta.storageCleared) written.add(`c${address}`)
}

function receiptOf(outcome: Extract<TxOutcome, { ok: true }>, cumulativeBlockGasUsed: bigint): TxReceipt {
  return { status: outcome.status, cumulativeBlockGasUsed, bitvector: outcome.logsBloom, logs: outcome.logs as TxReceipt['logs'] }
}
