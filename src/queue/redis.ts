/**
 * Queues on Redis through BullMQ and ioredis (`queue.ts`), when `REDIS_URL` is set: jobs outlive
 * the process and every process on the same Redis, prefix and queue name shares them.
 *
 * How the interface maps onto BullMQ:
 * - job id → BullMQ `jobId`, as `#` + `encodeURIComponent(id)`: BullMQ refuses custom ids that
 *   look like integers ("12", a batch or block number) or contain ':', so every id gets the
 *   same reversible escape;
 * - attempts and backoff → `{ attempts, backoff: { type: 'exponential', delay: backoffMs } }`,
 *   BullMQ's formula `delay · 2^(attemptsMade−1)` being the one `queue.ts` specifies;
 * - `keepCompleted: false` → `removeOnComplete: true` (the job's key goes, so its id is free),
 *   a count N → `removeOnComplete: N` (BullMQ keeps the N most recent); `keepFailed` likewise
 *   → `removeOnFail`;
 * - `UnrecoverableJobError` → BullMQ's `UnrecoverableError`, which skips the remaining attempts.
 */
import { randomUUID } from 'node:crypto'
import { Job as BullJob, type JobsOptions, Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { MosaicError } from '../errors.ts'
import { bullRemoveOption, checkJobId, checkQueueName, emitSafely, failureReason, resolveJobOptions, retryDelay } from './options.ts'
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

export type CreateRedisQueuesOptions = {
  /** Prefix of every Redis key (default 'mosaic'); processes share queues only under the same one. */
  readonly prefix?: string
  /** How long opening waits for Redis to answer PING (default 5000 ms). */
  readonly connectTimeoutMs?: number
}

/** How often `drained()` polls the counts. */
const DRAIN_POLL_MS = 20

/**
 * Queues on the Redis at `url`. Resolves once Redis answers PING; a Redis that cannot be reached
 * (refused, wrong password, no answer within `connectTimeoutMs`) is a `CONFIG_INVALID` error
 * naming REDIS_URL instead of a hang, since ioredis would otherwise retry forever.
 */
export async function createRedisQueues(url: string, options: CreateRedisQueuesOptions = {}): Promise<QueueBackend> {
  const prefix = options.prefix ?? 'mosaic'
  const connection = await connectRedis(url, options.connectTimeoutMs ?? 5000)
  const queues = new Set<JobQueue<unknown, unknown>>()
  let closing: Promise<void> | undefined
  return {
    kind: 'redis',
    queue<T, R = unknown>(name: string, queueOptions: QueueOptions = {}): JobQueue<T, R> {
      if (closing !== undefined) throw new MosaicError('INTERNAL', `queue backend is closed (opening queue ${name})`)
      checkQueueName(name)
      resolveJobOptions(queueOptions) // refuse bad options when the queue is opened, not at the first add
      const queue = createRedisQueue<T, R>(connection, prefix, name, queueOptions)
      queues.add(queue as JobQueue<unknown, unknown>)
      return queue
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...queues].map((queue) => queue.close()))
        connection.disconnect()
      })()
      return closing
    },
  }
}

/** An ioredis connection that answered PING, configured as BullMQ workers require. */
async function connectRedis(url: string, timeoutMs: number): Promise<Redis> {
  // `maxRetriesPerRequest: null`: BullMQ's workers block on Redis and must not have their
  // commands given up on while ioredis reconnects.
  const connection = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true })
  // One listener for the connection's whole life (ioredis prints errors nobody listens to, and
  // one bad reply can raise several in a row): while opening, the first error fails the open;
  // once open, ioredis reconnects by itself and an outage is reported once; once abandoned,
  // errors are part of the failure already thrown.
  let phase: 'opening' | 'open' | 'abandoned' = 'opening'
  let failOpen: ((error: Error) => void) | undefined
  let reported = false
  connection.on('error', (error: Error) => {
    if (phase === 'opening') failOpen?.(error)
    else if (phase === 'open' && !reported) {
      reported = true
      console.error(`queue: Redis connection error (ioredis reconnects): ${error.message}`)
    }
  })
  connection.on('ready', () => (reported = false))
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to PING within ${timeoutMs} ms`)), timeoutMs)
      failOpen = (error) => {
        clearTimeout(timer)
        reject(error)
      }
      connection.ping().then(() => {
        clearTimeout(timer)
        resolve()
      }, failOpen)
    })
  } catch (error) {
    phase = 'abandoned'
    connection.disconnect()
    throw new MosaicError('CONFIG_INVALID', `cannot reach Redis at REDIS_URL=${redactUrl(url)}`, {
      details: `${failureReason(error).replace(/\.$/, '')}. Start Redis there, or unset REDIS_URL to keep the queues in this process.`,
      cause: error,
    })
  }
  phase = 'open'
  return connection
}

/** The URL with its password masked, for messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return url
  }
}

/** BullMQ job id of an interface job id (see the module comment). */
function toBullId(id: string): string {
  return `#${encodeURIComponent(id)}`
}

