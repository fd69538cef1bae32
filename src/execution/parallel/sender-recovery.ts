/**
 * Sender recovery (ecrecover) on worker threads, for the mempool's incoming transactions and for
 * blocks whose senders are not known yet: the parallel executor's workers
 * (`shipToExecutorWorkers`), or, with the sequential executor, threads that run only
 * libsecp256k1 (`createSenderRecovery`).
 *
 * Requests made in the same turn of the event loop (concurrent RPC calls, a JSON-RPC batch, a
 * block's transactions) are shipped together, split into one task per thread, so one message
 * carries many transactions. While a shipment is on the workers, new requests wait and go
 * together in the next one, and shipments leave at most every `coalesceMs` (as a network card
 * coalesces interrupts under load): when idle, a request leaves at once; under load, one wake-up
 * of a worker serves many. Waking a worker per single-transaction request was the largest item of
 * the main thread's own time under the e2e bench's single requests (piscina's `postTask`, ~7%):
 * a recovery (~50 µs) is over before the next request comes, so waiting only for the shipment on
 * the workers still shipped them one by one. Results are handed back in request order, flush
 * after flush, so the mempool still admits transactions first come first served.
 *
 * At a low rate a shipment carries one transaction, and waking a sleeping worker
 * for it, then being woken by its answer, costs this thread more than the recovery itself: on a
 * virtual machine each wake-up of an idle CPU is an exit to the hypervisor. At 300 tx/s
 * (bench:e2e `rate-300`) piscina's `postTask` alone took 66 µs of this thread per transaction,
 * the recovery here ~55 µs. So a flush that carries one request recovers it on this thread
 * (`recoverHere`), and the interval counts from any flush: below one request per interval each
 * is recovered here as it comes; above, a request that comes within the interval of the last
 * flush waits for the others, and together they go to the workers.
 */
import type { Common } from '@ethereumjs/common'
import type { Piscina } from 'piscina'
import { txCommonFor } from '../../chain/common.ts'
import { signatureFromRlp } from '../../chain/transaction.ts'
import { recoverSendersWith } from '../recover-senders.ts'
import { startNativeWorkerPool } from '../../utils/worker-pool.ts'

/** The answer per transaction: the sender's 64-byte public key, or why recovery failed. */
export type RecoveredSender = Uint8Array | string

/** Recovers the senders of many serialized signed transactions on worker threads, in order. */
export type ShipSenders = (raws: readonly Uint8Array[]) => Promise<RecoveredSender[]>

type Request = { readonly raw: Uint8Array; readonly resolve: (sender: Uint8Array) => void; readonly reject: (error: Error) => void }

/** Shipments leave at most this often under load (a request waits at most this long for others). */
export const RECOVERY_COALESCE_MS = 1
/** A queue this long leaves without waiting out the interval. */
const SHIP_AT_ONCE = 64
/** Recovers one sender on the calling thread: the public key, or why there is none. */
export type RecoverHere = (raw: Uint8Array) => RecoveredSender

export class SenderRecoveryPool {
  private queue: Request[] = []
  private scheduled = false
  /** A shipment is on the workers: requests that come meanwhile wait for it to return. */
  private shipping = false
  /** The previous flush: a flush hands back its results only after the one before it. */
  private previous: Promise<void> = Promise.resolve()
  /** Transactions recovered on workers (diagnostics and tests). */
  recovered = 0
  /** Shipments of queued requests to the workers (diagnostics and tests: fewer than requests under load). */
  shipments = 0
  /** Transactions recovered on this thread, lone requests at a low rate (diagnostics and tests). */
  recoveredHere = 0
  /** When the queue was last flushed (`performance.now()`), shipped or recovered here. */
  private flushedAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly ship: ShipSenders,
    private readonly coalesceMs = RECOVERY_COALESCE_MS,
    /** Recovery on this thread for a flush of one request; without it every flush is shipped. */
    private readonly recoverHere?: RecoverHere,
  ) {}

  /** The sender's public key for one serialized signed transaction; rejects with the reason it has none. */
  recover(raw: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ raw, resolve, reject })
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.scheduled || this.shipping || this.queue.length === 0) return
    this.scheduled = true
    const wait = this.flushedAt + this.coalesceMs - performance.now()
    if (wait <= 0 || this.queue.length >= SHIP_AT_ONCE) setImmediate(() => this.flush())
    else setTimeout(() => this.flush(), wait)
  }

  /** Senders of many transactions at once, in order (a string where recovery failed). */
  async recoverMany(raws: readonly Uint8Array[]): Promise<RecoveredSender[]> {
    if (raws.length === 0) return []
    const senders = await this.ship(raws)
    this.recovered += raws.length
    return senders
  }

  private flush(): void {
    this.scheduled = false
    const requests = this.queue
    this.queue = []
    this.flushedAt = performance.now()
    if (requests.length === 1 && this.recoverHere !== undefined) {
      const request = requests[0]!
      const sender = this.recoverHere(request.raw)
      this.recoveredHere++
      const hand = () => (sender instanceof Uint8Array ? request.resolve(sender) : request.reject(new Error(sender)))
      this.previous = this.previous.then(hand)
      return
    }
    this.shipping = true
    this.shipments++
    const results = this.recoverMany(requests.map((r) => r.raw))
    const before = this.previous
    this.previous = (async () => {
      let senders: RecoveredSender[] | undefined
      let failure: Error | undefined
      try {
        senders = await results
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error))
      }
      this.shipping = false
      this.schedule()
      await before
      requests.forEach((request, i) => {
        const sender = senders?.[i]
        if (sender instanceof Uint8Array) request.resolve(sender)
        else request.reject(failure ?? new Error(sender ?? 'sender recovery failed'))
      })
    })()
  }
}

