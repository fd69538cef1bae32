/**
 * `mosaic verifier --l1 URL --inbox ADDRESS (--rpc URL | --files DIR)`: verifies what the L1
 * says, not what a sequencer says. Blocks, per-block roots and witness hashes come from the
 * batches on the inbox (frames reassembled, checked against the committed data hash, witness
 * commitment and post-state root); only the witnesses come from the sequencer's RPC or a bundle
 * directory, and each must hash to what the L1 committed. The chain's rules come from the
 * verifier's own configuration and genesis (`rules.ts`).
 *
 * Work is one queue job per block (`verify` queue): every verifier process scans the inbox —
 * CONFIRMATIONS blocks behind the L1's head — and adds a job for each block of each batch under
 * the id `<batch hash>:<block>`, so any number of processes on one Redis add each job once and
 * BullMQ hands it to one of them. A block is checked on its own, as the child of the block
 * before it in the L1's data (the previous batch's last block, or the genesis): its header
 * against that parent and the chain's rules, its witness against that parent's root, its
 * lagged header root against the L1's root of block N − L. Jobs run in any order on any machine.
 *
 * Every posted block gets a verdict: anything that fails to decode, validate or execute from the
 * L1's data (or from a witness that matches the L1's commitment) is FAILED with its reason. Only
 * transport failures are retried, and only until VERIFY_DEADLINE_MS after the block was
 * scheduled: a witness that stays unavailable, or keeps not matching the commitment, is then
 * FAILED as withheld. A batch an L1 reorg replaced is scheduled again under its new hash; only
 * the verdicts of the batches now on the L1 count.
 */
import type { Block } from '@ethereumjs/block'
import { decodeHeader } from '../chain/block.ts'
import { equalsBytes, hexToBytes } from '@ethereumjs/util'
import { createPublicClient, type Hex, http, type PublicClient } from 'viem'
import { hostname } from 'node:os'
import { laggedRootBlock, type ParentHeader } from '../chain/header-rules.ts'
import type { Config } from '../config/config.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { isMosaicError, isTransportError, MosaicError, type VerdictReason, VerificationError, verdictReasonOf } from '../errors.ts'
import { InboxReader, type L1Batch } from '../l1/inbox.ts'
import type { JobQueue, QueueBackend } from '../queue/queue.ts'
import { UnrecoverableJobError } from '../queue/queue.ts'
import { checkChildHeader, verifyChild } from './chain.ts'
import { type LedgerVerdict, VerdictLedger, type VerdictSummary } from './ledger.ts'
import type { ChainRules } from './rules.ts'
import type { BlockSource } from '../rpc/client.ts'
import { boundedFetch } from '../utils/bounded-fetch.ts'
import { bytesToHex } from '../utils/hex.ts'

export type VerifyJob = {
  readonly batch: string
  readonly batchHash: Hex
  readonly block: string
  /** When the job was scheduled (ms since the epoch): the deadline for its data counts from here. */
  readonly scheduledAt?: number
}
/** A verdict as the ledger counts it (`ledger.ts`), with what the job measured and who gave it. */
export type BlockVerdict = LedgerVerdict & {
  readonly stateRoot?: Hex
  readonly transactions?: number
  readonly ms: number
  /** Which verifier process gave the verdict. */
  readonly verifier: string
}

export type L1VerifierOptions = {
  readonly config: Config
  readonly rules: ChainRules
  /** Where witnesses come from, tried in turn: the sequencer's RPC, bundle files. */
  readonly sources: readonly BlockSource[]
  readonly queues: QueueBackend
  readonly log: (message: string) => void
  /** First and (optionally) last block to verify. */
  readonly from: bigint
  readonly to: bigint | undefined
  readonly pollMs?: number
}

/** What the L1 says about one block: its RLP, its parent, the roots around it, the witness it committed to. */
type L1Context = {
  readonly blockRlp: Uint8Array
  readonly parent: ParentHeader
  readonly preStateRoot: Uint8Array
  readonly postStateRoot: Uint8Array
  readonly laggedRoot: Uint8Array
  readonly witnessHash: Uint8Array
  /** Timestamp of the L1 block that included the batch. */
  readonly l1Timestamp: bigint
}

/** The job's batch is not (or no longer) the one on the L1: retried while the L1 may reorg back, never a verdict. */
class ReplacedBatch extends MosaicError {
  constructor(message: string) {
    super('TRANSPORT', message)
  }
}