function fromBullId(bullId: string | undefined): string {
  if (bullId === undefined || !bullId.startsWith('#')) throw new MosaicError('INTERNAL', `unexpected BullMQ job id ${bullId}`)
  return decodeURIComponent(bullId.slice(1))
}

function createRedisQueue<T, R>(connection: Redis, prefix: string, name: string, queueOptions: QueueOptions): JobQueue<T, R> {
  const queue = new Queue<T, R>(name, { connection, prefix })
  queue.on('error', (error: Error) => console.error(`queue ${name}: ${error.message}`))
  let worker: Worker<T, R> | undefined
  let closing: Promise<void> | undefined
  const checkOpen = () => {
    if (closing !== undefined) throw new MosaicError('INTERNAL', `queue ${name} is closed`)
  }

  const self: JobQueue<T, R> = {
    name,
    async add(id: string, data: T, options?: JobOptions): Promise<boolean> {
      checkOpen()
      checkJobId(id)
      const resolved = resolveJobOptions(queueOptions, options)
      const bullId = toBullId(id)
      const opts: JobsOptions = {
        jobId: bullId,
        attempts: resolved.attempts,
        backoff: { type: 'exponential', delay: resolved.backoffMs },
        removeOnComplete: bullRemoveOption(resolved.keepCompleted),
        removeOnFail: bullRemoveOption(resolved.keepFailed),
      }
      // BullMQ's add resolves with a job even when the id is taken (its script returns the
      // existing id and changes nothing), so "was it this call's" is asked in the same MULTI:
      // the job's BullMQ name is a token unique to this call, and the name read right after the
      // add script, atomically with it, is that token only if this call created the job.
      // (A read after the add instead could find the job already completed and removed, or
      // removed and re-added by another process.)
      const token = randomUUID()
      const client = await queue.client
      const transaction = client.multi()
      // `addJob` queues the add script on the transaction synchronously; its promise only
      // resolves to the transaction itself.
      void new BullJob<T, R>(queue, token, data, opts, bullId).addJob(transaction).catch(() => undefined)
      // ioredis's transaction has every command; BullMQ's type for it lists only those BullMQ
      // uses, which lack HGET (HGETALL would bring the whole job data back on every add).
      const ioredisTransaction = transaction as unknown as { hget(key: string, field: string): unknown }
      ioredisTransaction.hget(queue.toKey(bullId), 'name')
      const replies = await transaction.exec()
      if (replies === null) throw new MosaicError('INTERNAL', `queue ${name}: the add transaction for job ${id} was discarded`)
      for (const [error] of replies) if (error !== null) throw new MosaicError('INTERNAL', `queue ${name}: adding job ${id} failed`, { cause: error })
      const added = replies[0]?.[1]
      if (typeof added === 'number' && added < 0) throw new MosaicError('INTERNAL', `queue ${name}: adding job ${id} failed with BullMQ code ${added}`)
      return replies[1]?.[1] === token
    },

    process(handler: (job: Job<T>) => Promise<R>, options: ProcessOptions<T, R> = {}): void {
      checkOpen()
      if (worker !== undefined) throw new MosaicError('INTERNAL', `queue ${name}: process() was already called on this queue object`)
      const concurrency = options.concurrency ?? 1
      if (!Number.isSafeInteger(concurrency) || concurrency < 1)
        throw new MosaicError('INVALID_PARAMS', `options.concurrency must be a positive integer, got ${concurrency}`)
      const onEvent = options.onEvent
      worker = new Worker<T, R>(
        name,
        async (bullJob) => {
          const job: Job<T> = { id: fromBullId(bullJob.id), data: bullJob.data, attempt: bullJob.attemptsMade + 1 }
          try {
            return await handler(job)
          } catch (error) {
            if (error instanceof UnrecoverableJobError) throw new UnrecoverableError(error.message)
            // BullMQ records `error.message` as the reason; a thrown non-Error has none.
            throw error instanceof Error ? error : new Error(String(error))
          }
        },
        { connection, prefix, concurrency },
      )
      worker.on('error', (error: Error) => console.error(`queue ${name}: ${error.message}`))
      // Both events come after BullMQ has stored the outcome, with `attemptsMade` counting the
      // attempt that just ended.
      worker.on('completed', (bullJob, result) => {
        emitSafely(onEvent, { type: 'completed', job: eventJob(bullJob), result }, name)
      })
      worker.on('failed', (bullJob, error) => {
        if (bullJob === undefined) return // a stalled job BullMQ gave up on without a job object
        const job = eventJob(bullJob)
        const reason = failureReason(error)
        let event: JobEvent<T, R>
        if (bullJob.finishedOn !== undefined) event = { type: 'failed', job, reason }
        else {
          const backoff = bullJob.opts.backoff
          const backoffMs = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 0)
          event = { type: 'retrying', job, reason, delayMs: retryDelay(backoffMs, bullJob.attemptsMade) }
        }
        emitSafely(onEvent, event, name)
      })
    },

    async counts(): Promise<QueueCounts> {
      const c = await queue.getJobCounts('waiting', 'paused', 'prioritized', 'active', 'delayed', 'completed', 'failed')
      const n = (type: string) => c[type] ?? 0
      return {
        waiting: n('waiting') + n('paused') + n('prioritized'),
        active: n('active'),
        delayed: n('delayed'),
        completed: n('completed'),
        failed: n('failed'),
      }
    },

    async failed(limit?: number): Promise<FailedJob<T>[]> {
      if (limit !== undefined && limit <= 0) return []
      // BullMQ's finished sets are scored by finish time; getFailed reads newest first.
      const jobs = await queue.getFailed(0, limit === undefined ? -1 : limit - 1)
      return jobs
        .filter((job) => job !== undefined)
        .map((job) => ({ id: fromBullId(job.id), data: job.data as T, reason: job.failedReason ?? '', attempts: job.attemptsMade, finishedAt: job.finishedOn ?? 0 }))
    },

    async completed(limit?: number): Promise<CompletedJob<T, R>[]> {
      if (limit !== undefined && limit <= 0) return []
      const jobs = await queue.getCompleted(0, limit === undefined ? -1 : limit - 1)
      return jobs
        .filter((job) => job !== undefined)
        .map((job) => ({ id: fromBullId(job.id), data: job.data as T, result: job.returnvalue as R, finishedAt: job.finishedOn ?? 0 }))
    },

    async drained(timeoutMs?: number): Promise<void> {
      const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs
      for (;;) {
        const c = await self.counts()
        const unfinished = c.waiting + c.active + c.delayed
        if (unfinished === 0) return
        if (Date.now() >= deadline)
          throw new MosaicError('LIMIT_EXCEEDED', `queue ${name} did not drain within ${timeoutMs} ms`, { details: `${unfinished} jobs waiting, active or delayed` })
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS))
      }
    },

    close(): Promise<void> {
      closing ??= (async () => {
        // The worker first: it stops taking jobs and waits for its running handlers.
        await worker?.close()
        await queue.close()
      })()
      return closing
    },
  }
  return self
}

function eventJob<T>(bullJob: BullJob<T>): Job<T> {
  return { id: fromBullId(bullJob.id), data: bullJob.data, attempt: bullJob.attemptsMade }
}
