/**
 * What both queue implementations decide the same way: defaults and checks of the options, the
 * retry delay, and the reason recorded for a failed attempt.
 */
import { MosaicError } from '../errors.ts'
import type { JobOptions, QueueOptions } from './queue.ts'

/** The defaults `queue.ts` documents. */
export const QUEUE_DEFAULTS = { attempts: 5, backoffMs: 1000, keepCompleted: true, keepFailed: true } as const

/** `keepCompleted` and `keepFailed` as counts: `Infinity` for true, 0 for false. */
export type ResolvedJobOptions = { readonly attempts: number; readonly backoffMs: number; readonly keepCompleted: number; readonly keepFailed: number }

/** How many finished jobs of one kind to keep: `Infinity` for true, 0 for false, else the count, checked. */
function keptCount(name: 'keepCompleted' | 'keepFailed', keep: boolean | number): number {
  if (typeof keep === 'number' && !(Number.isSafeInteger(keep) && keep >= 0))
    throw new MosaicError('INVALID_PARAMS', `options.${name} must be a boolean or a non-negative integer, got ${keep}`)
  return keep === true ? Number.POSITIVE_INFINITY : keep === false ? 0 : keep
}

/** A kept count as BullMQ's `removeOnComplete` / `removeOnFail`: keep all (false), none (true), or the N most recent. */
export function bullRemoveOption(kept: number): boolean | number {
  return kept === Number.POSITIVE_INFINITY ? false : kept === 0 ? true : kept
}

/** The options one job runs with: the queue's, overridden by the job's own, then the defaults. */
export function resolveJobOptions(queue: QueueOptions, job: JobOptions = {}): ResolvedJobOptions {
  const attempts = job.attempts ?? queue.attempts ?? QUEUE_DEFAULTS.attempts
  const backoffMs = job.backoffMs ?? queue.backoffMs ?? QUEUE_DEFAULTS.backoffMs
  if (!Number.isSafeInteger(attempts) || attempts < 1)
    throw new MosaicError('INVALID_PARAMS', `options.attempts must be a positive integer, got ${attempts}`)
  if (!Number.isFinite(backoffMs) || backoffMs < 0)
    throw new MosaicError('INVALID_PARAMS', `options.backoffMs must be a non-negative number of milliseconds, got ${backoffMs}`)
  return {
    attempts,
    backoffMs,
    keepCompleted: keptCount('keepCompleted', queue.keepCompleted ?? QUEUE_DEFAULTS.keepCompleted),
    keepFailed: keptCount('keepFailed', queue.keepFailed ?? QUEUE_DEFAULTS.keepFailed),
  }
}

/**
 * A queue name must be non-empty and free of ':' — BullMQ builds its Redis keys as
 * `prefix:name:…` and refuses such names, so the in-process queues refuse them too.
 */
export function checkQueueName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes(':'))
    throw new MosaicError('INVALID_PARAMS', `queue name must be a non-empty string without ':', got ${JSON.stringify(name)}`)
}

/** A job id must be a non-empty string (`queue.ts`: ids are how duplicates are refused). */
export function checkJobId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new MosaicError('INVALID_PARAMS', 'job id must be a non-empty string')
}

/**
 * Delay before the next try after `attemptsMade` failed ones: `backoffMs · 2^(attempt−1)`, the
 * formula of BullMQ's built-in 'exponential' backoff (`Math.round(2^(attemptsMade−1) · delay)`),
 * so that both implementations wait alike.
 */
export function retryDelay(backoffMs: number, attemptsMade: number): number {
  return Math.round(backoffMs * 2 ** (attemptsMade - 1))
}

/** The reason kept with a failed attempt: the error's message (what BullMQ stores as `failedReason`). */
export function failureReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Calls a listener without letting its exception break the queue's bookkeeping. */
export function emitSafely<E>(listener: ((event: E) => void) | undefined, event: E, queueName: string): void {
  if (listener === undefined) return
  try {
    listener(event)
  } catch (error) {
    console.error(`queue ${queueName}: onEvent listener threw: ${failureReason(error)}`)
  }
}
