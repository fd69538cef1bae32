/**
 * The whole message protocol between the parallel executor's coordinator (main thread) and its
 * workers (piscina). Everything is plain data — bytes, strings, bigints, Maps and Sets — so it
 * crosses the thread boundary by structured clone; errors travel as strings. What goes to every
 * worker — the log of committed writes, the block's ancestor hashes — is serialized once into
 * shared memory (`packForWorkers`), so that each further worker costs the coordinator a
 * reference to the same bytes, not another structured clone of the same Maps nor a copy.
 */
import { DefaultDeserializer, serialize } from 'node:v8'
import type { StateDelta } from '../../state/types.ts'

/** Where a worker reads committed state from: the LMDB store itself, or a snapshot shipped once. */
export type WorkerStateSource =
  | { readonly kind: 'lmdb'; readonly dataDir: string }
  | { readonly kind: 'snapshot'; readonly state: StateDelta }

/** `workerData` of every worker thread. */
export type WorkerInit = {
  readonly chainId: number
  readonly hardfork: string
  readonly source: WorkerStateSource
  /** Bytes of committed state each worker keeps in memory (its share of `STATE_CACHE_BYTES`); unset: no limit. */
  readonly stateCacheBytes: number | undefined
}

/**
 * One committed write set, in commit order. The log of them is how the block's (and earlier
 * blocks') writes reach the workers: versioned by `seq`, applied once per worker.
 */
export type LogEntry = { readonly seq: number; readonly delta: StateDelta }

/** A log entry as it travels: its delta packed once (`packForWorkers`), however many workers it goes to. */
export type PackedLogEntry = { readonly seq: number; readonly delta: Uint8Array }

/** The block a batch belongs to: header fields as ethereumjs header data, ancestor hashes for BLOCKHASH. */
export type BlockEnv = {
  readonly header: Record<string, string | undefined>
  /**
   * number (decimal string) → hash, for the 256 ancestors BLOCKHASH may read: a
   * `ReadonlyMap<string, Uint8Array>` packed once per block (`packForWorkers`), which a worker
   * unpacks once per block however many chunks it runs.
   */
  readonly ancestors: Uint8Array
}

export type TxInput = {
  /** Position in the coordinator's candidate list. */
  readonly id: number
  /** The serialized (signed) transaction. */
  readonly raw: Uint8Array
  /** The sender, already recovered (20 bytes): workers do not recover it again. */
  readonly sender: Uint8Array
}

export type ExecuteTask = {
  readonly block: BlockEnv
  /** Log entries from `entries[0].seq` on; the worker unpacks and applies those it has not seen. */
  readonly entries: readonly PackedLogEntry[]
  /** Log length the coordinator had when it built this task (the snapshot version). */
  readonly logLength: number
  /**
   * Entries before this sequence number are durable in LMDB and may be gone from the log: a
   * worker behind it drops its cached state and reads LMDB instead of applying them.
   */
  readonly durableBelow: number
  /**
   * Bumped each time the coordinator took back log entries (a round, block or mini-batch that
   * failed part-way: `ParallelExecutor.rollBack`). A worker that has not seen this value drops
   * every entry it holds that is not durable yet, and takes the rest of the log again from there.
   */
  readonly resetEpoch: number
  readonly txs: readonly TxInput[]
}

export type TxOutcome =
  | {
      readonly id: number
      readonly ok: true
      /** Flat-state keys read from committed state: `a<address>` and `s<address><slot>`. */
      readonly reads: ReadonlySet<string>
      readonly writes: StateDelta
      /** Priority fee owed to the fee recipient, applied at commit as a delta (not read-modify-write). */
      readonly feeDelta: bigint
      readonly status: 0 | 1
      readonly gasUsed: bigint
      /** [address, topics, data] per log. */
      readonly logs: readonly [Uint8Array, Uint8Array[], Uint8Array][]
      readonly createdAddress: Uint8Array | undefined
    }
  | {
      readonly id: number
      readonly ok: false
      readonly reads: ReadonlySet<string>
      /** Why runTx refused the tx (nonce, funds, …) in this snapshot. */
      readonly error: string
    }

/** A parallel worker's V8 heap and the estimated bytes of the committed state it caches. */
export type ExecutorWorkerMemory = {
  readonly heapUsed: number
  readonly heapTotal: number
  readonly stateBytes: number
  /** Timers waiting on the worker's event loop (lmdb-js schedules one per read snapshot): stays small while the loop runs between tasks. */
  readonly pendingTimers: number
}

export type ExecuteResult =
  | {
      readonly kind: 'done'
      readonly threadId: number
      readonly outcomes: readonly TxOutcome[]
      readonly busyMs: number
      /** Block numbers BLOCKHASH looked up while running the task (for the witness). */
      readonly blockNumbers: readonly bigint[]
      /** Transactions of the task run as plain value transfers, without the EVM. */
      readonly transfersWithoutEVM: number
      /** The worker's memory after the task (`mosaic_status`, `/metrics`). */
      readonly memory: ExecutorWorkerMemory
    }
  /** The worker has not seen log entries before `entries[0].seq`: resend from `appliedUpTo`. */
  | { readonly kind: 'behind'; readonly threadId: number; readonly appliedUpTo: number }

export function accountKey(address: string): string {
  return `a${address}`
}

export function slotKey(address: string, slot: string): string {
  return `s${address}${slot}`
}

/**
 * Serializes plain data (what structured clone carries) once, for several workers, where a task to
 * each would clone it again, and into a SharedArrayBuffer, so that a message carries a reference to
 * the bytes: neither the coordinator nor the worker copies them, and a task may carry log entries
 * its worker has already applied (it skips them unread) for next to nothing. The bytes are written
 * here once and never change. `bench:exec-shipping` measures the three ways (cloned per task,
 * packed once and copied into each task, packed once and shared).
 */
export function packForWorkers(value: unknown): Uint8Array {
  const bytes = serialize(value)
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length))
  shared.set(bytes)
  return shared
}

/**
 * Deserializes bytes from `packForWorkers`. Byte arrays in them come out as copies of their own:
 * V8's default deserializer returns views into the message's buffer, and a cached 32-byte value
 * would keep a whole block's delta alive.
 */
export function unpackFromCoordinator<T>(bytes: Uint8Array): T {
  const deserializer = new DetachingDeserializer(bytes)
  deserializer.readHeader()
  return deserializer.readValue() as T
}

/** Node's own host-object reader (documented, though not in its type definitions): typed arrays, Buffers. */
const readHostObject = (DefaultDeserializer.prototype as unknown as { _readHostObject(this: DefaultDeserializer): Uint8Array })._readHostObject

class DetachingDeserializer extends DefaultDeserializer {
  _readHostObject(): Uint8Array {
    return Uint8Array.prototype.slice.call(readHostObject.call(this))
  }
}
