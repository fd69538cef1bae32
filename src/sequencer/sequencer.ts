/**
 * The block producer. Every block time (or as soon as the pool holds a block's worth of gas) it
 * takes the mempool's ordered transactions, executes them, hands the state delta to the
 * commitment pipeline, assembles the header — whose state root is the root after block
 * N − STATE_ROOT_LAG, waiting for it only if the pipeline is further behind —, writes the block
 * and its state changes to LMDB in one transaction, and only then makes it the head: no receipt
 * is served before its block is durable.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address, bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'
import type { ChainWriter } from '../chain/chain-writer.ts'
import { childHeaderTemplate, type HeaderRules, laggedRootBlock } from '../chain/header-rules.ts'
import type { Chain, ChainBlock } from '../chain/chain.ts'
import type { CommitmentPipeline } from '../commitment/pipeline.ts'
import { witnessExtras } from '../witness/inputs.ts'
import { encodeReadSet } from '../state/read-set.ts'
import { assembleBlock } from '../execution/assemble.ts'
import type { BlockExecutor, ExecutionStats } from '../execution/types.ts'
import { MosaicError } from '../errors.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { NodeMetrics } from '../metrics/registry.ts'
import type { FlatState } from '../state/flat-state.ts'
import type { LmdbStore } from '../storage/lmdb-store.ts'
import type { Mutex } from '../utils/mutex.ts'

export type SequencerOptions = {
  readonly common: Common
  readonly store: LmdbStore
  readonly chain: Chain
  readonly state: FlatState
  readonly mempool: Mempool
  readonly executor: BlockExecutor
  readonly metrics: NodeMetrics
  /** Shared with eth_call so a call never sees a half-applied block. */
  readonly stateLock: Mutex
  readonly blockTimeMs: number
  readonly emptyBlocks: boolean
  readonly blockGasLimit: bigint
  readonly baseFeeFloor: bigint
  readonly feeRecipient: Address
  readonly commitment: CommitmentPipeline
  /** Makes each sealed block canonical (durable, head, state, mempool, waiters). */
  readonly writer: ChainWriter
  /** L: the header of block N carries the state root after block max(N − L, 0). */
  readonly stateRootLag: number
  readonly log: (message: string) => void
}

export class Sequencer {
  private timer: NodeJS.Timeout | undefined
  private sealing: Promise<void> | undefined
  private stopped = true
  /**
   * Why block production stopped for good: a block could not be made durable. Its delta is
   * already in the commitment pipeline, so no other block may follow it in this process; a
   * restart resumes from what is on disk (the kill -9 path).
   */
  halted: Error | undefined
  /** How the last block was executed (`mosaic_status`): mode, rounds, re-executions, conflicts and their hottest keys. */
  lastExecution: (ExecutionStats & { readonly block: bigint }) | undefined
  /** When the next block is due (performance.now() ms): a fixed schedule, not "block time after the last one finished". */
  private deadline = 0

  /** The chain's header rules, one owner for the sequencer and the verifiers (`chain/header-rules.ts`). */
  private readonly rules: HeaderRules

  constructor(private readonly o: SequencerOptions) {
    this.rules = { common: o.common, gasLimit: o.blockGasLimit, feeRecipient: o.feeRecipient, baseFeeFloor: o.baseFeeFloor, stateRootLag: o.stateRootLag }
  }

  start(): void {
    this.stopped = false
    this.deadline = performance.now()
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.sealing
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
    this.timer = setTimeout(() => void this.tick(), Math.max(0, this.deadline - now))
  }

  private async tick(): Promise<void> {
    try {
      if (this.o.mempool.size > 0 || this.o.emptyBlocks) await this.seal()
    } catch (error) {
      this.o.log(`block production failed: ${(error as Error).stack ?? error}`)
    } finally {
      this.schedule()
    }
  }

  /** Called after a transaction is pooled: seal at once when the pool holds a full block. */
  notifyPooled(): void {
    if (this.stopped || this.sealing !== undefined) return
    if (this.o.mempool.pooledGas >= this.o.blockGasLimit) {
      if (this.timer !== undefined) clearTimeout(this.timer)
      // The schedule restarts from this early block.
      this.deadline = performance.now()
      void this.tick()
    }
  }

