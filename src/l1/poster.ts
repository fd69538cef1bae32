/**
 * The L1 poster (MISSION.md, "L1 batches"): cuts the chain into batches once their post-state
 * roots are durable, and posts each batch as one queue job — its frames (calldata or blobs)
 * first, then `submitBatch` on the inbox — strictly in order.
 *
 * The inbox is the source of truth, not the queue and not this process's memory:
 * - the planner (`plan`, every poll) reads the inbox's next index and next block and plans
 *   batches from there, so after a restart it resumes exactly where the L1 is — no gap — and
 *   after an L1 reorg that dropped a batch it plans that batch again;
 * - a job (`post`) first reads the inbox: a batch the L1 already holds completes without
 *   posting (no duplicate), a batch whose predecessor is not there yet is retried with backoff
 *   (strict order), a plan the L1 moved past (another range was posted) completes as superseded;
 *   frames already on the L1 for the same data are not posted again.
 * Transactions go through `L1Sender` (nonce, fee bumps, confirmations); a failure of the L1 is
 * a thrown error, and the queue retries the job with exponential backoff.
 */
import { setImmediate } from 'node:timers/promises'
import { bytesToHex } from '../utils/hex.ts'
import { encodeFunctionData, type Hex, type TransactionReceipt } from 'viem'
import type { DA_MODES } from '../config/config.ts'
import { MosaicError, reasonLine } from '../errors.ts'
import type { JobEvent, JobQueue, QueueCounts } from '../queue/queue.ts'
import { type BatchContent, type BatchEncoding, batchDataHash, encodeBatchDataOffThread, type Frame, splitFrames, witnessCommitment } from './batch-data.ts'
import { inboxArtifact, type InboxBatch, type InboxReader, type SubmittedBatch } from './inbox.ts'
import type { L1Sender } from './sender.ts'

export type DAMode = (typeof DA_MODES)[number]

/** Bytes one blob carries with viem's blob encoding (31 of every 32 bytes, minus its end marker). */
export const BLOB_FRAME_BYTES = 4096 * 31 - 1
/** Blobs per transaction (EIP-7594 caps a transaction at 6). */
export const BLOBS_PER_TX = 6

/** What the poster needs from the chain: blocks, durable roots and witnesses. */
export interface BatchSource {
  /** The highest block whose post-state root (and witness) is durable. */
  rootedHead(): bigint
  blockRlp(number: bigint): Uint8Array
  stateRoot(number: bigint): Uint8Array
  witnessHash(number: bigint): Promise<Uint8Array>
}

/** A job carries only the batch's place: its content is rebuilt from the store when posted. */
export type PostJob = { readonly index: string; readonly firstBlock: string; readonly lastBlock: string }
export type PostResult = {
  readonly index: string
  readonly status: 'posted' | 'already-on-l1' | 'superseded'
  readonly batchHash?: Hex
  readonly l1Block?: string
  /** The `submitBatch` transaction. */
  readonly l1Transaction?: Hex
  readonly frames?: number
  readonly dataBytes?: number
  readonly gasUsed?: string
}

export type PosterOptions = {
  readonly source: BatchSource
  readonly inbox: InboxReader
  readonly sender: L1Sender
  readonly queue: JobQueue<PostJob, PostResult>
  readonly daMode: DAMode
  readonly maxBlocks: number
  readonly maxBytes: number
  readonly maxAgeMs: number
  /** Calldata frame size (blobs use one blob per frame). */
  readonly frameBytes: number
  readonly encoding?: BatchEncoding
  readonly pollMs?: number
  readonly log?: (message: string) => void
  /** Called after each look at the inbox with the safe and finalized blocks (the block events; see `batchOf`). */
  readonly onInboxState?: (safeBlock: bigint, finalizedBlock: bigint) => Promise<void>
  /** Called with each job's outcome (metrics). */
  readonly onOutcome?: (outcome: PostResult['status'] | 'retrying' | 'failed') => void
}

