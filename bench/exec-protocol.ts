/**
 * The whole message protocol between `bench/exec.ts` and its workers (`bench/exec-worker.ts`),
 * one worker per variant so that each has its own heap: the stock variant's multi-gigabyte trie
 * database must not slow the other variant's garbage collection. Everything here is plain data
 * (structured clone: bigint is fine, class instances are not).
 */
import type { WorkloadName } from './workloads.ts'

export const VARIANTS = ['stock', 'sequential'] as const
export type VariantName = (typeof VARIANTS)[number]

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
  /** Balances after the last run: ETH of each address, and its token balance in `erc20`. */
  | { readonly type: 'sample'; readonly addresses: readonly string[] }

export type SetupStep = { readonly label: string; readonly seconds: number }

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
      readonly seconds: number
      readonly gasUsed: bigint
      readonly profile: string | undefined
    }
  | { readonly type: 'sample'; readonly balances: readonly bigint[]; readonly tokenBalances: readonly bigint[] | undefined }
  | { readonly type: 'error'; readonly message: string; readonly stack: string | undefined }