  /** Seal one block now (tests and the devnet's on-demand mining use this). */
  async seal(): Promise<ChainBlock | undefined> {
    while (this.sealing !== undefined) await this.sealing
    if (this.halted !== undefined) throw new MosaicError('INTERNAL', `block production stopped: ${this.halted.message}; restart the node to resume from its data dir`)
    let sealed: ChainBlock | undefined
    this.sealing = this.o.stateLock
      .run(async () => {
        sealed = await this.produce()
      })
      .finally(() => {
        this.sealing = undefined
      })
    await this.sealing
    return sealed
  }

  /** The header template of the block after the head. */
  nextHeader(): BlockHeader {
    const parent = this.o.chain.getBlock(this.o.chain.head)
    if (parent === undefined) throw new Error(`head block ${this.o.chain.head} missing from the store`)
    // Several blocks per second share a timestamp (as Arbitrum's do); it never goes backwards.
    return childHeaderTemplate({ header: parent.block.header, hash: parent.hash }, this.rules, BigInt(Math.floor(Date.now() / 1000)))
  }

  private async produce(): Promise<ChainBlock | undefined> {
    const { mempool, executor, chain, state, metrics } = this.o
    const started = performance.now()
    const template = this.nextHeader()
    const candidates = mempool.select(template.gasLimit, template.baseFeePerGas ?? 0n)
    if (candidates.length === 0 && !this.o.emptyBlocks) return undefined
    const { commitment } = this.o
    // Trie paths of the accounts the block will write are loaded while it executes.
    commitment.prefetch(touchedAccounts(candidates, template.coinbase))
    const execution = await executor.executeBlock({
      header: template,
      transactions: candidates,
      state,
      blockHash: (n) => chain.getBlockHash(n),
    })
    const number = template.number
    const extras = witnessExtras(execution.reads, state, number - 1n, (n) => chain.getBlock(n)?.block.header.serialize())
    commitment.submit(number, execution.delta, { reads: execution.reads, ...extras })
    const stateRoot = await commitment.rootOf(laggedRootBlock(number, this.o.stateRootLag))
    const { block, stored, chainBlock } = assembleBlock(template, execution.executed, execution.gasUsed, stateRoot)
    const readSet = encodeReadSet(execution.reads, extras.codeHashes)
    try {
      await this.o.writer.commit({ stored, chainBlock, delta: execution.delta, readSet, rejected: execution.rejected })
    } catch (error) {
      this.halted = error instanceof Error ? error : new Error(String(error))
      this.o.log(`block ${number} could not be made durable (${this.halted.message}): block production stopped; restart the node to resume from its data dir`)
      throw error
    }
    if (execution.rejected.length > 0) metrics.rejectedTxs.inc({ reason: 'execution' }, execution.rejected.length)
    metrics.blocks.inc()
    metrics.executorBlocks.inc({ executor_mode: execution.stats.mode })
    metrics.executorAborts.inc({}, execution.stats.aborts)
    metrics.executorRounds.inc({}, execution.stats.rounds)
    metrics.executorLastAborts.set(execution.stats.aborts)
    metrics.executorConflicts.inc({}, execution.stats.conflicts ?? 0)
    this.lastExecution = { block: number, ...execution.stats }
    metrics.txs.inc({}, execution.executed.length)
    metrics.blockTime.observe((performance.now() - started) / 1000)
    metrics.stateRootLag.set(Number(number - (commitment.stats().computed ?? -1n)))
    this.o.log(
      `sealed block ${block.header.number} hash=${bytesToHex(chainBlock.hash).slice(0, 18)}… txs=${execution.executed.length} gas=${execution.gasUsed} in ${(performance.now() - started).toFixed(1)} ms`,
    )
    return chainBlock
  }
}

/** Senders, recipients and the fee recipient of the candidates (lowercase hex, no 0x). */
function touchedAccounts(candidates: readonly TypedTransaction[], coinbase: Address): Set<string> {
  const touched = new Set<string>([bytesToUnprefixedHex(coinbase.bytes)])
  for (const tx of candidates) {
    touched.add(bytesToUnprefixedHex(tx.getSenderAddress().bytes))
    if (tx.to !== undefined) touched.add(bytesToUnprefixedHex(tx.to.bytes))
  }
  return touched
}

