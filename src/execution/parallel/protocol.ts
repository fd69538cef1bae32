/**
 * The whole message protocol between the parallel executor's coordinator (main thread) and its
 * workers (piscina). Everything is plain data — bytes, strings, bigints, Maps and Sets — so it
 * crosses the thread boundary by structured clone; errors travel as strings. What goes to every
 * worker — the log of committed writes, the block's ancestor hashes — is serialized once into
 * shared memory (`packForWorkers`), so that each further worker costs the coordinator a
 * reference to the same bytes, not another structured clone of the same Maps nor a copy. What
 * goes to one worker and back — a chunk's transactions, their outcomes — travels as one buffer in
 * a layout of its own (`packTxInputs`, `packOutcomes`), moved, not copied: structured clone gave
 * every byte array in an outcome an ArrayBuffer of its own, outside V8's heap, and unpacking those
 * (~8 µs per ERC-20 transfer's outcome), then collecting them, was a large part of the
 * coordinator's time per transaction.
 */
import { DefaultDeserializer, serialize } from 'node:v8'
import { createStateDelta, type StateDelta } from '../../state/types.ts'

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

/** A log entry as it travels: its delta packed once (`packDeltaForWorkers`), however many workers it goes to. */
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
  /** The chunk's transactions, in order (`packTxInputs`); moved to the worker with the task. */
  readonly txs: Uint8Array
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
      /** The receipt's logs bloom (256 bytes), as execution computed it: the coordinator does not hash the logs again. */
      readonly logsBloom: Uint8Array
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
      /** An outcome per transaction, in the chunk's order (`packOutcomes`); moved to the coordinator. */
      readonly outcomes: Uint8Array
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

/**
 * Writes one message's buffer: integers, byte arrays, bigints and strings, each read back in the
 * same order by `MessageReader`. Its memory is an ArrayBuffer of its own (not Buffer's shared
 * pool), so the message can move it to the other thread.
 */
class MessageWriter {
  private buffer: Buffer
  private at = 0

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafeSlow(Math.max(64, capacity))
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.at + bytes))
    this.buffer.copy(grown, 0, 0, this.at)
    this.buffer = grown
  }

  u8(value: number): void {
    this.room(1)
    this.buffer[this.at++] = value
  }

  u32(value: number): void {
    this.room(4)
    this.at = this.buffer.writeUInt32LE(value, this.at)
  }

  bytes(value: Uint8Array): void {
    this.u32(value.length)
    this.room(value.length)
    this.buffer.set(value, this.at)
    this.at += value.length
  }

  /** A state key (hex, or a one-letter tag and hex): one byte a character, at most 255. */
  key(value: string): void {
    if (value.length > 255) throw new Error(`protocol: a key of ${value.length} characters`)
    this.u8(value.length)
    this.room(value.length)
    this.at += this.buffer.write(value, this.at, 'latin1')
  }

  text(value: string): void {
    const length = Buffer.byteLength(value)
    this.u32(length)
    this.room(length)
    this.at += this.buffer.write(value, this.at, 'utf8')
  }

  /** A non-negative bigint, as its hex digits. */
  bigint(value: bigint): void {
    if (value < 0n) throw new Error('protocol: a negative bigint')
    this.key(value === 0n ? '' : value.toString(16))
  }

  /** The bytes written, in an ArrayBuffer to move. */
  finish(): Uint8Array {
    return new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.at)
  }
}

/** Reads what a `MessageWriter` wrote, in the same order. */
class MessageReader {
  private readonly buffer: Buffer
  private readonly view: Uint8Array
  private at = 0

  constructor(bytes: Uint8Array) {
    this.view = bytes
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  }

  private take(bytes: number): number {
    const at = this.at
    if (at + bytes > this.buffer.length) throw new Error('protocol: a message ends early')
    this.at = at + bytes
    return at
  }

  u8(): number {
    return this.buffer[this.take(1)]!
  }

  u32(): number {
    return this.buffer.readUInt32LE(this.take(4))
  }

  /** Bytes copied into an array of their own (a small one lives on V8's heap), so that nothing kept holds on to the message. */
  bytes(): Uint8Array {
    const length = this.u32()
    const at = this.take(length)
    return this.view.slice(at, at + length)
  }

  /** Bytes as a view into the message (for what lives no longer than it). */
  borrowed(): Uint8Array {
    const length = this.u32()
    const at = this.take(length)
    return this.view.subarray(at, at + length)
  }

  key(): string {
    const length = this.u8()
    const at = this.take(length)
    return this.buffer.toString('latin1', at, at + length)
  }

  text(): string {
    const length = this.u32()
    const at = this.take(length)
    return this.buffer.toString('utf8', at, at + length)
  }

  bigint(): bigint {
    const digits = this.key()
    return digits === '' ? 0n : BigInt(`0x${digits}`)
  }

  /** Throws unless every byte was read: the two sides disagree on the layout otherwise. */
  end(): void {
    if (this.at !== this.buffer.length) throw new Error(`protocol: ${this.buffer.length - this.at} bytes left unread`)
  }
}

/** A chunk's transactions as one buffer: per transaction its id, sender and serialized bytes. */
export function packTxInputs(txs: readonly TxInput[]): Uint8Array {
  let capacity = 4
  for (const tx of txs) capacity += 12 + tx.sender.length + tx.raw.length
  const w = new MessageWriter(capacity)
  w.u32(txs.length)
  for (const { id, sender, raw } of txs) {
    w.u32(id)
    w.bytes(sender)
    w.bytes(raw)
  }
  return w.finish()
}

