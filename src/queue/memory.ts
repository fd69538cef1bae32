/**
 * In-process queues (`queue.ts`): for one machine on embedded defaults, without Redis. Jobs live
 * as long as the backend; every queue object of the same name within one backend shares them,
 * like processes sharing a Redis queue, so the same tests hold for both implementations.
 */
import { MosaicError } from '../errors.ts'
import { checkJobId, checkQueueName, emitSafely, failureReason, type ResolvedJobOptions, resolveJobOptions, retryDelay } from './options.ts'
import {
  type CompletedJob,
  type FailedJob,
  type Job,
  type JobEvent,
  type JobOptions,
  type JobQueue,
  type ProcessOptions,
  type QueueBackend,
  type QueueCounts,
  type QueueOptions,
  UnrecoverableJobError,
} from './queue.ts'

type State = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed'

/** One job and what has happened to it. */
type Entry = {
  readonly id: string
  readonly data: unknown
  readonly options: ResolvedJobOptions
  state: State
  attemptsMade: number
  result?: unknown
  reason?: string
  finishedAt?: number
  retryTimer?: NodeJS.Timeout
}

/** A `process()` call: its handler and the handlers it has running. */
type Consumer = {
  readonly handler: (job: Job<unknown>) => Promise<unknown>
  readonly concurrency: number
  readonly onEvent: ((event: JobEvent<unknown, unknown>) => void) | undefined
  readonly running: Set<Promise<void>>
  closed: boolean
}

/** The jobs of one queue name, shared by every queue object of that name in the backend. */
type Store = {
  readonly name: string
  /** Every job whose id is taken: unfinished, failed, and completed ones the queue keeps. */
  readonly jobs: Map<string, Entry>
  /** Ids ready to start, oldest first. A retried job joins at the back when its backoff is over. */
  readonly waiting: Entry[]
  /** Kept completed jobs in the order they finished (at most the queue's `keepCompleted`). */
  readonly completed: Entry[]
  /** Kept failed jobs in the order they failed (at most the queue's `keepFailed`). */
  readonly failed: Entry[]
  readonly consumers: Consumer[]
  /** Round-robin position among the consumers, so that two of them both get work. */
  nextConsumer: number
  /** Waiting, active and delayed jobs. */
  unfinished: number
  readonly idleWaiters: Set<() => void>
  pumpScheduled: boolean
}

function createStore(name: string): Store {
  return { name, jobs: new Map(), waiting: [], completed: [], failed: [], consumers: [], nextConsumer: 0, unfinished: 0, idleWaiters: new Set(), pumpScheduled: false }
}

/** In-process queues; `queue(name)` twice returns two objects over the same jobs. */
export function createMemoryQueues(): QueueBackend {
  const stores = new Map<string, Store>()
  const queues = new Set<JobQueue<unknown, unknown>>()
  let closing: Promise<void> | undefined
  return {
    kind: 'memory',
    queue<T, R = unknown>(name: string, options: QueueOptions = {}): JobQueue<T, R> {
      if (closing !== undefined) throw new MosaicError('INTERNAL', `queue backend is closed (opening queue ${name})`)
      checkQueueName(name)
      resolveJobOptions(options) // refuse bad options when the queue is opened, not at the first add
      let store = stores.get(name)
      if (store === undefined) {
        store = createStore(name)
        stores.set(name, store)
      }
      const queue = createMemoryQueue<T, R>(store, options)
      queues.add(queue as JobQueue<unknown, unknown>)
      return queue
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...queues].map((queue) => queue.close()))
        for (const store of stores.values()) {
          for (const entry of store.jobs.values()) clearTimeout(entry.retryTimer)
          for (const wake of store.idleWaiters) wake()
        }
      })()
      return closing
    },
  }
}

function createMemoryQueue<T, R>(store: Store, queueOptions: QueueOptions): JobQueue<T, R> {
  let consumer: Consumer | undefined
  let closed = false
  const checkOpen = () => {
    if (closed) throw new MosaicError('INTERNAL', `queue ${store.name} is closed`)
  }
  return {
    name: store.name,
    async add(id: string, data: T, options?: JobOptions): Promise<boolean> {
      checkOpen()
      checkJobId(id)
      const resolved = resolveJobOptions(queueOptions, options)
      if (store.jobs.has(id)) return false
      const entry: Entry = { id, data, options: resolved, state: 'waiting', attemptsMade: 0 }
      store.jobs.set(id, entry)
      store.waiting.push(entry)
      store.unfinished++
      schedulePump(store)
      return true
    },
    process(handler: (job: Job<T>) => Promise<R>, options: ProcessOptions<T, R> = {}): void {
      checkOpen()
      if (consumer !== undefined) throw new MosaicError('INTERNAL', `queue ${store.name}: process() was already called on this queue object`)
      const concurrency = options.concurrency ?? 1
      if (!Number.isSafeInteger(concurrency) || concurrency < 1)
        throw new MosaicError('INVALID_PARAMS', `options.concurrency must be a positive integer, got ${concurrency}`)
      consumer = {
        handler: handler as (job: Job<unknown>) => Promise<unknown>,
        concurrency,
        onEvent: options.onEvent as ((event: JobEvent<unknown, unknown>) => void) | undefined,
        running: new Set(),
        closed: false,
      }
      store.consumers.push(consumer)
      schedulePump(store)
    },
    async counts(): Promise<QueueCounts> {
      const counts = { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 }
      for (const entry of store.jobs.values()) counts[entry.state]++
      return counts
    },
    async failed(limit = Infinity): Promise<FailedJob<T>[]> {
      const out: FailedJob<T>[] = []
      for (let i = store.failed.length - 1; i >= 0 && out.length < limit; i--) {
        const entry = store.failed[i]!
        out.push({ id: entry.id, data: entry.data as T, reason: entry.reason ?? '', attempts: entry.attemptsMade, finishedAt: entry.finishedAt ?? 0 })
      }
      return out
    },
    async completed(limit = Infinity): Promise<CompletedJob<T, R>[]> {
      const out: CompletedJob<T, R>[] = []
      for (let i = store.completed.length - 1; i >= 0 && out.length < limit; i--) {
        const entry = store.completed[i]!
        out.push({ id: entry.id, data: entry.data as T, result: entry.result as R, finishedAt: entry.finishedAt ?? 0 })
      }
      return out
    },
    async drained(timeoutMs?: number): Promise<void> {
      if (store.unfinished === 0) return
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined
        const wake = () => {
          store.idleWaiters.delete(wake)
          clearTimeout(timer)
          if (store.unfinished === 0) resolve()
          else reject(new MosaicError('INTERNAL', `queue ${store.name} was closed before it drained`))
        }
        store.idleWaiters.add(wake)
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            store.idleWaiters.delete(wake)
            reject(new MosaicError('LIMIT_EXCEEDED', `queue ${store.name} did not drain within ${timeoutMs} ms`, { details: `${store.unfinished} jobs waiting, active or delayed` }))
          }, timeoutMs)
        }
      })
    },
    async close(): Promise<void> {
      closed = true
      if (consumer === undefined) return
      consumer.closed = true
      const index = store.consumers.indexOf(consumer)
      if (index >= 0) store.consumers.splice(index, 1)
      // The handlers already running finish (and record their outcome) before close resolves.
      await Promise.all(consumer.running)
    },
  }
}

