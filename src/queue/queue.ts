/**
 * Durable job queues (MISSION.md, "Queues"): the L1 poster's one job per batch and the
 * verifiers' one job per block go through this interface. Two implementations behind it, with
 * one shared test suite (`queue.case.test.ts`):
 *
 * - `memory.ts` — in-process, for one machine on embedded defaults (no Redis);
 * - `redis.ts` — BullMQ on Redis through ioredis, when `REDIS_URL` is set: jobs survive restarts
 *   and are shared by every process on the same Redis and queue name, each job handed to one of
 *   them at a time.
 *
 * Semantics both keep:
 * - a job id is unique: adding an id that is waiting, active, delayed or kept (failed or
 *   completed, as far as the queue keeps them) does nothing and resolves `false`;
 * - jobs start in the order they were added (FIFO) — with concurrency 1, one after another;
 * - a handler that throws has its job retried after an exponential backoff
 *   (`backoffMs · 2^(attempt−1)`) until `attempts` are used up, then the job is failed and kept
 *   with its reason; a handler that throws `UnrecoverableJobError` fails its job at once;
 * - `close()` stops taking jobs and waits for the running handlers.
 *
 * Only this folder imports bullmq and ioredis (CONVENTIONS.md, habit 2).
 */

export type JobOptions = {
  /** Tries before the job is failed (default 5). */
  readonly attempts?: number
  /** First retry delay in ms; doubles with every further attempt (default 1000). */
  readonly backoffMs?: number
}

export type QueueOptions = JobOptions & {
  /**
   * Keep completed jobs (their results) so that their ids stay taken (default true). A queue
   * whose ids must be reusable after completion (the poster re-posting after an L1 reorg) sets
   * false; a number keeps that many, the most recent (BullMQ's `removeOnComplete: { count }`):
   * an older one's id is free again.
   */
  readonly keepCompleted?: boolean | number
  /**
   * Keep failed jobs, with their reasons, so that their ids stay taken (default true): a number
   * keeps that many, the most recent (BullMQ's `removeOnFail: { count }`), and an older one's id
   * is free again. A queue that runs for weeks bounds it, as it bounds its completed jobs.
   */
  readonly keepFailed?: boolean | number
}

export type Job<T> = {
  readonly id: string
  readonly data: T
  /** 1 on the first try. */
  readonly attempt: number
}

export type QueueCounts = {
  readonly waiting: number
  readonly active: number
  readonly delayed: number
  readonly completed: number
  readonly failed: number
}

export type FailedJob<T> = { readonly id: string; readonly data: T; readonly reason: string; readonly attempts: number; readonly finishedAt: number }
export type CompletedJob<T, R> = { readonly id: string; readonly data: T; readonly result: R; readonly finishedAt: number }

/** What happened to a job, for logs and metrics. */
export type JobEvent<T, R> =
  | { readonly type: 'completed'; readonly job: Job<T>; readonly result: R }
  | { readonly type: 'retrying'; readonly job: Job<T>; readonly reason: string; readonly delayMs: number }
  | { readonly type: 'failed'; readonly job: Job<T>; readonly reason: string }

export type ProcessOptions<T, R> = {
  /** Handlers running at once in this process (default 1). */
  readonly concurrency?: number
  readonly onEvent?: (event: JobEvent<T, R>) => void
}

export interface JobQueue<T, R = unknown> {
  readonly name: string
  /** Enqueue a job; resolves false (and changes nothing) when the id is taken. */
  add(id: string, data: T, options?: JobOptions): Promise<boolean>
  /** Start handling jobs in this process. Call at most once per queue object. */
  process(handler: (job: Job<T>) => Promise<R>, options?: ProcessOptions<T, R>): void
  counts(): Promise<QueueCounts>
  /** Failed jobs, most recent first. */
  failed(limit?: number): Promise<FailedJob<T>[]>
  /** Kept completed jobs, most recent first. */
  completed(limit?: number): Promise<CompletedJob<T, R>[]>
  /** Resolves once nothing is waiting, active or delayed (tests, graceful shutdown). */
  drained(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface QueueBackend {
  readonly kind: 'memory' | 'redis'
  /** A queue by name; on Redis, every process opening the same name shares its jobs. */
  queue<T, R = unknown>(name: string, options?: QueueOptions): JobQueue<T, R>
  close(): Promise<void>
}

/** Thrown by a handler to fail its job without retrying (the job can never succeed). */
export class UnrecoverableJobError extends Error {
  override readonly name = 'UnrecoverableJobError'
}