/** The transactions of `packTxInputs`; their bytes are views into `bytes`, which they must not outlive. */
export function unpackTxInputs(bytes: Uint8Array): TxInput[] {
  const r = new MessageReader(bytes)
  const txs: TxInput[] = []
  for (let n = r.u32(); n > 0; n--) txs.push({ id: r.u32(), sender: r.borrowed(), raw: r.borrowed() })
  r.end()
  return txs
}

const OK = 1
const BLOOM_BYTES = 256
const STATUS_SUCCESS = 2
const CREATED = 4

function writeDelta(w: MessageWriter, delta: StateDelta): void {
  w.u32(delta.accounts.size)
  for (const [address, record] of delta.accounts) {
    w.key(address)
    w.u8(record === null ? 0 : 1)
    if (record === null) continue
    w.bigint(record.nonce)
    w.bigint(record.balance)
    w.bytes(record.codeHash)
  }
  w.u32(delta.storage.size)
  for (const [address, slots] of delta.storage) {
    w.key(address)
    w.u32(slots.size)
    for (const [slot, value] of slots) {
      w.key(slot)
      w.bytes(value)
    }
  }
  w.u32(delta.storageCleared.size)
  for (const address of delta.storageCleared) w.key(address)
  w.u32(delta.code.size)
  for (const [hash, code] of delta.code) {
    w.key(hash)
    w.bytes(code)
  }
}

function readDelta(r: MessageReader): StateDelta {
  const delta = createStateDelta()
  for (let n = r.u32(); n > 0; n--) {
    const address = r.key()
    delta.accounts.set(address, r.u8() === 0 ? null : { nonce: r.bigint(), balance: r.bigint(), codeHash: r.bytes() })
  }
  for (let n = r.u32(); n > 0; n--) {
    const address = r.key()
    const slots = new Map<string, Uint8Array>()
    for (let m = r.u32(); m > 0; m--) slots.set(r.key(), r.bytes())
    delta.storage.set(address, slots)
  }
  for (let n = r.u32(); n > 0; n--) delta.storageCleared.add(r.key())
  for (let n = r.u32(); n > 0; n--) delta.code.set(r.key(), r.bytes())
  return delta
}

/**
 * A log entry's delta, packed once in the layout outcomes use and shared with every worker, as
 * `packForWorkers` shares what it packs: V8's serializer took ~7 µs per ERC-20 transfer's writes
 * on the coordinator, a host object per byte array.
 */
export function packDeltaForWorkers(delta: StateDelta): Uint8Array {
  const w = new MessageWriter(256)
  writeDelta(w, delta)
  const bytes = w.finish()
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length))
  shared.set(bytes)
  return shared
}

/** The delta of `packDeltaForWorkers`; its byte arrays are copies of their own. */
export function unpackDelta(bytes: Uint8Array): StateDelta {
  const r = new MessageReader(bytes)
  const delta = readDelta(r)
  r.end()
  return delta
}

/** A chunk's outcomes as one buffer, for `unpackOutcomes` on the other thread. */
export function packOutcomes(outcomes: readonly TxOutcome[]): Uint8Array {
  const w = new MessageWriter(outcomes.length * 2048)
  w.u32(outcomes.length)
  for (const outcome of outcomes) {
    w.u32(outcome.id)
    if (!outcome.ok) {
      w.u8(0)
      w.u32(outcome.reads.size)
      for (const key of outcome.reads) w.key(key)
      w.text(outcome.error)
      continue
    }
    w.u8(OK | (outcome.status === 1 ? STATUS_SUCCESS : 0) | (outcome.createdAddress !== undefined ? CREATED : 0))
    w.u32(outcome.reads.size)
    for (const key of outcome.reads) w.key(key)
    writeDelta(w, outcome.writes)
    w.bigint(outcome.feeDelta)
    w.bigint(outcome.gasUsed)
    w.u32(outcome.logs.length)
    for (const [address, topics, data] of outcome.logs) {
      w.bytes(address)
      w.u32(topics.length)
      for (const topic of topics) w.bytes(topic)
      w.bytes(data)
    }
    // Without logs the bloom is zero: not carried.
    if (outcome.logs.length > 0) w.bytes(outcome.logsBloom)
    if (outcome.createdAddress !== undefined) w.bytes(outcome.createdAddress)
  }
  return w.finish()
}

/** The outcomes of `packOutcomes`; nothing in them refers to `bytes`. */
export function unpackOutcomes(bytes: Uint8Array): TxOutcome[] {
  const r = new MessageReader(bytes)
  const outcomes: TxOutcome[] = []
  for (let n = r.u32(); n > 0; n--) {
    const id = r.u32()
    const flags = r.u8()
    const reads = new Set<string>()
    for (let m = r.u32(); m > 0; m--) reads.add(r.key())
    if ((flags & OK) === 0) {
      outcomes.push({ id, ok: false, reads, error: r.text() })
      continue
    }
    const writes = readDelta(r)
    const feeDelta = r.bigint()
    const gasUsed = r.bigint()
    const logs: [Uint8Array, Uint8Array[], Uint8Array][] = []
    for (let m = r.u32(); m > 0; m--) {
      const address = r.bytes()
      const topics: Uint8Array[] = []
      for (let t = r.u32(); t > 0; t--) topics.push(r.bytes())
      logs.push([address, topics, r.bytes()])
    }
    const logsBloom = logs.length > 0 ? r.bytes() : new Uint8Array(BLOOM_BYTES)
    const createdAddress = (flags & CREATED) !== 0 ? r.bytes() : undefined
    outcomes.push({ id, ok: true, reads, writes, feeDelta, status: (flags & STATUS_SUCCESS) !== 0 ? 1 : 0, gasUsed, logs, logsBloom, createdAddress })
  }
  r.end()
  return outcomes
}