/** Start jobs on the next microtask, so that `add` resolves before a handler sees the job. */
function schedulePump(store: Store): void {
  if (store.pumpScheduled) return
  store.pumpScheduled = true
  queueMicrotask(() => {
    store.pumpScheduled = false
    pump(store)
  })
}

/** Hand waiting jobs, oldest first, to consumers with a free slot, taking turns among them. */
function pump(store: Store): void {
  while (store.waiting.length > 0) {
    const consumer = nextFreeConsumer(store)
    if (consumer === undefined) return
    const entry = store.waiting.shift()!
    run(store, consumer, entry)
  }
}

function nextFreeConsumer(store: Store): Consumer | undefined {
  const n = store.consumers.length
  for (let k = 0; k < n; k++) {
    const consumer = store.consumers[(store.nextConsumer + k) % n]!
    if (!consumer.closed && consumer.running.size < consumer.concurrency) {
      store.nextConsumer = (store.nextConsumer + k + 1) % n
      return consumer
    }
  }
  return undefined
}

function run(store: Store, consumer: Consumer, entry: Entry): void {
  entry.state = 'active'
  const job: Job<unknown> = { id: entry.id, data: entry.data, attempt: entry.attemptsMade + 1 }
  const running = (async () => {
    try {
      const result = await consumer.handler(job)
      complete(store, entry, result)
      emitSafely(consumer.onEvent, { type: 'completed', job, result }, store.name)
    } catch (error) {
      const event = fail(store, entry, error)
      emitSafely(consumer.onEvent, { ...event, job }, store.name)
    }
  })()
  consumer.running.add(running)
  void running.finally(() => {
    consumer.running.delete(running)
    schedulePump(store)
  })
}

function complete(store: Store, entry: Entry, result: unknown): void {
  entry.attemptsMade++
  entry.finishedAt = Date.now()
  entry.state = 'completed'
  if (entry.options.keepCompleted > 0) entry.result = result
  // Not kept: the id is free again (the poster re-posting a batch after an L1 reorg).
  keepFinished(store, store.completed, entry, entry.options.keepCompleted)
  finishOne(store)
}

/** A finished job joins `kept` (completed or failed ones); beyond `keep`, the oldest go and their ids are free again. */
function keepFinished(store: Store, kept: Entry[], entry: Entry, keep: number): void {
  if (keep === 0) {
    store.jobs.delete(entry.id)
    return
  }
  kept.push(entry)
  if (kept.length > keep) for (const old of kept.splice(0, kept.length - keep)) store.jobs.delete(old.id)
}

type FailOutcome = { type: 'retrying'; reason: string; delayMs: number } | { type: 'failed'; reason: string }

function fail(store: Store, entry: Entry, error: unknown): FailOutcome {
  entry.attemptsMade++
  const reason = failureReason(error)
  entry.reason = reason
  if (error instanceof UnrecoverableJobError || entry.attemptsMade >= entry.options.attempts) {
    entry.state = 'failed'
    entry.finishedAt = Date.now()
    keepFinished(store, store.failed, entry, entry.options.keepFailed)
    finishOne(store)
    return { type: 'failed', reason }
  }
  const delayMs = retryDelay(entry.options.backoffMs, entry.attemptsMade)
  entry.state = 'delayed'
  // Not unref'd: a retry that is due is work this process still has to do. The backend's
  // close() clears it.
  entry.retryTimer = setTimeout(() => {
    delete entry.retryTimer
    entry.state = 'waiting'
    store.waiting.push(entry)
    schedulePump(store)
  }, delayMs)
  return { type: 'retrying', reason, delayMs }
}

function finishOne(store: Store): void {
  store.unfinished--
  if (store.unfinished === 0) for (const wake of [...store.idleWaiters]) wake()
}
