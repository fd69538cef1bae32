/**
 * Polled filters with geth's semantics (`eth/filters/api.go`): `eth_newFilter`,
 * `eth_newBlockFilter`, `eth_newPendingTransactionFilter`, `eth_getFilterChanges`,
 * `eth_getFilterLogs`, `eth_uninstallFilter`.
 *
 * - Ids are random 16-byte hex quantities; an unknown or expired id is geth's -32000
 *   `filter not found`.
 * - A filter expires 5 minutes after it was created or last polled with `eth_getFilterChanges`
 *   (geth's deadline); a sweep on an unref'd timer forgets expired ones. At most `RPC_MAX_FILTERS`
 *   are installed at once; past it eth_new*Filter answers -32005.
 * - Block and log filters hold a cursor, not a queue: the last block delivered. A poll returns the
 *   block hashes, or the matching logs, of the blocks after it up to the head — at most
 *   `RPC_GETLOGS_MAX_RANGE` blocks (and, for logs, the whole blocks within
 *   `RPC_GETLOGS_MAX_RESULTS`) per poll; the cursor moves only as far as was delivered, so a
 *   filter polled rarely catches up over several polls and loses nothing. A log filter delivers
 *   nothing before its fromBlock or after its toBlock.
 * - Pending-transaction filters read one ring of the hashes of the last 4096 transactions
 *   admitted to the mempool, each filter with its position in it: a poll returns the hashes
 *   admitted since the previous one, at most the last 4096 — the oldest are dropped when more
 *   arrived between two polls.
 */
import { bytesToHex } from '../utils/hex.ts'
import type { Config } from '../config/config.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import type { LogReader } from './logs.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'
import { newRpcId } from './subscriptions.ts'

/** geth's `deadline`: a filter not polled for this long is removed. */
export const FILTER_TIMEOUT_MS = 5 * 60_000
/** Hashes a pending-transaction filter can hold between two polls. */
export const PENDING_FILTER_CAPACITY = 4096

export type FilterDeps = {
  readonly chain: { readonly head: bigint; getBlockHash(number: bigint): Uint8Array | undefined }
  /** Log matching, for polls (`logs.ts`). */
  readonly logs: Pick<LogReader, 'upTo'>
  /** eth_getLogs over a parsed filter, with its range resolved and its limits (for eth_getFilterLogs). */
  readonly getLogs: (filter: p.LogFilter) => unknown
  readonly pool: { onAdded(listener: (entry: { readonly hash: Uint8Array }) => void): () => void }
  /** Read when a method runs. */
  readonly config: Pick<Config, 'rpcMaxFilters' | 'rpcGetLogsMaxRange'>
  /** Milliseconds; `Date.now` unless a test drives the clock. */
  readonly now?: () => number
  readonly pendingCapacity?: number
}

type Filter = { lastPoll: number } & (
  | { readonly kind: 'blocks'; cursor: bigint }
  | { readonly kind: 'logs'; readonly filter: p.LogFilter; cursor: bigint; readonly to: bigint | undefined }
  | { readonly kind: 'pending'; cursor: number }
)

const filterNotFound = () => new RpcError(rpcErrorCodes.serverError, 'filter not found')

/** A fromBlock/toBlock that bounds a filter: a number, or `earliest`; other tags follow the head. */
function fixedNumber(ref: p.BlockRef): bigint | undefined {
  if ('number' in ref) return ref.number
  if ('tag' in ref && ref.tag === 'earliest') return 0n
  return undefined
}

