/**
 * Sender recovery (ecrecover) on the parallel executor's worker threads, for the mempool's
 * incoming transactions and for blocks whose senders are not known yet.
 *
 * Requests made in the same turn of the event loop (concurrent RPC calls, a JSON-RPC batch, a
 * block's transactions) are shipped together, split into one task per thread, so one message
 * carries many transactions. While a shipment is on the workers, new requests wait and go
 * together in the next one (as a network card coalesces interrupts under load): when idle, a
 * request leaves at once; under load, one wake-up of a worker serves many. Waking a worker per
 * single-transaction request was the largest item of the main thread's own time under the e2e
 * bench's single requests (piscina's `postTask`, ~7%). Results are handed back in request order,
 * flush after flush, so the mempool still admits transactions first come first served.
 */
import type { Common } from '@ethereumjs/common'
import { Piscina } from 'piscina'

/** A worker's answer per transaction: the sender's 64-byte public key, or why recovery failed. */
export type RecoveredSender = Uint8Array | string

type Request = { readonly raw: Uint8Array; readonly resolve: (sender: Uint8Array) => void; readonly reject: (error: Error) => void }

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

  constructor(
    private readonly pool: Piscina,
    private readonly threads: number,
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
    setImmediate(() => this.flush())
  }

  /** Senders of many transactions at once, in order (a string where recovery failed). */
  async recoverMany(raws: readonly Uint8Array[]): Promise<RecoveredSender[]> {
    if (raws.length === 0) return []
    const size = Math.ceil(raws.length / this.threads)
    const chunks: Uint8Array[][] = []
    for (let i = 0; i < raws.length; i += size) chunks.push(raws.slice(i, i + size))
    const results = await Promise.all(chunks.map((chunk) => this.pool.run(chunk, { name: 'recoverSenders' }) as Promise<RecoveredSender[]>))
    this.recovered += raws.length
    return results.flat()
  }

  private flush(): void {
    this.scheduled = false
    const requests = this.queue
    this.queue = []
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

const RECOVERY_WORKER = new URL('../recovery-worker-entry.mjs', import.meta.url).href

/**
 * Sender recovery on worker threads of its own, which load only the transaction code (for the
 * sequential executor; the parallel executor recovers on its execution workers).
 */
export function createSenderRecovery({ common, threads }: { common: Common; threads: number }): { senders: SenderRecoveryPool; close(): Promise<void> } {
  const workerData = { chainId: Number(common.chainId()), hardfork: common.hardfork() }
  const pool = new Piscina({ filename: RECOVERY_WORKER, minThreads: threads, maxThreads: threads, idleTimeout: Number.POSITIVE_INFINITY, workerData })
  return { senders: new SenderRecoveryPool(pool, threads), close: () => pool.destroy() }
}
