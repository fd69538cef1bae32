/**
 * Worker threads that answer requests of bytes with bytes, one message each way, each thread its
 * requests in order (`serve-requests.mjs` is their side). For small, frequent requests to a
 * thread that loads a native addon: the sender-recovery threads, which under bench:e2e's single
 * requests take a shipment every millisecond. Through piscina, a task cost this thread ~40–60 µs
 * (its task bookkeeping, and an `Atomics.notify` to wake the worker on top of the message that
 * already wakes it), against ~20 µs for a plain `postMessage` round trip; for the worker pools
 * whose tasks run for milliseconds (`utils/worker-pool.ts`) that does not matter.
 *
 * Like `startNativeWorkerPool`, no thread is stopped inside its addon: `close()` waits until every
 * thread has loaded and answered what it was asked, then asks each to stop, and it exits by itself.
 * A thread that dies after it loaded (a crash in the addon, memory) fails the requests it held
 * and is replaced, so one bad moment does not stop the node from admitting transactions; one that
 * fails to load fails `started` and every request.
 */
import { Worker } from 'node:worker_threads'
import { CLOSE, READY } from './serve-requests.mjs'

export type NativeThreads = {
  /** How many threads answer requests. */
  readonly size: number
  /** Resolves once every thread has loaded its module; rejects if one fails to. */
  readonly started: Promise<void>
  /** Sends `request` (its buffer transferred) to thread `thread`; resolves with the answer. */
  request(thread: number, request: Uint8Array): Promise<Uint8Array>
  /** Waits until every thread has loaded and answered its requests, then stops them. */
  close(): Promise<void>
}

type Pending = { readonly resolve: (answer: Uint8Array) => void; readonly reject: (error: Error) => void }

/** One thread, and the requests it was sent and has not answered yet, oldest first. */
class NativeThread {
  private worker!: Worker
  private pending: Pending[] = []
  private closing = false
  /** Why requests fail: the module did not load, or the threads are closed. */
  private failure: Error | undefined
  /** Settles when the current worker has loaded (resolves) or failed to (rejects). */
  ready!: Promise<void>
  private exited!: Promise<void>

  constructor(
    private readonly filename: string | URL,
    private readonly workerData: unknown,
  ) {
    this.spawn(true)
  }

  private spawn(first: boolean): void {
    const worker = new Worker(this.filename, { workerData: this.workerData })
    this.worker = worker
    let loaded = false
    let markReady!: () => void
    let failLoad!: (error: Error) => void
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve
      failLoad = reject
    })
    // A replacement that fails to load fails what is sent to it; `started` saw the first one load.
    if (!first) ready.catch(() => {})
    this.ready = ready
    // Referenced while it loads and while it holds requests, so that they keep the process alive.
    worker.on('message', (message: unknown) => {
      if (message === READY) {
        loaded = true
        this.holdProcess()
        markReady()
        return
      }
      const next = this.pending.shift()
      this.holdProcess()
      if (next === undefined) return
      if (message instanceof Uint8Array) next.resolve(message)
      else next.reject(new Error((message as { error?: string }).error ?? 'malformed answer from a worker thread'))
    })
    let lastError: Error | undefined
    worker.on('error', (error) => {
      lastError = error
    })
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        const reason = lastError ?? new Error(`worker thread exited with code ${code}`)
        if (!loaded) {
          this.failure = new Error(`worker thread failed to load ${String(this.filename)}: ${reason.message}`)
          failLoad(this.failure)
        }
        const held = this.pending
        this.pending = []
        for (const request of held) request.reject(reason)
        if (loaded && !this.closing) {
          console.error(`worker thread ${String(this.filename)} died (${reason.message}); starting another`)
          this.spawn(false)
        }
        resolve()
      })
    })
  }

  /**
   * An idle thread does not keep the process alive; one that loads, holds requests or is being
   * closed does, so that what waits on it is not cut short.
   */
  private holdProcess(): void {
    if (this.closing || this.pending.length > 0) this.worker.ref()
    else this.worker.unref()
  }

  request(request: Uint8Array): Promise<Uint8Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.closing) return Promise.reject(new Error('worker threads are closed'))
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      if (this.pending.length === 1) this.holdProcess()
      this.worker.postMessage(request, [request.buffer as ArrayBuffer])
    })
  }

  async close(): Promise<void> {
    this.closing = true
    await this.ready.catch(() => {})
    this.holdProcess()
    // The thread answers what it holds before it reads CLOSE: messages are handled in order.
    this.worker.postMessage(CLOSE)
    await this.exited
  }
}

/** `threads` threads of `filename` (a module that calls `serveRequests`), all started at once. */
export function startNativeThreads({ filename, threads, workerData }: { filename: string | URL; threads: number; workerData?: unknown }): NativeThreads {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`startNativeThreads: threads must be a positive integer, got ${threads}`)
  const all = Array.from({ length: threads }, () => new NativeThread(filename, workerData))
  const started = Promise.all(all.map((thread) => thread.ready)).then(() => undefined)
  // A thread that fails to load fails its requests too; close() still stops the others.
  started.catch(() => {})
  return {
    size: threads,
    started,
    request: (thread, request) => all[thread % threads]!.request(request),
    async close() {
      await Promise.all(all.map((thread) => thread.close()))
    },
  }
}