export function createFilterMethods(deps: FilterDeps): Record<string, Handler> {
  const { chain, pool } = deps
  const now = deps.now ?? Date.now
  const capacity = deps.pendingCapacity ?? PENDING_FILTER_CAPACITY
  const filters = new Map<string, Filter>()

  // The pending ring: hash i (counting from the first heard) at ring[i % capacity].
  const ring: string[] = []
  let admitted = 0
  let pendingFilters = 0
  let stopPool: (() => void) | undefined
  const onAdded = (entry: { readonly hash: Uint8Array }): void => {
    ring[admitted % capacity] = bytesToHex(entry.hash)
    admitted++
  }

  let sweeper: NodeJS.Timeout | undefined

  function sweep(): void {
    const time = now()
    for (const [id, filter] of filters) if (time - filter.lastPoll >= FILTER_TIMEOUT_MS) remove(id)
  }

  function install(filter: Filter): string {
    if (filters.size >= deps.config.rpcMaxFilters) sweep()
    if (filters.size >= deps.config.rpcMaxFilters) {
      throw new RpcError(rpcErrorCodes.limitExceeded, `too many filters: limit ${deps.config.rpcMaxFilters} (RPC_MAX_FILTERS); uninstall them with eth_uninstallFilter or let them expire`)
    }
    const id = newRpcId()
    filters.set(id, filter)
    if (filter.kind === 'pending' && pendingFilters++ === 0) stopPool = pool.onAdded(onAdded)
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, FILTER_TIMEOUT_MS / 10)
      sweeper.unref()
    }
    return id
  }

  function remove(id: string): boolean {
    const filter = filters.get(id)
    if (filter === undefined) return false
    filters.delete(id)
    if (filter.kind === 'pending' && --pendingFilters === 0) {
      stopPool?.()
      stopPool = undefined
    }
    if (filters.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper)
      sweeper = undefined
    }
    return true
  }

  /** The live filter `params[0]`; an expired one is removed and not found. */
  function lookup(params: readonly unknown[]): Filter {
    const id = params[0]
    if (typeof id !== 'string') throw invalidParams('invalid filter id: expected a string')
    const filter = filters.get(id)
    if (filter === undefined) throw filterNotFound()
    if (now() - filter.lastPoll >= FILTER_TIMEOUT_MS) {
      remove(id)
      throw filterNotFound()
    }
    return filter
  }

  function changes(filter: Filter): unknown[] {
    filter.lastPoll = now()
    const range = BigInt(deps.config.rpcGetLogsMaxRange)
    switch (filter.kind) {
      case 'blocks': {
        const to = chain.head < filter.cursor + range ? chain.head : filter.cursor + range
        const hashes: string[] = []
        for (let n = filter.cursor + 1n; n <= to; n++) {
          const hash = chain.getBlockHash(n)
          if (hash !== undefined) hashes.push(bytesToHex(hash))
        }
        if (to > filter.cursor) filter.cursor = to
        return hashes
      }
      case 'logs': {
        let to = chain.head < filter.cursor + range ? chain.head : filter.cursor + range
        if (filter.to !== undefined && filter.to < to) to = filter.to
        if (to <= filter.cursor) return []
        const { logs, last } = deps.logs.upTo(filter.filter, filter.cursor + 1n, to)
        filter.cursor = last
        return logs
      }
      case 'pending': {
        const from = Math.max(filter.cursor, admitted - capacity)
        const hashes: string[] = []
        for (let i = from; i < admitted; i++) hashes.push(ring[i % capacity]!)
        filter.cursor = admitted
        return hashes
      }
    }
  }

  return {
    eth_newFilter: (params) => {
      const filter = p.logFilter(params[0] ?? {})
      if (filter.blockHash !== undefined) throw invalidParams('invalid filter: eth_newFilter takes fromBlock/toBlock, not blockHash (use eth_getLogs)')
      const from = fixedNumber(filter.fromBlock)
      const to = fixedNumber(filter.toBlock)
      if (from !== undefined && to !== undefined && from > to) throw invalidParams(`invalid block range: fromBlock ${from} is after toBlock ${to}`)
      // Only blocks sealed from now on, and none before fromBlock (geth's live log filter).
      const cursor = from !== undefined && from - 1n > chain.head ? from - 1n : chain.head
      return install({ kind: 'logs', filter, cursor, to, lastPoll: now() })
    },
    eth_newBlockFilter: () => install({ kind: 'blocks', cursor: chain.head, lastPoll: now() }),
    eth_newPendingTransactionFilter: () => install({ kind: 'pending', cursor: admitted, lastPoll: now() }),
    eth_getFilterChanges: (params) => changes(lookup(params)),
    eth_getFilterLogs: (params) => {
      const filter = lookup(params)
      // geth: only log filters have logs to return.
      if (filter.kind !== 'logs') throw filterNotFound()
      return deps.getLogs(filter.filter)
    },
    eth_uninstallFilter: (params) => {
      if (typeof params[0] !== 'string') throw invalidParams('invalid filter id: expected a string')
      return remove(params[0])
    },
  }
}
