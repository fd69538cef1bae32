/**
 * `mosaic verifier --l1 URL --inbox ADDRESS (--rpc URL | --files DIR)`: verifies what the L1
 * says, not what a sequencer says. Blocks, per-block roots and witness hashes come from the
 * batches on the inbox (frames reassembled, checked against the committed data hash, witness
 * commitment and post-state root); only the witnesses come from the sequencer's RPC or a bundle
 * directory, and each must hash to what the L1 committed.
 *
 * Work is one queue job per block (`verify` queue): every verifier process scans the inbox and
 * adds a job for each block of each batch under the id `<batch hash>:<block>`, so any number of
 * processes on one Redis add each job once and BullMQ hands it to one of them — no block
 * verified twice, none skipped. A block is checked on its own: its pre-state root is the
 * previous block's root in the batch data (the previous batch's root for the first, or the
 * inbox's start root), so jobs run in any order on any machine. The verdict is the job's
 * result, kept in the queue backend: every process reads the same verdicts.
 */
import { createBlockFromRLP } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { createPublicClient, type Hex, http, type PublicClient } from 'viem'
import { hostname } from 'node:os'
import type { Layout } from '../commitment/layout.ts'
import type { Config } from '../config/config.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { isMosaicError, MosaicError } from '../errors.ts'
import { InboxReader, type L1Batch } from '../l1/inbox.ts'
import type { JobQueue, QueueBackend } from '../queue/queue.ts'
import { UnrecoverableJobError } from '../queue/queue.ts'
import { decodeWitness } from '../witness/witness.ts'
import type { BlockSource } from './rpc-source.ts'
import { verifyBlock } from './verify.ts'

export type VerifyJob = { readonly batch: string; readonly batchHash: Hex; readonly block: string }
export type BlockVerdict = {
  readonly block: string
  readonly batch: string
  readonly ok: boolean
  readonly reason?: string
  readonly stateRoot?: Hex
  readonly transactions?: number
  readonly ms: number
  /** Which verifier process gave the verdict. */
  readonly verifier: string
}

export type L1VerifierOptions = {
  readonly config: Config
  readonly source: BlockSource
  readonly common: Common
  readonly layout: Layout
  readonly queues: QueueBackend
  readonly log: (message: string) => void
  /** First and (optionally) last block to verify. */
  readonly from: bigint
  readonly to: bigint | undefined
  readonly pollMs?: number
}

/** Reasons that are verdicts about the sequencer, not trouble reaching something. */
const VERDICT_CODES = new Set(['VERIFICATION_FAILED', 'WITNESS_INVALID', 'INVALID_PARAMS', 'DELTA_INVALID'])

export class L1Verifier {
  readonly inbox: InboxReader
  readonly queue: JobQueue<VerifyJob, BlockVerdict>
  readonly id = `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`
  /** Blocks this process verified (its own share), in the order it did them. */
  readonly mine: BlockVerdict[] = []
  private readonly batches = new Map<string, Promise<L1Batch>>()
  private nextBatch = 0n
  private scheduledThrough = 0n
  private timer: NodeJS.Timeout | undefined
  private scanning: Promise<void> | undefined
  private stopped = false
  lastError: string | null = null

  constructor(private readonly options: L1VerifierOptions) {
    const { config } = options
    const client = createPublicClient({ transport: http(config.l1RpcUrl!, { retryCount: 2 }) }) as PublicClient
    this.inbox = new InboxReader(client, config.inboxAddress!, config.l1BeaconUrl ?? config.l1RpcUrl)
    this.queue = options.queues.queue<VerifyJob, BlockVerdict>('verify', { attempts: 8, backoffMs: 500, keepCompleted: true })
  }

