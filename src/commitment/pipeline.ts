/**
 * The lagged state-root pipeline (MISSION.md, "Commitment and lagged root"; Reddio's asynchronous
 * state database). Execution hands each block's state delta to `submit` and moves on; the
 * pipeline splits it by sub-trie (`layout.ts`) across worker threads that update and hash their
 * tries in parallel (`worker.ts`), aggregates the sub-trie roots into the block's exact
 * post-state root, and — once the block itself is durable (`markDurable`) and the workers have
 * stored their nodes — records the root, the aggregate nodes and the sub-trie roots in one LMDB
 * transaction, in block order.
 *
 * The sequencer puts the root of block N − L into the header of block N (`STATE_ROOT_LAG`), so it
 * waits (`rootOf`) only when the pipeline is more than L blocks behind: execution never runs
 * further ahead than that, and the queue stays bounded.
 *
 * After a crash the commitment head may trail the chain head: `open` reloads the sub-trie roots
 * at the commitment head and the caller re-submits the stored deltas of the blocks after it.
 */
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { MosaicError } from '../errors.ts'
import type { StateDelta } from '../state/types.ts'
import type { LmdbStore } from '../storage/lmdb-store.ts'
import { metaKeys } from '../storage/schema.ts'
import { accountUpdates, type AccountUpdate, type SubtrieRoot, touchedKeys } from './engine.ts'
import { UpdateWriter } from './update-codec.ts'
import type { ReadSet } from '../state/read-set.ts'
import { createWitness, encodeWitnessAsync } from '../witness/witness.ts'
import { type Layout, layoutName, subtrieOf } from './layout.ts'
import { createAggregator, type RootAggregator, subtriesOf } from './root.ts'
import { EMPTY_ROOT } from './trie.ts'
import { workerExecArgv } from '../utils/worker-pool.ts'
import type { CommitmentRequest, CommitmentResponse, CommitmentWorkerInit, WorkerMemory } from './worker.ts'

const WORKER = fileURLToPath(new URL('./worker-entry.mjs', import.meta.url))

export type OpenPipelineParameters = {
  readonly layout: Layout
  /** Worker threads (≥ 1). */
  readonly threads: number
  /** The store nodes and roots go to; undefined keeps everything in memory (benchmarks, tests). */
  readonly store?: LmdbStore | undefined
  readonly dataDir?: string | undefined
  /** Bytes of trie nodes all workers together keep in memory (`TRIE_CACHE_BYTES`); unset: no limit. */
  readonly memoryBudget?: number | undefined
  /**
   * How many blocks behind the commitment head keep their whole trie in the store
   * (`TRIE_HISTORY_BLOCKS`: what `eth_getProof` serves); older nodes that left the tries are
   * deleted. Unset or infinite: every node is kept.
   */
  readonly trieHistoryBlocks?: number | undefined
}

export type PipelineStats = {
  /** Blocks whose root is computed. */
  readonly computed: bigint | undefined
  /** Blocks whose commitment is durable. */
  readonly durable: bigint | undefined
  /** Wall time of the last root computation (submit → root), ms. */
  readonly lastRootMs: number
  /** Trie nodes loaded from LMDB while updating, and by prefetch. */
  readonly loadsOnUpdate: number
  readonly loadsOnPrefetch: number
  /** Trie nodes deleted from the store since start (they left the tries `TRIE_HISTORY_BLOCKS` ago). */
  readonly prunedNodes: number
  /** Each worker's memory, as of its last block (undefined before its first). */
  readonly workers: readonly (WorkerMemory | undefined)[]
}

type Pending = {
  readonly number: bigint
  readonly submittedAt: number
  root: Uint8Array | undefined
  /** Aggregate nodes of this block (root node / binary Merkle nodes) to store with it. */
  nodes: [Uint8Array, Uint8Array][]
  /** Stored aggregate nodes that left the state in this block, when pruning (`trie_stale`). */
  stale: Uint8Array[]
  /** Sub-trie roots this block changed. */
  subtries: SubtrieRoot[]
  /** Workers that still have to report this block's nodes stored. */
  unpersisted: number
  durable: boolean
  readonly computed: Promise<Uint8Array>
  readonly resolve: (root: Uint8Array) => void
  readonly reject: (error: Error) => void
  /** Present when the block's witness is recorded; `encoding` from aggregation, `encoded` once compressed. */
  readonly witness:
    | { readonly input: WitnessInput; updates: readonly AccountUpdate[]; nodes: Uint8Array[]; encoding: Promise<Uint8Array> | undefined; encoded: Uint8Array | undefined }
    | undefined
}