/** `RecoverHere` for `common`'s chain: libsecp256k1 from the RLP, ethereumjs' answer for the rest. */
export function recoverOnThisThread(common: Common): RecoverHere {
  const txCommon = txCommonFor(common)
  return (raw) => recoverSendersWith(txCommon, [raw])[0]!
}

/** `items` in one chunk per thread, in order. */
function chunked<T>(items: readonly T[], threads: number): T[][] {
  const size = Math.ceil(items.length / threads)
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

/**
 * Ships the serialized transactions whole to the parallel executor's workers, which decode and
 * recover them (`recoverSenders` in `worker.ts`): they have the transaction code loaded anyway.
 */
export function shipToExecutorWorkers(pool: Piscina, threads: number): ShipSenders {
  return async (raws) => {
    const results = await Promise.all(chunked(raws, threads).map((chunk) => pool.run(chunk, { name: 'recoverSenders' }) as Promise<RecoveredSender[]>))
    return results.flat()
  }
}

const ECRECOVER_WORKER = new URL('../ecrecover-worker.mjs', import.meta.url).href
/** One request to `ecrecover-worker.mjs`: signing hash (32) ‖ r ‖ s (64) ‖ recovery id (1). */
const REQUEST_BYTES = 97
/** One answer: 1 ‖ public key (64), or 0 ‖ 64 zero bytes for a signature that names no key. */
const ANSWER_BYTES = 65

/**
 * Sender recovery for the sequential executor, on threads that load nothing but libsecp256k1
 * (`ecrecover-worker.mjs`). This thread takes each transaction's signing hash and signature from
 * its RLP (`signatureFromRlp`, a few µs) and ships them packed; a worker runs the recovery
 * (~50 µs). What that path does not take, and a signature with no key, get ethereumjs' answer and
 * error message here (`recoverSendersWith`): malformed transactions only. A worker that decoded
 * the transactions itself loaded the TypeScript loader and ethereumjs, ~50 MB more resident
 * memory under load (bench:e2e) for the same work.
 */
export function createSenderRecovery({ common, threads }: { common: Common; threads: number }): { senders: SenderRecoveryPool; close(): Promise<void> } {
  const chainId = common.chainId()
  const txCommon = txCommonFor(common)
  const workers = startNativeWorkerPool({ filename: ECRECOVER_WORKER, threads, workerData: { requestBytes: REQUEST_BYTES, answerBytes: ANSWER_BYTES }, label: 'sender recovery' })
  const { pool } = workers
  const ship: ShipSenders = async (raws) => {
    const taken: number[] = []
    const requests: Uint8Array[] = []
    raws.forEach((raw, i) => {
      const toRecover = signatureFromRlp(raw, chainId)
      if (toRecover === undefined) return
      const request = new Uint8Array(REQUEST_BYTES)
      request.set(toRecover.hash, 0)
      request.set(toRecover.signature, 32)
      request[96] = toRecover.recovery
      taken.push(i)
      requests.push(request)
    })
    const packed = chunked(requests, threads).map((chunk) => {
      const bytes = new Uint8Array(chunk.length * REQUEST_BYTES)
      chunk.forEach((request, i) => bytes.set(request, i * REQUEST_BYTES))
      return bytes
    })
    const answers = await Promise.all(packed.map((bytes) => pool.run(bytes, { name: 'recoverKeys', transferList: [bytes.buffer] }) as Promise<Uint8Array>))
    const senders = new Array<RecoveredSender | undefined>(raws.length)
    let k = 0
    for (const chunk of answers) {
      for (let at = 0; at < chunk.length; at += ANSWER_BYTES, k++) {
        if (chunk[at] === 1) senders[taken[k]!] = chunk.slice(at + 1, at + ANSWER_BYTES)
      }
    }
    return raws.map((raw, i) => senders[i] ?? recoverSendersWith(txCommon, [raw])[0]!)
  }
  return { senders: new SenderRecoveryPool(ship, RECOVERY_COALESCE_MS, recoverOnThisThread(common)), close: () => workers.close() }
}
