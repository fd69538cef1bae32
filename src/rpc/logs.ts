/**
 * The one implementation of log matching, shared by `eth_getLogs`, log filters (`filters.ts`) and
 * `logs` subscriptions (`subscriptions.ts`): a block's header bloom is checked first, then each
 * log against the addresses (any of) and the topics (per position: any, or any of the listed).
 */
import type { Common } from '@ethereumjs/common'
import { equalsBytes } from '@ethereumjs/util'
import { Bloom } from '@ethereumjs/vm'
import type { ChainBlock } from '../chain/chain.ts'
import type { Config } from '../config/config.ts'
import { RpcError, rpcErrorCodes } from './errors.ts'
import { formatLog } from './format.ts'
import type { LogFilter } from './params.ts'

/** What a log is matched against: a filter without its block range. */
export type LogQuery = Pick<LogFilter, 'addresses' | 'topics'>

export type LogReaderDeps = {
  readonly chain: { getBlock(number: bigint): ChainBlock | undefined }
  readonly common: Common
  /** Read when a query runs, so the reader can be built before the config is known (test/readme.test.ts). */
  readonly config: Pick<Config, 'rpcGetLogsMaxResults'>
}

export type LogReader = {
  /** The logs of one block matching `query`, as geth's JSON (`removed: false`). */
  block(chainBlock: ChainBlock, query: LogQuery): Record<string, unknown>[]
  /**
   * The logs of blocks `from`..`to` matching `query`, in chain order, then those of `after` (the
   * open block, preconfirmed); more than `RPC_GETLOGS_MAX_RESULTS` is refused with -32005, as
   * eth_getLogs does.
   */
  range(query: LogQuery, from: bigint, to: bigint, after?: ChainBlock): Record<string, unknown>[]
  /**
   * For filter polls, which must not lose logs: the logs of blocks `from`..`to`, ending at the
   * last whole block within `RPC_GETLOGS_MAX_RESULTS` (always at least block `from`, however many
   * logs it has); `last` is the last block read.
   */
  upTo(query: LogQuery, from: bigint, to: bigint): { logs: Record<string, unknown>[]; last: bigint }
}

export function createLogReader({ chain, common, config }: LogReaderDeps): LogReader {
  function block(chainBlock: ChainBlock, query: LogQuery): Record<string, unknown>[] {
    const { addresses, topics } = query
    const bloom = new Bloom(chainBlock.block.header.logsBloom, common)
    const wanted = (addresses.length === 0 || addresses.some((a) => bloom.check(a))) && topics.every((alts) => alts === null || alts.some((t) => bloom.check(t)))
    if (!wanted) return []
    const out: Record<string, unknown>[] = []
    let logIndex = 0
    chainBlock.receipts.forEach((receipt, txIndex) => {
      for (const log of receipt.logs) {
        const matches =
          (addresses.length === 0 || addresses.some((a) => equalsBytes(a, log[0]))) &&
          topics.every((alts, i) => alts === null || (log[1][i] !== undefined && alts.some((t) => equalsBytes(t, log[1][i]!))))
        if (matches) out.push(formatLog(log, { chainBlock, txIndex, logIndex }))
        logIndex++
      }
    })
    return out
  }

  function range(query: LogQuery, from: bigint, to: bigint, after?: ChainBlock): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = []
    const blocks = function* () {
      for (let n = from; n <= to; n++) {
        const chainBlock = chain.getBlock(n)
        if (chainBlock !== undefined) yield chainBlock
      }
      if (after !== undefined) yield after
    }
    for (const chainBlock of blocks()) {
      for (const log of block(chainBlock, query)) {
        if (out.length >= config.rpcGetLogsMaxResults) {
          throw new RpcError(rpcErrorCodes.limitExceeded, `query returned more than ${config.rpcGetLogsMaxResults} results; narrow the block range or filter`)
        }
        out.push(log)
      }
    }
    return out
  }

  function upTo(query: LogQuery, from: bigint, to: bigint): { logs: Record<string, unknown>[]; last: bigint } {
    const logs: Record<string, unknown>[] = []
    let last = from - 1n
    for (let n = from; n <= to; n++) {
      const chainBlock = chain.getBlock(n)
      const found = chainBlock === undefined ? [] : block(chainBlock, query)
      if (n > from && logs.length + found.length > config.rpcGetLogsMaxResults) break
      for (const log of found) logs.push(log)
      last = n
    }
    return { logs, last }
  }

  return { block, range, upTo }
}
