/**
 * A commitment worker thread: owns the sub-tries whose index ≡ its number (mod the thread count)
 * and the storage tries of their accounts (`engine.ts`). Per block it applies the changes it is
 * sent, answers with the new sub-trie roots at once, then — once the block itself is durable (a
 * `durable` message) — stores the new nodes in LMDB and says so; the coordinator (`pipeline.ts`)
 * records the block's commitment only after that.
 *
 * Why wait for the block: the coordinator sends a block's changes the moment it is sealed, while
 * the block's own LMDB write is under way, and LMDB has one writer. In a timed run of bench:e2e
 * `rate-300` (~75 transactions a block) a block's write took a median of 15.0 ms when this
 * thread's node write (~400 nodes, ~14 ms) overlapped it, 7.5 ms when none did, and 72% did: the
 * node write held back the moment the block became visible. After the block it overlaps nothing
 * (the next block is ~250 ms away).
 */
import { getHeapStatistics } from 'node:v8'
import { parentPort, workerData } from 'node:worker_threads'
import { LmdbStore, type TrieNodeWrite, trieNodeKey } from '../storage/lmdb-store.ts'
import { SubtrieEngine, type SubtrieRoot, type TrieMemory } from './engine.ts'
import { readUpdates } from './update-codec.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { subtrieOf } from './layout.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export type CommitmentWorkerInit = {
  readonly splitNibbles: number
  /** Whether the coordinator needs the sub-tries' top nodes (`mpt` mode). */
  readonly withTops: boolean
  /** Root of every owned non-empty sub-trie at the commitment head. */
  readonly roots: ReadonlyMap<number, Uint8Array>
  /** LMDB data dir to load and store nodes; undefined keeps every node in memory only. */
  readonly dataDir: string | undefined
  /**
   * Bytes of trie nodes this worker keeps in memory (its share of `TRIE_CACHE_BYTES`); beyond it
   * the deepest levels are released once durable. Without a data dir every node stays.
   */
  readonly memoryBudget: number
  /** Whether stored nodes that leave the tries are recorded to be pruned (`TRIE_HISTORY_BLOCKS` not `all`). */
  readonly pruning: boolean
  /** This worker's number, and how many there are (whose `trie_stale` entries it prunes). */
  readonly writer: number
  readonly writers: number
}

/** A worker's memory as it reports it with each block (`mosaic_status`, `/metrics`). */
export type WorkerMemory = {
  /** V8 heap of the worker's isolate, used and total. */
  readonly heapUsed: number
  readonly heapTotal: number
  /** Estimated bytes of trie nodes held, with the budget, and how many times levels were released. */
  readonly trie: TrieMemory
}

export type CommitmentRequest =
  /**
   * `updates`: the block's updates for this worker's sub-tries (`update-codec.ts`); `witness`:
   * also record and send back the nodes a stateless verifier needs for them.
   */
  /**
   * `prune`: delete the nodes that left the tries in blocks up to this one (`trie_stale`), once
   * this block's nodes are stored; undefined: none.
   */
  | { readonly kind: 'apply'; readonly id: number; readonly block: bigint; readonly updates: Uint8Array; readonly witness: boolean; readonly prune: bigint | undefined }
  /** Addresses, 20 bytes each, whose account-trie paths a coming block will write: this worker loads those it owns. */
  | { readonly kind: 'prefetch'; readonly addresses: Uint8Array }
  /** Block `block` and every block before it are durable: their nodes may be stored. */
  | { readonly kind: 'durable'; readonly block: bigint }
  /** Finish the node writes under way, close the store, then exit. */
  | { readonly kind: 'close' }

export type CommitmentResponse =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'applied'
      readonly id: number
      readonly roots: readonly SubtrieRoot[]
      /** Witness nodes (encodings), when asked for. */
      readonly witness: readonly Uint8Array[]
      readonly loads: number
      readonly nodes: number
      readonly ms: number
      readonly memory: WorkerMemory
    }
  /** `pruned`: trie nodes deleted after this block's were stored. */
  | { readonly kind: 'persisted'; readonly id: number; readonly pruned: number }
  | { readonly kind: 'prefetched'; readonly loads: number }
  | { readonly kind: 'failed'; readonly id: number | undefined; readonly error: string }

