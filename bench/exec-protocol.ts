/**
 * The whole message protocol between `bench/exec.ts` and its workers (`bench/exec-worker.ts`),
 * one worker per variant so that each has its own heap: the stock variant's multi-gigabyte trie
 * database must not slow the other variants' garbage collection. Everything here is plain data
 * (structured clone: bigint is fine, class instances are not).
 */
import type { WorkloadName } from './workloads.ts'

/** The variants a plain `npm run bench:exec` runs; `--only` may name any other of the grammar below. */
export const VARIANTS = ['stock', 'sequential', 'sequential-x2', 'parallel-1', 'parallel-2', 'parallel-1+main', 'parallel-2+main'] as const
/**
 * A variant's name: `stock`, `sequential`, `sequential-x<N>` or `parallel-<N>[+main][+all][+noprobe]` (see
 * `parseVariant`).
 */
export type VariantName = string

/** What a variant's name says. */
export type VariantSpec =
  | { readonly kind: 'stock' }
  /**
   * `sequential-x<N>` is not an executor: N sequential ones, each in its own process on the same
   * workload, timed at once. Their combined tx/s over one's alone is what this machine gives N
   * threads with nothing shared between them — the ceiling for any N-thread parallel executor.
   */
  | { readonly kind: 'sequential'; readonly copies: number }
  /**
   * `parallel-<N>`: the parallel executor on N worker threads; `+main`: the main thread runs a
   * chunk of every round itself (the node's way); `+all`: every block goes to the workers
   * (`minParallelWork` 0) instead of the cheap ones to the sequential fallback, to measure how the
   * parallel machinery itself scales; `+noprobe`: no probe round for contracts not seen yet
   * (`probeTxsPerChunk` 0), as before 2026-12-04.
   */
  | { readonly kind: 'parallel'; readonly threads: number; readonly mainThreadShare: boolean; readonly allParallel: boolean; readonly probe: boolean }

/** Most threads or copies a variant may name: the executor's own bound (`EXECUTOR_THREADS`). */
const MAX_THREADS = 256

/** The variant a name gives, or undefined if it follows no rule of the grammar. */
export function parseVariant(name: string): VariantSpec | undefined {
  if (name === 'stock') return { kind: 'stock' }
  if (name === 'sequential') return { kind: 'sequential', copies: 1 }
  const count = (digits: string) => {
    const n = Number(digits)
    return n >= 1 && n <= MAX_THREADS ? n : undefined
  }
  const copies = /^sequential-x([1-9][0-9]*)$/.exec(name)
  if (copies !== null) {
    const n = count(copies[1]!)
    return n !== undefined && n >= 2 ? { kind: 'sequential', copies: n } : undefined
  }
  const parallel = /^parallel-([1-9][0-9]*)(\+main)?(\+all)?(\+noprobe)?$/.exec(name)
  if (parallel === null) return undefined
  const threads = count(parallel[1]!)
  if (threads === undefined) return undefined
  return { kind: 'parallel', threads, mainThreadShare: parallel[2] !== undefined, allParallel: parallel[3] !== undefined, probe: parallel[4] === undefined }
}

export type ExecWorkerData = {
  /** File URL of `exec-worker.ts`, imported by `worker-entry.mjs`. */
  readonly entry: string
  readonly variant: VariantName
  readonly workload: WorkloadName
  readonly seed: number
  readonly txCount: number
  readonly accountCount: number
  readonly blockSize: number
  /** Write a CPU profile of every timed run here (`--profile`). */
  readonly profileDir: string | undefined
}

export type ExecRequest =
  | { readonly type: 'run'; readonly run: number }
  /** The final state of the last run at these addresses (see `ExecSample`), and its own checks. */
  | { readonly type: 'sample'; readonly addresses: readonly string[] }

export type SetupStep = { readonly label: string; readonly seconds: number }

/** Receipt statuses of one run (rejected transactions are an error, never counted). */
export type StatusCounts = { readonly succeeded: number; readonly reverted: number }

/** One block of a parallel run, as the parallel executor reported it, and its wall time. */
export type BlockStats = {
  readonly mode: 'sequential' | 'parallel'
  readonly rounds: number
  readonly aborts: number
  /** Wall time of the block. */
  readonly seconds: number
  /** Time the executor's worker threads spent executing this block (its `workerBusyMs`), summed over threads. */
  readonly workerSeconds: number
  /** Time the main thread spent executing its own chunks of this block (`mainThreadShare`). */
  readonly mainSeconds: number
}

/** The pool's state after a run (`amm`, `mixed`). */
export type PoolSample = {
  readonly reserves: readonly [bigint, bigint]
  /**
   * Each token's reserve plus every trader's internal balance: a swap only moves amounts between
   * them, so these equal their pre-state values in any order of swaps (checked in the worker).
   */
  readonly totals: readonly [bigint, bigint]
  /** Each sampled address's internal balances (`balance0`, `balance1`). */
  readonly balances: readonly (readonly [bigint, bigint])[]
}

export type ExecResponse =
  | {
      readonly type: 'ready'
      readonly setup: readonly SetupStep[]
      readonly warmupSeconds: number
      /** keccak256 over every signed transaction: the variants must run the same ones. */
      readonly transactionsDigest: string
    }
  | {
      readonly type: 'result'
      /** The measured blocks only. */
      readonly seconds: number
      readonly gasUsed: bigint
      readonly statuses: StatusCounts
      /** Per block; parallel variants only. */
      readonly blocks: readonly BlockStats[] | undefined
      /** Untimed preparation before the timer (executor, threads, warm-up); parallel variants only. */
      readonly preparationSeconds: number | undefined
      /**
       * CPU time of the thread that ran the blocks (the executor's coordinator, and with `+main`
       * its own chunks), from /proc/thread-self/stat; parallel variants on Linux only.
       */
      readonly mainCpuSeconds: number | undefined
      /**
       * CPU time of the executor's worker threads together (`mosaic-exec`, from each thread's
       * /proc/self/task/TID/schedstat): what `worker µs/tx`, their busy wall time, counts less
       * the time they waited preempted. Parallel variants on Linux only.
       */
      readonly workerCpuSeconds: number | undefined
      readonly profile: string | undefined
    }
  | {
      readonly type: 'sample'
      /** ETH of each address. */
      readonly balances: readonly bigint[]
      /** Token balance of each address (when the workload has the token). */
      readonly tokenBalances: readonly bigint[] | undefined
      readonly pool: PoolSample | undefined
      /** Did the last run keep every block's transactions in the given order? */
      readonly blockOrder: boolean
      /** What the variant's own untimed check of its last run verified, if it has one. */
      readonly verified: string | undefined
    }
  | { readonly type: 'error'; readonly message: string; readonly stack: string | undefined }