export type PosterStatus = {
  readonly daMode: DAMode
  readonly inbox: Hex
  readonly sender: Hex
  readonly l1: { readonly nextIndex: string; readonly nextBlock: string; readonly l1Block: string } | null
  readonly rootedHead: string
  readonly planned: readonly PostJob[]
  readonly lastPosted: PostResult | null
  readonly queue: QueueCounts
  readonly failedJobs: readonly { id: string; reason: string; attempts: number }[]
  readonly lastError: string | null
  readonly reorgs: number
  readonly transactions: { readonly sent: number; readonly replaced: number; readonly mined: number; readonly gasUsed: string; readonly blobGasUsed: string }
}

/** Most batches planned ahead of the inbox. */
const MAX_AHEAD = 8

export class Poster {
  private readonly abi = inboxArtifact().abi
  /** Planned batches not yet seen on the L1, by index. */
  private readonly planned = new Map<bigint, PostJob & { readonly id: string }>()
  /** Job ids this process added and has not seen finish. */
  private readonly live = new Set<string>()
  private readonly firstSeen = new Map<bigint, number>()
  /** The latest batches on the L1 (bounded), read from the inbox's events, for the block events' batch details. */
  private readonly onL1: SubmittedBatch[] = []
  private highestOnL1 = -1n
  /** The last block in a batch on the L1 (the rollup's `safe` block), and in a batch the L1 finalized. */
  safeBlock = 0n
  finalizedBlock = 0n
  /** The latest L1 block as of which `finalizedBlock` was looked up. */
  private finalizedAsOf: bigint | undefined
  private l1: PosterStatus['l1'] = null
  private lastPosted: PostResult | null = null
  private lastError: string | null = null
  reorgs = 0
  private generation = 0
  private timer: NodeJS.Timeout | undefined
  private planning: Promise<void> | undefined
  private stopped = false

  constructor(private readonly options: PosterOptions) {}

  get queue(): JobQueue<PostJob, PostResult> {
    return this.options.queue
  }

  /** The batch that carried `block`, if it is among the latest on the L1: its index, L1 block and transaction. */
  batchOf(block: bigint): Record<string, string> | undefined {
    const found = this.onL1.find((b) => b.firstBlock <= block && block <= b.lastBlock)
    return found === undefined ? undefined : { batch: found.index.toString(), l1Block: found.l1Block.toString(), l1Transaction: found.transactionHash }
  }

  /**
   * Read the details of the batches new on the L1 (a few per look; at the first look only the
   * newest), then report the safe block — no further than the batches whose details are known,
   * so each block's `posted` event names its batch — and the finalized one.
   */
  private async reportInboxState(nextIndex: bigint): Promise<void> {
    while (this.onL1.length > 0 && this.onL1.at(-1)!.index >= nextIndex) this.onL1.pop() // an L1 reorg
    let index = this.onL1.length === 0 ? (nextIndex > 0n ? nextIndex - 1n : 0n) : this.onL1.at(-1)!.index + 1n
    for (let read = 0; index < nextIndex && read < 16; index++, read++) {
      const batch = await this.options.inbox.batch(index)
      if (batch === undefined) break
      this.onL1.push(batch)
      if (this.onL1.length > 64) this.onL1.shift()
    }
    const known = this.onL1.at(-1)?.lastBlock ?? 0n
    const safe = this.safeBlock < known ? this.safeBlock : known
    await this.options.onInboxState?.(safe, this.finalizedBlock < safe ? this.finalizedBlock : safe)
  }

  private log(message: string): void {
    this.options.log?.(`poster: ${message}`)
  }