/** What the sequencer adds to a block's witness (the pipeline adds the trie nodes). */
export type WitnessInput = {
  readonly reads: ReadSet
  /** Bytecode of every account the block read that has code. */
  readonly codes: readonly Uint8Array[]
  /** RLP headers, parent first, back to the oldest BLOCKHASH read. */
  readonly headers: readonly Uint8Array[]
}

/** A worker's answer to one block. */
type Applied = { readonly roots: SubtrieRoot[]; readonly witness: readonly Uint8Array[] }

export class CommitmentPipeline {
  private readonly workers: Worker[] = []
  private readonly workerMemory: (WorkerMemory | undefined)[] = []
  private readonly aggregator: RootAggregator
  private readonly pending = new Map<bigint, Pending>()
  private readonly roots = new Map<bigint, Uint8Array>()
  private nextId = 0
  private readonly blockOfId = new Map<number, Pending>()
  /** Workers' answers still awaited, by request id. */
  private readonly answers = new Map<number, { resolve: (applied: Applied) => void; reject: (error: Error) => void }>()
  /** The root after the last aggregated block: the next block's pre-state root. */
  private lastRoot: Uint8Array = EMPTY_ROOT
  private failure: Error | undefined
  private closed = false
  private next: bigint
  private durableHead: bigint | undefined
  private computedHead: bigint | undefined
  private lastRootMs = 0
  private loadsOnUpdate = 0
  private loadsOnPrefetch = 0
  private prunedNodes = 0
  private writeChain: Promise<void> = Promise.resolve()
  /** A commitment transaction is in flight. */
  private writing = false
  /** Blocks submitted whose updates are not sent to the workers yet (`dispatch`), in order. */
  private undispatched: { readonly block: Pending; readonly delta: StateDelta }[] = []
  private dispatchScheduled = false
  /** Callers of `durableRootOf`, by the block they wait for. */
  private readonly durableWaiters = new Map<bigint, { resolve: () => void; reject: (error: Error) => void }[]>()
  /** Called with each block's number and root-computation time once its root is known. */
  onRoot: ((number: bigint, ms: number) => void) | undefined

  /** Resolves once every worker has loaded its modules and state (they take ~0.5 s to boot). */
  private readonly ready: Promise<void>