const init = workerData as CommitmentWorkerInit
const store = init.dataDir === undefined ? undefined : LmdbStore.open(init.dataDir)
const engine = new SubtrieEngine(init.splitNibbles, init.roots, store, init.withTops)
const port = parentPort!
const send = (message: CommitmentResponse) => port.postMessage(message)
let trieMemory: TrieMemory = { bytes: 0, budget: init.memoryBudget, releases: 0 }

function memory(): WorkerMemory {
  const heap = getHeapStatistics()
  return { heapUsed: heap.used_heap_size, heapTotal: heap.total_heap_size, trie: trieMemory }
}

/** Node writes not yet durable: a worker must not exit in the middle of one. */
const writes = new Set<Promise<void>>()
/** Blocks through this one are durable (`durable` messages). */
let durableThrough = -1n
/** Node writes of blocks not durable yet, in block order: each starts once its block is. */
const deferred: { readonly block: bigint; readonly start: () => void }[] = []

function startDurableWrites(): void {
  while (deferred.length > 0 && deferred[0]!.block <= durableThrough) deferred.shift()!.start()
}

port.on('message', (request: CommitmentRequest) => {
  if (request.kind === 'close') {
    void Promise.allSettled([...writes])
      .then(() => store?.close())
      .finally(() => port.close())
    return
  }
  if (request.kind === 'durable') {
    if (request.block > durableThrough) durableThrough = request.block
    startDurableWrites()
    return
  }
  if (request.kind === 'prefetch') {
    try {
      const keys: Uint8Array[] = []
      for (let at = 0; at + 20 <= request.addresses.length; at += 20) {
        const key = keccak256(request.addresses.subarray(at, at + 20))
        if (subtrieOf(key, init.splitNibbles) % init.writers === init.writer) keys.push(key)
      }
      send({ kind: 'prefetched', loads: engine.prefetch(keys) })
    } catch (error) {
      send({ kind: 'failed', id: undefined, error: String(error) })
    }
    return
  }
  const started = performance.now()
  const loadsBefore = engine.loads
  const nodes: TrieNodeWrite[] = []
  const stale: Uint8Array[] = []
  const witness = new Map<string, Uint8Array>()
  let roots: SubtrieRoot[]
  try {
    roots = engine.apply(
      readUpdates(request.updates),
      (hash, enc, owner) => nodes.push([hash, enc, owner]),
      request.witness ? (hash, enc) => witness.set(bytesToUnprefixedHex(hash), enc) : undefined,
      store !== undefined && init.pruning ? (hash, owner) => stale.push(trieNodeKey(hash, owner)) : undefined,
    )
  } catch (error) {
    send({ kind: 'failed', id: request.id, error: error instanceof Error ? error.message : String(error) })
    return
  }
  send({ kind: 'applied', id: request.id, roots, witness: [...witness.values()], loads: engine.loads - loadsBefore, nodes: nodes.length, ms: performance.now() - started, memory: memory() })
  if (store === undefined) send({ kind: 'persisted', id: request.id, pruned: 0 })
  else {
    const { prune, id, block } = request
    // This block's nodes and the record of those that left, then what left long enough ago.
    const start = () => {
      const write = store
        .putTrieNodes(block, nodes, stale, init.writer)
        .then(() => (prune === undefined ? 0 : store.pruneTrieNodes(prune, init.writer, init.writers)))
        .then(
          (pruned) => send({ kind: 'persisted', id, pruned }),
          (error: unknown) => send({ kind: 'failed', id, error: `storing or pruning trie nodes failed: ${String(error)}` }),
        )
      writes.add(write)
      void write.finally(() => {
        writes.delete(write)
        // Every node applied so far is stored and no block is being applied: nodes may be released.
        if (writes.size > 0 || deferred.length > 0) return
        try {
          trieMemory = engine.trim(init.memoryBudget)
        } catch (error) {
          send({ kind: 'failed', id: undefined, error: `releasing trie nodes failed: ${String(error)}` })
        }
      })
    }
    deferred.push({ block, start })
    startDurableWrites()
  }
})
send({ kind: 'ready' })