/**
 * Completed verification jobs the queue keeps (their ids stay taken, their verdicts readable by
 * every process): far more than complete between two scans, so each process reads every verdict
 * into its ledger before the queue drops it.
 */
const KEEP_COMPLETED = 16_384
/**
 * Failed verification jobs the queue keeps, with their reasons (a batch the L1 replaced and never
 * brought back): the status lists the latest, and a verifier that follows the L1 for weeks holds
 * no more than these.
 */
const KEEP_FAILED = 1_024
/** Completed jobs read at each scan at first (`ingest`). */
const INGEST_MIN = 256
/** How often the ledger is settled against the L1's finalized block, at most. */
const SETTLE_MS = 2_000

/** First retry delay of a job whose data is unavailable (it doubles with every try). */
const RETRY_MS = 500

export class L1Verifier {
  readonly inbox: InboxReader
  readonly queue: JobQueue<VerifyJob, BlockVerdict>
  readonly id = `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`
  private readonly client: PublicClient
  private readonly batches = new Map<string, Promise<L1Batch>>()
  /** The batches scheduled, as the L1 (at the confirmation depth) has them now, and the verdicts given: settled at the L1's finality. */
  private readonly ledger: VerdictLedger<BlockVerdict>
  /** Completed jobs read from the queue at a time (`ingest`): doubled while every one read is new. */
  private ingestLimit = INGEST_MIN
  /** When the inbox was last read at the L1's finalized block (`settle`). */
  private settledAt = 0
  private nextBatch = 0n
  private scheduledThrough = 0n
  /** The hash of the L1 block the last complete scan read the inbox at (`scan`). */
  private scannedAt: Hex | null = null
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  private stopped = false
  private startRootChecked: Promise<void> | undefined
  private readonly attempts: number
  lastError: string | null = null

  constructor(private readonly options: L1VerifierOptions) {
    const { config, rules } = options
    // Every L1 answer bounded in size and time, as every other read from outside.
    this.client = createPublicClient({ transport: http(config.l1RpcUrl!, { retryCount: 2, timeout: rules.limits.timeoutMs, fetchFn: boundedFetch(rules.limits, `the L1 at ${config.l1RpcUrl}`) }) }) as PublicClient
    this.inbox = new InboxReader(this.client, config.inboxAddress!, config.l1BeaconUrl ?? config.l1RpcUrl, { ...rules.limits, batchBytes: rules.limits.batchBytes })
    // Enough tries (the backoff doubles) to outlast the deadline; the last one returns a verdict.
    let retries = 1
    while (RETRY_MS * (2 ** retries - 1) < config.verifyDeadlineMs) retries++
    this.attempts = retries + 1
    this.queue = options.queues.queue<VerifyJob, BlockVerdict>('verify', { attempts: this.attempts, backoffMs: RETRY_MS, keepCompleted: KEEP_COMPLETED, keepFailed: KEEP_FAILED })
    this.ledger = new VerdictLedger(options.from, options.to)
  }