  private constructor(
    private readonly layout: Layout,
    private readonly store: LmdbStore | undefined,
    head: { number: bigint; root: Uint8Array; subtries: readonly SubtrieRoot[] } | undefined,
    threads: number,
    dataDir: string | undefined,
    memoryBudget: number,
    private readonly trieHistoryBlocks: number,
  ) {
    this.aggregator = createAggregator(layout)
    this.aggregator.update(head?.subtries ?? [])
    this.aggregator.commit()
    this.next = head === undefined ? 0n : head.number + 1n
    this.lastRoot = head?.root ?? EMPTY_ROOT
    this.durableHead = head?.number
    this.computedHead = head?.number
    const booted: Promise<void>[] = []
    for (let w = 0; w < threads; w++) {
      const roots = new Map<number, Uint8Array>()
      for (const { index, root } of head?.subtries ?? []) if (index % threads === w) roots.set(index, root)
      const workerData: CommitmentWorkerInit = {
        splitNibbles: layout.splitNibbles,
        withTops: layout.mode === 'mpt',
        roots,
        dataDir,
        memoryBudget: Math.floor(memoryBudget / threads),
        pruning: Number.isFinite(trieHistoryBlocks),
        writer: w,
        writers: threads,
      }
      // A larger young generation than the default: hashing a block allocates many short-lived
      // encodings, and the default one made scavenges a fifth of a worker's time. 32 MB keeps
      // that gain (bench:root: the same keys/s as 96 MB) at ~37 MB less resident memory than 96.
      const worker = new Worker(WORKER, { workerData, execArgv: workerExecArgv(), resourceLimits: { maxYoungGenerationSizeMb: 32 } })
      booted.push(
        new Promise((resolve, reject) => {
          worker.once('message', () => resolve())
          worker.once('error', reject)
        }),
      )
      worker.on('message', (message: CommitmentResponse) => this.onMessage(message, w))
      worker.on('error', (error) => this.fail(new MosaicError('COMMITMENT', `commitment worker crashed: ${error.message}`, { cause: error })))
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new MosaicError('COMMITMENT', `commitment worker exited with code ${code}`))
      })
      this.workers.push(worker)
    }
    this.ready = Promise.all(booted).then(() => {})
  }

  /**
   * Start the pipeline over `store` (or in memory). A data dir keeps the layout it was created
   * with; another layout is refused.
   */
  static async open({ layout, threads, store, dataDir, memoryBudget, trieHistoryBlocks }: OpenPipelineParameters): Promise<CommitmentPipeline> {
    if (!Number.isSafeInteger(threads) || threads < 1) throw new Error('commitment threads must be a positive integer')
    let head: { number: bigint; root: Uint8Array; subtries: SubtrieRoot[] } | undefined
    if (store !== undefined) {
      const stored = store.getMeta(metaKeys.commitmentLayout)
      const name = layoutName(layout)
      if (stored === undefined) await store.putMeta(metaKeys.commitmentLayout, new TextEncoder().encode(name))
      else if (new TextDecoder().decode(stored) !== name) {
        throw new MosaicError(
          'CONFIG_INVALID',
          `Data dir ${dataDir ?? ''} holds a ${new TextDecoder().decode(stored)} state commitment, but ${name} is configured: set STATE_COMMITMENT (and SHARD_NIBBLES) as it was, or use another DATA_DIR`,
        )
      }
      const committed = store.getCommitmentHead()
      if (committed !== undefined) head = { number: committed.number, root: committed.root, subtries: subtriesOf(store, layout, committed.root) }
    }
    // Without a store every node must stay in memory: there is nowhere to load a released one from.
    const budget = store === undefined ? Number.MAX_SAFE_INTEGER : (memoryBudget ?? Number.MAX_SAFE_INTEGER)
    const history = trieHistoryBlocks ?? Number.POSITIVE_INFINITY
    if (!(history === Number.POSITIVE_INFINITY || (Number.isSafeInteger(history) && history >= 0))) throw new Error('trieHistoryBlocks must be a non-negative integer or Infinity')
    const pipeline = new CommitmentPipeline(layout, store, head, threads, store === undefined ? undefined : dataDir, budget, history)
    try {
      await pipeline.ready
    } catch (error) {
      await pipeline.close()
      throw new MosaicError('COMMITMENT', `a commitment worker failed to start: ${(error as Error).message}`, { cause: error })
    }
    return pipeline
  }

  /** The next block number `submit` expects. */
  get expected(): bigint {
    return this.next
  }

  stats(): PipelineStats {
    return {
      computed: this.computedHead,
      durable: this.durableHead,
      lastRootMs: this.lastRootMs,
      loadsOnUpdate: this.loadsOnUpdate,
      loadsOnPrefetch: this.loadsOnPrefetch,
      prunedNodes: this.prunedNodes,
      workers: [...this.workerMemory],
    }
  }

  /** A commitment failure is fatal: every waiting root rejects with it, and so does every later call. */
  private fail(error: Error): void {
    if (this.failure !== undefined || this.closed) return
    this.failure = error
    for (const block of this.pending.values()) block.reject(error)
    for (const answer of this.answers.values()) answer.reject(error)
    for (const list of this.durableWaiters.values()) for (const waiter of list) waiter.reject(error)
    this.durableWaiters.clear()
  }

  private ownerOf(update: AccountUpdate): number {
    return subtrieOf(update.hashedKey, this.layout.splitNibbles) % this.workers.length
  }

  /**
   * Hand block `number`'s delta to the pipeline; blocks must come in order, each once. With
   * `witness` (what execution read, the code and ancestor headers it needs), the block's witness
   * is recorded while its tries are updated and stored with its commitment (`witnessOf`).
   */
  submit(number: bigint, delta: StateDelta, witness?: WitnessInput): void {
    if (this.failure !== undefined) throw this.failure
    if (number !== this.next) throw new Error(`commitment pipeline expected block ${this.next}, got ${number}`)
    this.next++
    let resolve!: (root: Uint8Array) => void
    let reject!: (error: Error) => void
    const computed = new Promise<Uint8Array>((res, rej) => {
      resolve = res
      reject = rej
    })
    const block: Pending = {
      number,
      submittedAt: performance.now(),
      root: undefined,
      nodes: [],
      stale: [],
      subtries: [],
      unpersisted: 0,
      durable: false,
      computed,
      resolve,
      reject,
      witness: witness === undefined ? undefined : { input: witness, updates: [], nodes: [], encoding: undefined, encoded: undefined },
    }
    // Nobody may be waiting for this root yet; a failure is reported through `fail` either way.
    computed.catch(() => {})
    this.pending.set(number, block)
    this.undispatched.push({ block, delta })
    if (!this.dispatchScheduled) {
      this.dispatchScheduled = true
      setImmediate(() => this.dispatch())
    }
  }

  /**
   * Send the submitted blocks' updates to the workers, in block order. `submit` leaves this to a
   * later turn of the event loop: keying, encoding and posting a block's updates (~1–5 ms of this
   * thread for a few hundred accounts) then runs after the block's seal has returned, not between
   * its execution and the moment RPC clients can see it. Every other message to the workers
   * (`prefetch`, `close`) goes after it.
   */
  private dispatch(): void {
    this.dispatchScheduled = false
    const blocks = this.undispatched
    this.undispatched = []
    for (const { block, delta } of blocks) {
      if (this.failure !== undefined) return
      this.dispatchBlock(block, delta)
    }
  }

  private dispatchBlock(block: Pending, delta: StateDelta): void {
    const { number } = block
    const perWorker = this.workers.map(() => new UpdateWriter())
    const updates = accountUpdates(delta, block.witness?.input.reads)
    if (block.witness !== undefined) block.witness.updates = updates
    for (const update of updates) perWorker[this.ownerOf(update)]!.write(update)
    const answers: Promise<Applied>[] = []
    perWorker.forEach((writer, w) => {
      if (writer.count === 0) return
      const id = this.nextId++
      block.unpersisted++
      this.blockOfId.set(id, block)
      answers.push(this.request(id))
      const updates = writer.finish()
      const request: CommitmentRequest = { kind: 'apply', id, block: number, updates, witness: block.witness !== undefined, prune: this.prunableThrough() }
      this.workers[w]!.postMessage(request, [updates.buffer as ArrayBuffer])
    })
    // Aggregate in block order: after the previous block's root and this block's workers.
    const before = this.pending.get(number - 1n)?.computed ?? Promise.resolve(EMPTY_ROOT)
    Promise.all([before, ...answers]).then(
      ([, ...results]) => this.aggregate(block, results.flatMap((r) => r.roots), results.flatMap((r) => r.witness)),
      (error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))),
    )
  }

  /**
   * The last block whose departed trie nodes may be deleted: `trieHistoryBlocks` behind the
   * durable commitment head, so the trie of every block from there on stays whole in the store
   * (and the head's, which a restart resumes from). Undefined: nothing to prune yet, or never.
   */
  private prunableThrough(): bigint | undefined {
    if (this.store === undefined || this.durableHead === undefined || !Number.isFinite(this.trieHistoryBlocks)) return undefined
    const through = this.durableHead - BigInt(this.trieHistoryBlocks)
    return through >= 1n ? through : undefined
  }

  private request(id: number): Promise<Applied> {
    return new Promise((resolve, reject) => this.answers.set(id, { resolve, reject }))
  }

  private onMessage(message: CommitmentResponse, worker: number): void {
    if (message.kind === 'ready') return
    if (message.kind === 'prefetched') {
      this.loadsOnPrefetch += message.loads
      return
    }
    if (message.kind === 'failed') {
      const error = new MosaicError('COMMITMENT', `state commitment failed: ${message.error}`)
      if (message.id !== undefined) this.answers.get(message.id)?.reject(error)
      this.fail(error)
      return
    }
    if (message.kind === 'applied') {
      this.loadsOnUpdate += message.loads
      this.workerMemory[worker] = message.memory
      const answer = this.answers.get(message.id)
      this.answers.delete(message.id)
      answer?.resolve({ roots: [...message.roots], witness: message.witness })
      return
    }
    this.prunedNodes += message.pruned
    const block = this.blockOfId.get(message.id)
    this.blockOfId.delete(message.id)
    if (block === undefined) return
    block.unpersisted--
    this.maybeWrite()
  }

  private aggregate(block: Pending, subtries: SubtrieRoot[], witnessNodes: readonly Uint8Array[]): void {
    if (this.failure !== undefined) return
    if (block.witness !== undefined) {
      // Taken before this block changes the aggregate: the nodes of the pre-state.
      const touched = new Set(block.witness.updates.map((u) => subtrieOf(u.hashedKey, this.layout.splitNibbles)))
      const nodes = this.aggregator.witness(touched, witnessNodes)
      // Compressed off this thread; the commitment is recorded once it is done.
      const witness = block.witness
      block.unpersisted++
      witness.encoding = encodeWitnessAsync(
        createWitness({
          blockNumber: block.number,
          preStateRoot: this.lastRoot,
          nodes,
          codes: block.witness.input.codes,
          headers: block.witness.input.headers,
          keys: touchedKeys(block.witness.updates),
        }),
      )
      witness.encoding.then(
        (encoded) => {
          witness.encoded = encoded
          block.unpersisted--
          this.maybeWrite()
        },
        (error: unknown) => this.fail(new MosaicError('COMMITMENT', `encoding the witness of block ${block.number} failed: ${String(error)}`)),
      )
    }
    this.aggregator.update(subtries)
    const nodes: [Uint8Array, Uint8Array][] = []
    const stale: Uint8Array[] = []
    const root = this.aggregator.commit(
      (hash, enc) => nodes.push([hash, enc]),
      Number.isFinite(this.trieHistoryBlocks) ? (hash) => stale.push(hash) : undefined,
    )
    block.root = root
    block.nodes = nodes
    block.stale = stale
    block.subtries = subtries
    this.lastRoot = root
    this.roots.set(block.number, root)
    this.computedHead = block.number
    this.lastRootMs = performance.now() - block.submittedAt
    this.onRoot?.(block.number, this.lastRootMs)
    block.resolve(root)
    this.maybeWrite()
  }

  /** Block `number` (and every block before it) is durable in the store: its commitment may follow. */
  markDurable(number: bigint): void {
    for (const block of this.pending.values()) if (block.number <= number) block.durable = true
    // The workers store a block's nodes only now, not during the block's own write (`worker.ts`).
    if (this.store !== undefined && this.failure === undefined) for (const worker of this.workers) worker.postMessage({ kind: 'durable', block: number } satisfies CommitmentRequest)
    this.maybeWrite()
  }

  /**
   * Record, in order, every block whose root is computed, nodes stored and block durable — all
   * that are ready in one transaction, one transaction at a time.
   */
  private maybeWrite(): void {
    if (this.failure !== undefined || this.writing) return
    const ready: Pending[] = []
    for (let number = this.durableHead === undefined ? 0n : this.durableHead + 1n; ; number++) {
      const block = this.pending.get(number)
      if (block === undefined || block.root === undefined || block.unpersisted > 0 || !block.durable) break
      ready.push(block)
    }
    if (ready.length === 0) return
    this.writing = true
    const records = ready.map((block) => ({
      number: block.number,
      root: block.root!,
      witness: block.witness?.encoded,
      nodes: block.nodes,
      stale: block.stale,
    }))
    const write = this.store === undefined ? Promise.resolve() : this.store.writeCommitments(records)
    this.writeChain = write
    write.then(
      () => {
        this.writing = false
        for (const { number } of ready) {
          this.pending.delete(number)
          this.durableHead = number
          for (const waiter of this.durableWaiters.get(number) ?? []) waiter.resolve()
          this.durableWaiters.delete(number)
          // Keep recent roots in memory; older ones are read from the store.
          if (this.store !== undefined) this.roots.delete(number - 256n)
        }
        this.maybeWrite()
      },
      (error: unknown) => this.fail(new MosaicError('COMMITMENT', `recording the commitments of blocks ${ready[0]!.number}–${ready[ready.length - 1]!.number} failed: ${String(error)}`)),
    )
  }

  /** Root of block `number` if already computed (memory, then the store). */
  rootIfComputed(number: bigint): Uint8Array | undefined {
    return this.roots.get(number) ?? this.store?.getStateRoot(number)
  }

  /** The exact post-state root of block `number`: waits until the pipeline has computed it. */
  async rootOf(number: bigint): Promise<Uint8Array> {
    if (this.failure !== undefined) throw this.failure
    const known = this.rootIfComputed(number)
    if (known !== undefined) return known
    if (number >= this.next) throw new Error(`block ${number} has not been submitted to the commitment pipeline (next: ${this.next})`)
    const block = this.pending.get(number)
    if (block === undefined) throw new MosaicError('COMMITMENT', `no state root recorded for block ${number}`)
    return block.computed
  }

  /**
   * The root of block `number` once its commitment — root and every trie node — is durable in
   * the store (what proofs are served from).
   */
  async durableRootOf(number: bigint): Promise<Uint8Array> {
    const root = await this.rootOf(number)
    if (!this.isDurable(number)) {
      await new Promise<void>((resolve, reject) => {
        const list = this.durableWaiters.get(number) ?? []
        list.push({ resolve, reject })
        this.durableWaiters.set(number, list)
      })
    }
    return root
  }

  /**
   * Block `number`'s witness (`witness/witness.ts`, binary form), once its root is computed;
   * undefined for blocks submitted without witness input (genesis).
   */
  async witnessOf(number: bigint): Promise<Uint8Array | undefined> {
    const pending = this.pending.get(number)
    if (pending !== undefined) {
      await pending.computed
      return pending.witness?.encoding
    }
    await this.rootOf(number)
    return (await this.pending.get(number)?.witness?.encoding) ?? this.store?.getWitness(number)
  }

  /**
   * The oldest block whose whole trie is in the store (what `eth_getProof` can prove against):
   * `trieHistoryBlocks` behind the durable commitment head; 0 while every node is kept.
   */
  oldestWholeTrie(): bigint {
    if (!Number.isFinite(this.trieHistoryBlocks) || this.durableHead === undefined) return 0n
    const oldest = this.durableHead - BigInt(this.trieHistoryBlocks)
    return oldest > 0n ? oldest : 0n
  }

  /** Whether block `number`'s commitment is durable. */
  isDurable(number: bigint): boolean {
    return this.durableHead !== undefined && number <= this.durableHead
  }

  /**
   * Load the account-trie paths of these addresses into the workers' memory ahead of the block
   * that will write them (Reddio's asynchronous node retrieval). `addresses`: 20 bytes each,
   * repeats allowed. They go to every worker as one buffer (transferred), and each hashes them and
   * loads the paths it owns: a message of many 32-byte keys, cloned one by one, and the hashing
   * cost the sequencing thread more than the prefetch saved it.
   */
  prefetch(addresses: Uint8Array): void {
    if (this.failure !== undefined || this.store === undefined || addresses.length === 0) return
    this.dispatch()
    this.workers.forEach((worker, w) => {
      const own = w === this.workers.length - 1 ? addresses : addresses.slice()
      worker.postMessage({ kind: 'prefetch', addresses: own } satisfies CommitmentRequest, [own.buffer as ArrayBuffer])
    })
  }

  /** Resolves once every submitted block's commitment is durable (or rejects on failure). */
  async flush(): Promise<void> {
    const last = this.next - 1n
    if (last < 0n) return
    // Without a store there is no block write to wait for.
    if (this.store === undefined) this.markDurable(last)
    await this.durableRootOf(last)
    await this.writeChain
  }

  /**
   * Stop the workers: each finishes the node writes under way and closes its store (terminating a
   * thread in the middle of an LMDB write can abort the process), or is terminated after 10 s.
   */
  async close(): Promise<void> {
    this.dispatch()
    this.closed = true
    await Promise.all(
      this.workers.map(async (worker) => {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
        worker.postMessage({ kind: 'close' } satisfies CommitmentRequest)
        const timer = setTimeout(() => void worker.terminate(), 10_000)
        await exited
        clearTimeout(timer)
      }),
    )
  }
}