  start(): void {
    this.options.queue.process((job) => this.post(job.data), { concurrency: 1, onEvent: (event) => this.onEvent(event) })
    const tick = () => {
      if (this.stopped) return
      this.planning = this.plan()
        .catch((error: unknown) => {
          this.lastError = (error as Error).message
          this.log(`planning failed (retrying): ${reasonLine(error)}`)
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs ?? 250)
        })
    }
    tick()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.planning
    await this.options.queue.close()
  }

  private onEvent(event: JobEvent<PostJob, PostResult>): void {
    this.options.onOutcome?.(event.type === 'completed' ? event.result.status : event.type)
    const { index, firstBlock, lastBlock } = event.job.data
    const what = `batch ${index} (blocks ${firstBlock}–${lastBlock})`
    if (event.type === 'retrying') {
      this.lastError = event.reason
      this.log(`${what}: ${event.reason.split('\n')[0]} — retry ${event.job.attempt + 1} in ${event.delayMs} ms`)
      return
    }
    this.live.delete(event.job.id)
    if (event.type === 'failed') {
      this.lastError = event.reason
      this.log(`${what} FAILED after ${event.job.attempt} attempts: ${event.reason.split('\n')[0]}`)
      return
    }
    const result = event.result
    if (result.status === 'posted') {
      this.lastPosted = result
      this.log(`${what} posted: ${result.frames} frame(s), ${result.dataBytes} bytes, L1 block ${result.l1Block}, batch hash ${result.batchHash}`)
    } else if (result.status === 'superseded') {
      this.log(`${what} superseded: the L1 continued from another block`)
    }
  }

  /** Plan batches from where the inbox is, and enqueue the ones not queued yet. */
  async plan(): Promise<void> {
    const state = await this.options.inbox.state()
    this.l1 = { nextIndex: state.nextIndex.toString(), nextBlock: state.nextBlock.toString(), l1Block: state.l1Block.toString() }
    if (state.nextIndex <= this.highestOnL1) {
      this.reorgs++
      this.log(`the L1 inbox is back at batch ${state.nextIndex} (it held batch ${this.highestOnL1}): an L1 reorg dropped batches ${state.nextIndex}–${this.highestOnL1}; posting them again`)
    }
    this.highestOnL1 = state.nextIndex - 1n
    this.safeBlock = state.nextBlock - 1n
    // The finalized block moves only when the L1 grows: looked up once per L1 block, not every plan.
    if (state.l1Block !== this.finalizedAsOf) {
      this.finalizedAsOf = state.l1Block
      try {
        this.finalizedBlock = (await this.options.inbox.state('finalized')).nextBlock - 1n
      } catch {
        // The L1's finalized block predates the inbox: nothing is finalized yet.
      }
    }
    if (this.options.onInboxState !== undefined) await this.reportInboxState(state.nextIndex)
    // Keep the plans that continue the inbox's chain; drop the rest (their jobs find out alone).
    let index = state.nextIndex
    let block = state.nextBlock
    for (const key of [...this.planned.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      const plan = this.planned.get(key)!
      if (key < state.nextIndex) {
        this.planned.delete(key)
        continue
      }
      if (key !== index || BigInt(plan.firstBlock) !== block || !this.live.has(plan.id)) {
        this.planned.delete(key)
        continue
      }
      index++
      block = BigInt(plan.lastBlock) + 1n
    }
    for (const key of this.planned.keys()) if (key >= index) this.planned.delete(key)
    const rooted = this.options.source.rootedHead()
    while (this.planned.size < MAX_AHEAD && block <= rooted) {
      const last = await this.closeBatch(block, rooted)
      if (last === undefined) break
      const job: PostJob = { index: index.toString(), firstBlock: block.toString(), lastBlock: last.toString() }
      const id = await this.enqueue(job)
      this.planned.set(index, { ...job, id })
      this.firstSeen.delete(block)
      index++
      block = last + 1n
    }
  }

  /** The last block of a batch starting at `first`, or undefined to wait for more blocks. */
  private async closeBatch(first: bigint, rooted: bigint): Promise<bigint | undefined> {
    const { maxBlocks, maxAgeMs, maxBytes } = this.options
    let last = rooted < first + BigInt(maxBlocks) - 1n ? rooted : first + BigInt(maxBlocks) - 1n
    const full = last - first + 1n === BigInt(maxBlocks)
    const seen = this.firstSeen.get(first) ?? Date.now()
    this.firstSeen.set(first, seen)
    if (!full && Date.now() - seen < maxAgeMs) return undefined
    // Over the size limit: halve the range until it fits (a single block always goes alone).
    while (last > first && (await this.encodedSize(first, last)) > maxBytes) last = first + (last - first) / 2n
    if (last === first && (await this.encodedSize(first, last)) > maxBytes) this.log(`block ${first} alone exceeds BATCH_MAX_BYTES (${maxBytes}); posting it as a batch of its own`)
    return last
  }

  private async encodedSize(first: bigint, last: bigint): Promise<number> {
    const { source, encoding } = this.options
    const blocks: Uint8Array[] = []
    for (let n = first; n <= last; n++) blocks.push(source.blockRlp(n))
    const zero = new Uint8Array(32)
    return (await encodeBatchDataOffThread({ blocks, stateRoots: blocks.map(() => zero), witnessHashes: blocks.map(() => zero) }, encoding === undefined ? {} : { encoding })).length
  }

  /**
   * Add the job under its plan's id; an id already taken (a job of an earlier run still queued,
   * or failed) gets the next generation — a duplicate job is harmless, since `post` reads the L1.
   */
  private async enqueue(job: PostJob): Promise<string> {
    for (;;) {
      const id = `batch-${job.index}-${job.firstBlock}-${job.lastBlock}${this.generation === 0 ? '' : `-g${this.generation}`}`
      this.live.add(id)
      if (await this.options.queue.add(id, job)) return id
      this.live.delete(id)
      this.generation++
    }
  }

  /**
   * Build a batch's content from the store, a block per turn of the event loop: hashing a
   * backlog's witnesses in one go (a batch of 57 full blocks: ~100 ms) held the sequencer's
   * thread, and its mini-batches, that long.
   */
  async content(first: bigint, last: bigint): Promise<BatchContent> {
    const { source } = this.options
    const blocks: Uint8Array[] = []
    const stateRoots: Uint8Array[] = []
    const witnessHashes: Uint8Array[] = []
    for (let n = first; n <= last; n++) {
      if (n > first) await setImmediate()
      blocks.push(source.blockRlp(n))
      stateRoots.push(source.stateRoot(n))
      witnessHashes.push(await source.witnessHash(n))
    }
    return { blocks, stateRoots, witnessHashes }
  }

  /** The job: post one batch unless the L1 already holds it. */
  async post(job: PostJob): Promise<PostResult> {
    const { inbox, sender, daMode, frameBytes, encoding } = this.options
    const index = BigInt(job.index)
    const first = BigInt(job.firstBlock)
    const last = BigInt(job.lastBlock)
    const state = await inbox.state()
    if (index < state.nextIndex) return { index: job.index, status: 'already-on-l1' }
    if (index > state.nextIndex) throw new MosaicError('L1', `batch ${index - 1n} is not on the L1 yet (the inbox expects batch ${state.nextIndex})`)
    if (first !== state.nextBlock) return { index: job.index, status: 'superseded' }

    const content = await this.content(first, last)
    const data = await encodeBatchDataOffThread(content, encoding === undefined ? {} : { encoding })
    const dataHash = batchDataHash(data)
    const frames = splitFrames(index, data, daMode === 'blobs' ? BLOB_FRAME_BYTES : frameBytes)
    // Frames of this very data already on the L1 (an earlier attempt) are not posted again.
    const onL1 = new Set((await inbox.frames(bytesToHex(dataHash))).map((f) => f.frameIndex))
    const missing = frames.filter((f) => !onL1.has(f.frameIndex))
    const receipts: TransactionReceipt[] = []
    const label = `batch ${index}`
    if (daMode === 'blobs') {
      // Blob transactions carry consecutive frames; a group is re-posted whole if any is missing.
      for (let i = 0; i < frames.length; i += BLOBS_PER_TX) {
        const group = frames.slice(i, i + BLOBS_PER_TX)
        if (group.every((f) => onL1.has(f.frameIndex))) continue
        receipts.push(await this.sendBlobFrames(group, dataHash, label))
      }
    } else {
      for (const frame of missing) receipts.push(await this.sendFrame(frame, label))
    }
    const batch: InboxBatch = {
      index,
      firstBlock: first,
      lastBlock: last,
      postStateRoot: bytesToHex(content.stateRoots.at(-1)!),
      witnessCommitment: bytesToHex(witnessCommitment(content.witnessHashes)),
      dataHash: bytesToHex(dataHash),
      previous: state.lastBatchHash,
    }
    // A simulation first: a revert (another poster got there) is reported with its reason and costs nothing.
    try {
      await inbox.client.simulateContract({ address: inbox.address, abi: this.abi, functionName: 'submitBatch', args: [batch], account: sender.address } as never)
    } catch (error) {
      throw new MosaicError('L1', `${label}: submitBatch would revert: ${(error as Error).message.split('\n')[0]}`, { cause: error })
    }
    const receipt = await sender.send({ to: inbox.address, data: encodeFunctionData({ abi: this.abi, functionName: 'submitBatch', args: [batch] }) }, `${label} submit`)
    receipts.push(receipt)
    return {
      index: job.index,
      status: 'posted',
      batchHash: (await inbox.client.readContract({ address: inbox.address, abi: this.abi, functionName: 'batchHashes', args: [index], blockNumber: receipt.blockNumber } as never)) as Hex,
      l1Block: receipt.blockNumber.toString(),
      l1Transaction: receipt.transactionHash,
      frames: frames.length,
      dataBytes: data.length,
      gasUsed: receipts.reduce((sum, r) => sum + r.gasUsed, 0n).toString(),
    }
  }

  private sendFrame(frame: Frame, label: string): Promise<TransactionReceipt> {
    const { inbox, sender } = this.options
    const data = encodeFunctionData({ abi: this.abi, functionName: 'postFrame', args: [frame.batchIndex, bytesToHex(frame.dataHash), frame.frameIndex, frame.last, bytesToHex(frame.data)] })
    return sender.send({ to: inbox.address, data }, `${label} frame ${frame.frameIndex}`)
  }

  private sendBlobFrames(group: readonly Frame[], dataHash: Uint8Array, label: string): Promise<TransactionReceipt> {
    const { inbox, sender } = this.options
    const first = group[0]!
    const data = encodeFunctionData({ abi: this.abi, functionName: 'postBlobFrames', args: [first.batchIndex, bytesToHex(dataHash), first.frameIndex, group.at(-1)!.last] })
    return sender.send({ to: inbox.address, data, blobs: group.map((f) => f.data) }, `${label} blob frames ${first.frameIndex}–${group.at(-1)!.frameIndex}`)
  }

  async status(): Promise<PosterStatus> {
    const { queue, inbox, sender, daMode, source } = this.options
    const stats = sender.stats
    return {
      daMode,
      inbox: inbox.address,
      sender: sender.address,
      l1: this.l1,
      rootedHead: source.rootedHead().toString(),
      planned: [...this.planned.values()].map(({ index, firstBlock, lastBlock }) => ({ index, firstBlock, lastBlock })),
      lastPosted: this.lastPosted,
      queue: await queue.counts(),
      failedJobs: (await queue.failed(10)).map(({ id, reason, attempts }) => ({ id, reason, attempts })),
      lastError: this.lastError,
      reorgs: this.reorgs,
      transactions: { sent: stats.sent, replaced: stats.replaced, mined: stats.mined, gasUsed: stats.gasUsed.toString(), blobGasUsed: stats.blobGasUsed.toString() },
    }
  }
}