  start(onVerdict: (verdict: BlockVerdict) => void): void {
    this.queue.process((job) => this.verify(job.data), {
      concurrency: 1,
      onEvent: (event) => {
        if (event.type === 'completed') {
          this.mine.push(event.result)
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

  /** Add a job for every block of every batch on the inbox not scanned yet. */
  async scan(): Promise<void> {
    const { from, to } = this.options
    const { nextIndex } = await this.inbox.state()
    while (this.nextBatch < nextIndex && !this.scheduledAll) {
      const batch = await this.inbox.batch(this.nextBatch)
      if (batch === undefined) return // not visible yet at the node we read logs from
      const last = to !== undefined && to < batch.lastBlock ? to : batch.lastBlock
      for (let n = batch.firstBlock > from ? batch.firstBlock : from; n <= last; n++) {
        await this.queue.add(`${batch.batchHash}:${n}`, { batch: batch.index.toString(), batchHash: batch.batchHash, block: n.toString() })
      }
      this.scheduledThrough = batch.lastBlock
      this.nextBatch++
    }
  }

  private loadBatch(index: bigint, batchHash: Hex): Promise<L1Batch> {
    let loading = this.batches.get(batchHash)
    if (loading === undefined) {
      loading = this.inbox.readBatch(index)
      loading.catch(() => this.batches.delete(batchHash))
      this.batches.set(batchHash, loading)
      // A few recent batches are enough: jobs come roughly in order.
      if (this.batches.size > 16) this.batches.delete(this.batches.keys().next().value!)
    }
    return loading
  }

  /** The job: verify one block against the L1. */
  async verify(job: VerifyJob): Promise<BlockVerdict> {
    const started = performance.now()
    const n = BigInt(job.block)
    const base = { block: job.block, batch: job.batch, verifier: this.id }
    let l1: L1Batch
    try {
      l1 = await this.loadBatch(BigInt(job.batch), job.batchHash)
    } catch (error) {
      // Data on the L1 that does not decode or match its commitments is a verdict on the sequencer.
      if (isMosaicError(error) && VERDICT_CODES.has(error.code)) return { ...base, ok: false, reason: error.shortMessage, ms: performance.now() - started }
      throw error
    }
    if (l1.batch.batchHash !== job.batchHash) throw new UnrecoverableJobError(`batch ${job.batch} on the L1 is now ${l1.batch.batchHash}, not ${job.batchHash} (an L1 reorg replaced it)`)
    const i = Number(n - l1.batch.firstBlock)
    const { content } = l1
    try {
      const bytes = await this.options.source.witness(n)
      const hash = keccak256(bytes)
      if (!equalsBytes(hash, content.witnessHashes[i]!)) {
        throw new MosaicError('VERIFICATION_FAILED', `the witness of block ${n} hashes to ${bytesToHex(hash)}, but the L1 committed ${bytesToHex(content.witnessHashes[i]!)}`)
      }
      const witness = decodeWitness(bytes)
      const preStateRoot = i === 0 ? l1.preStateRoot : content.stateRoots[i - 1]!
      if (!equalsBytes(witness.preStateRoot, preStateRoot)) {
        throw new MosaicError('VERIFICATION_FAILED', `the witness of block ${n} starts from ${bytesToHex(witness.preStateRoot)}, but the L1 says block ${n - 1n} ended at ${bytesToHex(preStateRoot)}`)
      }
      const block = createBlockFromRLP(content.blocks[i]!, { common: this.options.common, setHardfork: false })
      if (block.header.number !== n) throw new MosaicError('VERIFICATION_FAILED', `block ${i} of batch ${job.batch} is number ${block.header.number}, expected ${n}`)
      const verdict = await verifyBlock({ common: this.options.common, layout: this.options.layout, block, witness, postStateRoot: content.stateRoots[i]! })
      return { ...base, ok: true, stateRoot: bytesToHex(verdict.postStateRoot), transactions: verdict.transactions, ms: performance.now() - started }
    } catch (error) {
      if (isMosaicError(error) && VERDICT_CODES.has(error.code)) {
        return { ...base, ok: false, reason: error.shortMessage.replace('the sequencer claims', 'the L1 says'), ms: performance.now() - started }
      }
      throw error // the witness source or the L1 is unreachable: retried
    }
  }

  /** Every verdict in the queue backend (all processes'), by block. */
  async verdicts(): Promise<Map<bigint, BlockVerdict>> {
    const all = await this.queue.completed(Number.MAX_SAFE_INTEGER)
    return new Map(all.map((job) => [BigInt(job.result.block), job.result]))
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.scanning
    await this.queue.close()
  }
}