  start(onVerdict: (verdict: BlockVerdict) => void): void {
    this.queue.process((job) => this.verify(job.data, job.attempt), {
      concurrency: 1,
      onEvent: (event) => {
        if (event.type === 'completed') {
          this.ledger.record(event.result)
          onVerdict(event.result)
        } else if (event.type === 'retrying') {
          this.lastError = event.reason
          this.options.log(`block ${event.job.data.block}: ${event.reason.split('\n')[0]} — retry in ${event.delayMs} ms`)
        } else {
          this.lastError = event.reason
          this.options.log(`block ${event.job.data.block}: job FAILED after ${event.job.attempt} attempts: ${event.reason.split('\n')[0]}`)
        }
      },
    })
    const tick = () => {
      if (this.stopped) return
      this.scanning = this.scan()
        .then(() => this.settle())
        .catch((error: unknown) => {
          this.lastError = (error as Error).message
          this.options.log(`reading the inbox failed (retrying): ${(error as Error).message.split('\n')[0]}`)
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs ?? 250)
        })
    }
    tick()
  }

  /** Whether every block through `--to` has a job. */
  get scheduledAll(): boolean {
    return this.options.to !== undefined && this.scheduledThrough >= this.options.to
  }

  /**
   * Add a job for every block of every batch on the inbox not scanned yet, as of the L1 block
   * CONFIRMATIONS − 1 below the head. A batch whose hash changed since (an L1 reorg) is
   * scheduled again from the first one that differs: batch hashes chain, so the newest one
   * matching means all before it match.
   */
  async scan(): Promise<void> {
    const { from, to, config } = this.options
    const latest = await this.client.getBlock({ blockTag: 'latest' })
    const at = latest.number - BigInt(config.verifyL1Confirmations - 1)
    if (at < 0n) return
    // The scan reads nothing but the L1 as of block `at`: scanned in full at this very block
    // (by hash, so a reorg at the same height is read again), there is nothing new. The L1 makes
    // a block every 1-12 s and this runs every 250 ms; each scan is an eth_getLogs and 3 eth_calls.
    const hash = at === latest.number ? latest.hash : (await this.client.getBlock({ blockNumber: at })).hash
    if (hash === this.scannedAt) return
    const state = await this.inbox.state(at)
    const ledger = this.ledger
    if (state.nextIndex < this.nextBatch || (this.nextBatch > 0n && ledger.hashOf(this.nextBatch - 1n) !== (await this.hashAt(this.nextBatch - 1n, at)))) {
      let index = state.nextIndex < this.nextBatch ? state.nextIndex : this.nextBatch - 1n
      // Settled batches are final on the L1: a reorg reaches no further back than the first one not settled.
      if (index < ledger.settled) index = ledger.settled
      while (index > ledger.settled && ledger.hashOf(index - 1n) !== (await this.hashAt(index - 1n, at))) index--
      if (index === ledger.settled && index > 0n && ledger.hashOf(index - 1n) !== (await this.hashAt(index - 1n, at))) {
        this.lastError = `the L1 no longer has batch ${index - 1n} as it was at its finalized block: the verdicts of the batches before ${index} stand as given`
        this.options.log(this.lastError)
      }
      this.options.log(`an L1 reorg replaced batches from ${index} on: verifying them again`)
      ledger.forgetFrom(index)
      this.nextBatch = index
      this.scheduledThrough = 0n
    }
    while (this.nextBatch < state.nextIndex && !this.scheduledAll) {
      const batch = await this.inbox.batch(this.nextBatch, at)
      if (batch === undefined) return // not visible yet at the node we read logs from
      const last = to !== undefined && to < batch.lastBlock ? to : batch.lastBlock
      const now = Date.now()
      for (let n = batch.firstBlock > from ? batch.firstBlock : from; n <= last; n++) {
        await this.queue.add(`${batch.batchHash}:${n}`, { batch: batch.index.toString(), batchHash: batch.batchHash, block: n.toString(), scheduledAt: now })
      }
      ledger.schedule(batch.index, batch.batchHash, batch.firstBlock, batch.lastBlock, now)
      this.scheduledThrough = batch.lastBlock
      this.nextBatch++
    }
    this.scannedAt = hash
  }

  /**
   * Fold what the L1 has finalized into the ledger's counts (`ledger.ts`), at most every
   * SETTLE_MS and only while a scheduled batch waits to settle: an inbox read at the L1's
   * finalized block. Runs on every scan tick, whether or not the inbox changed.
   */
  private async settle(): Promise<void> {
    if (this.ledger.retained.batches === 0 || Date.now() - this.settledAt < SETTLE_MS) return
    this.settledAt = Date.now()
    await this.ingest()
    const finalized = await this.inbox.finalizedState()
    if (finalized !== undefined) this.ledger.settle(finalized.nextIndex)
  }

  /**
   * Verdicts given by any process on the queue, into the ledger: the most recent completed
   * jobs, more of them next time while all of those read were new (a burst from other processes).
   */
  private async ingest(): Promise<void> {
    const completed = await this.queue.completed(this.ingestLimit)
    let known = 0
    for (const { result } of completed) {
      if (this.ledger.knows(result)) known++
      else this.ledger.record(result)
    }
    this.ingestLimit = completed.length === this.ingestLimit && known === 0 ? Math.min(this.ingestLimit * 2, KEEP_COMPLETED) : INGEST_MIN
  }

  private async hashAt(index: bigint, at: bigint): Promise<Hex | undefined> {
    return (await this.inbox.batch(index, at))?.batchHash
  }

  private loadBatch(index: bigint): Promise<L1Batch> {
    const key = index.toString()
    let loading = this.batches.get(key)
    if (loading === undefined) {
      loading = this.inbox.readBatch(index)
      loading.catch(() => this.batches.delete(key))
      this.batches.set(key, loading)
      // A few recent batches are enough: jobs come roughly in order.
      if (this.batches.size > 64) this.batches.delete(this.batches.keys().next().value!)
    }
    return loading
  }

  /** The batch `index` as the L1 has it now, checked to be the one with `batchHash`. */
  private async batchNow(index: bigint, batchHash?: Hex): Promise<L1Batch> {
    let l1 = await this.loadBatch(index)
    if (batchHash !== undefined && l1.batch.batchHash !== batchHash) {
      this.batches.delete(index.toString())
      l1 = await this.loadBatch(index)
    }
    return l1
  }

  /** The inbox's start root must be the genesis root of the verifier's own chain. */
  private checkStartRoot(): Promise<void> {
    this.startRootChecked ??= this.inbox.startStateRoot().then((root) => {
      if (!equalsBytes(hexToBytes(root), this.options.rules.genesis.stateRoot)) {
        throw new VerificationError('batch.start-root', `the inbox starts from root ${root}, but this chain's genesis root is ${bytesToHex(this.options.rules.genesis.stateRoot)}`)
      }
    })
    this.startRootChecked.catch(() => (this.startRootChecked = undefined))
    return this.startRootChecked
  }

  /**
   * The post-state root of block `k` as the L1 has it (the genesis root for 0), searching back
   * from batch `l1` along its predecessors' hashes — never from a batch read before a reorg
   * replaced it.
   */
  private async rootAfter(k: bigint, l1: L1Batch): Promise<Uint8Array> {
    if (k === 0n) return this.options.rules.genesis.stateRoot
    for (let { batch, content } = l1; ; ) {
      if (batch.firstBlock <= k) return content.stateRoots[Number(k - batch.firstBlock)]!
      if (batch.index === 0n) throw new VerificationError('batch.commitment', `no batch on the L1 holds block ${k}`)
      const previous = await this.batchNow(batch.index - 1n, batch.previous)
      if (previous.batch.batchHash !== batch.previous) throw new MosaicError('TRANSPORT', `batch ${batch.index - 1n} on the L1 is not the one batch ${batch.index} follows (yet)`)
      ;({ batch, content } = previous)
    }
  }

  /** Everything the L1 says about block `n` of batch `index`. */
  private async context(index: bigint, batchHash: Hex, n: bigint): Promise<L1Context> {
    const { rules } = this.options
    const l1 = await this.batchNow(index, batchHash)
    if (l1.batch.batchHash !== batchHash) throw new ReplacedBatch(`batch ${index} on the L1 is now ${l1.batch.batchHash}, not ${batchHash} (an L1 reorg replaced it)`)
    const { batch, content } = l1
    const i = Number(n - batch.firstBlock)
    let parent: ParentHeader
    let preStateRoot: Uint8Array
    if (i > 0) {
      parent = this.headerOf(content.blocks[i - 1]!, n - 1n)
      preStateRoot = content.stateRoots[i - 1]!
    } else if (n === 1n) {
      await this.checkStartRoot()
      parent = rules.genesis
      preStateRoot = rules.genesis.stateRoot
    } else {
      const previous = await this.batchNow(index - 1n, batch.previous)
      if (previous.batch.batchHash !== batch.previous) throw new MosaicError('TRANSPORT', `batch ${index - 1n} on the L1 is not the one batch ${index} follows (yet)`)
      parent = this.headerOf(previous.content.blocks.at(-1)!, n - 1n)
      preStateRoot = previous.content.stateRoots.at(-1)!
    }
    const laggedRoot = await this.rootAfter(laggedRootBlock(n, rules.stateRootLag), l1)
    const l1Block = await this.client.getBlock({ blockNumber: batch.l1Block })
    return { blockRlp: content.blocks[i]!, parent, preStateRoot, postStateRoot: content.stateRoots[i]!, laggedRoot, witnessHash: content.witnessHashes[i]!, l1Timestamp: l1Block.timestamp }
  }

  /** A parent's header from the L1's data, its transactions not decoded (its own checks are its own job's). */
  private headerOf(rlp: Uint8Array, n: bigint): ParentHeader {
    try {
      const header = decodeHeader(rlp, this.options.rules.common)
      return { header, hash: header.hash() }
    } catch (error) {
      throw new VerificationError('block.unverified-parent', `block ${n}, the parent, does not decode: ${(error as Error).message.split('\n')[0]}`)
    }
  }

  /** Block `n`'s witness from the first source that has one hashing to the L1's commitment. */
  private async witness(n: bigint, committed: Uint8Array): Promise<Uint8Array> {
    const problems: string[] = []
    let mismatch = false
    for (const source of this.options.sources) {
      try {
        const bytes = await source.witness(n)
        const hash = keccak256(bytes)
        if (equalsBytes(hash, committed)) return bytes
        mismatch = true
        problems.push(`it hashes to ${bytesToHex(hash)}, the L1 committed ${bytesToHex(committed)}`)
      } catch (error) {
        problems.push((error as Error).message.split('\n')[0]!)
      }
    }
    throw new MosaicError('TRANSPORT', `no witness of block ${n} matching the L1's commitment: ${problems.join('; ')}`, { details: mismatch ? 'mismatch' : 'unavailable' })
  }

  /** The job: verify one block against the L1; a verdict, or a transport error to retry. */
  async verify(job: VerifyJob, attempt = 1): Promise<BlockVerdict> {
    const started = performance.now()
    const n = BigInt(job.block)
    const base = { block: job.block, batch: job.batch, batchHash: job.batchHash, verifier: this.id }
    const failed = (error: unknown, code: VerdictReason | 'internal' = verdictReasonOf(error) ?? 'internal'): BlockVerdict => {
      const reason = (isMosaicError(error) ? error.shortMessage : (error as Error).message).replace('the sequencer claims', 'the L1 says')
      return { ...base, ok: false, code, reason, ms: performance.now() - started }
    }
    const overdue = Date.now() - (job.scheduledAt ?? Date.now()) > this.options.config.verifyDeadlineMs || attempt >= this.attempts
    let context: L1Context
    let witness: Uint8Array
    try {
      context = await this.context(BigInt(job.batch), job.batchHash, n)
    } catch (error) {
      if (error instanceof VerificationError) return failed(error)
      // A batch a reorg replaced is waited for (it may come back); its job gives no verdict.
      if (error instanceof ReplacedBatch) throw attempt >= this.attempts ? new UnrecoverableJobError(error.shortMessage) : error
      // The L1 or its beacon API did not answer: retried until the deadline.
      if (!overdue) throw error
      return failed(new VerificationError('batch.withheld', `the L1 data of block ${n} stayed unreadable past the deadline: ${(error as Error).message.split('\n')[0]}`))
    }
    const child = { parent: context.parent, preStateRoot: context.preStateRoot, laggedRoot: context.laggedRoot, maxTimestamp: context.l1Timestamp + this.options.rules.timestampDrift }
    // The L1's own data first: a block that does not decode, or whose header breaks the chain's
    // rules, is FAILED at once, whatever becomes of its witness (never withheld into a deadline).
    let block: Block
    try {
      block = checkChildHeader(this.options.rules, context.blockRlp, n, child)
    } catch (error) {
      return failed(error)
    }
    try {
      witness = await this.witness(n, context.witnessHash)
    } catch (error) {
      if (!overdue) throw error
      const mismatch = isMosaicError(error) && error.details === 'mismatch'
      return failed(new VerificationError(mismatch ? 'witness.mismatch' : 'witness.withheld', `data withheld: ${(error as MosaicError).shortMessage}`))
    }
    try {
      const verdict = await verifyChild(this.options.rules, { number: n, block: context.blockRlp, witness, postStateRoot: context.postStateRoot }, child, block)
      if (verdict.claimFailure !== undefined) return failed(verdict.claimFailure)
      return { ...base, ok: true, stateRoot: bytesToHex(verdict.postStateRoot), transactions: verdict.transactions, ms: performance.now() - started }
    } catch (error) {
      if (isTransportError(error) && !overdue) throw error
      return failed(error)
    }
  }

  /**
   * The verdicts that count (all processes', for the batches now on the L1; `ledger.ts`). Jobs
   * verify blocks independently, each from the L1's root of its parent; a block after a FAILED
   * one is reported FAILED too (`block.unverified-parent`): its pre-state was never verified.
   */
  async verdicts(): Promise<VerdictSummary<BlockVerdict>> {
    await this.ingest()
    return this.ledger.summary()
  }

  /** Scheduled blocks without a verdict for longer than the deadline. */
  async overdue(now = Date.now()): Promise<bigint[]> {
    await this.ingest()
    return this.ledger
      .waiting()
      .filter(({ since }) => now - since > this.options.config.verifyDeadlineMs)
      .map(({ block }) => block)
  }

  /** Batches and blocks the ledger holds: within what the L1 has not finalized, however long the chain. */
  get retained(): { batches: number; blocks: number } {
    return this.ledger.retained
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.scanning
    await this.queue.close()
  }
}
