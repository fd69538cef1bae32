import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bigIntToBytes, bytesToHex, hexToBytes, setLengthLeft } from '@ethereumjs/util'
import { Bloom } from '@ethereumjs/vm'
import type { ChainBlock } from '../chain/chain.ts'
import { RpcError } from './errors.ts'
import { createFilterMethods, FILTER_TIMEOUT_MS, type FilterDeps } from './filters.ts'
import { createLogReader } from './logs.ts'
import type { Handler } from './methods.ts'
import type { LogFilter } from './params.ts'

const ADDRESS = hexToBytes(`0x${'11'.repeat(20)}`)
const TOPIC = hexToBytes(`0x${'aa'.repeat(32)}`)
const hashOf = (n: bigint) => setLengthLeft(bigIntToBytes(n + 1000n), 32)

/** A block with `logs` logs of ADDRESS/TOPIC, each carrying its block number and index as data. */
function fakeBlock(n: bigint, logs: number): ChainBlock {
  const bloom = new Bloom()
  if (logs > 0) {
    bloom.add(ADDRESS)
    bloom.add(TOPIC)
  }
  const entries = Array.from({ length: logs }, (_, i) => [ADDRESS, [TOPIC], Uint8Array.of(Number(n), i)] as [Uint8Array, Uint8Array[], Uint8Array])
  return {
    block: { header: { number: n, timestamp: n, logsBloom: bloom.bitvector }, transactions: [{ hash: () => hashOf(n) }] },
    hash: hashOf(n),
    senders: [],
    receipts: [{ status: 1, cumulativeGasUsed: 0n, logs: entries }],
  } as unknown as ChainBlock
}

type Setup = {
  methods: Record<string, Handler>
  chain: { head: bigint }
  clock: { now: number }
  listeners: ((entry: { hash: Uint8Array }) => void)[]
  call: (method: string, ...params: unknown[]) => unknown
}

function setup({ maxFilters = 100, range = 10, maxResults = 1000, logsPerBlock = (_n: bigint) => 1, pendingCapacity }: { maxFilters?: number; range?: number; maxResults?: number; logsPerBlock?: (n: bigint) => number; pendingCapacity?: number } = {}): Setup {
  const chain = {
    head: 0n,
    getBlockHash: (n: bigint) => (n <= chain.head ? hashOf(n) : undefined),
    getBlock: (n: bigint) => (n <= chain.head ? fakeBlock(n, logsPerBlock(n)) : undefined),
  }
  const clock = { now: 1_000_000 }
  const listeners: Setup['listeners'] = []
  const deps: FilterDeps = {
    chain,
    logs: createLogReader({ chain, common: undefined as never, config: { rpcGetLogsMaxResults: maxResults } }),
    getLogs: (filter: LogFilter) => ({ gotFilter: filter }),
    pool: {
      onAdded: (listener) => {
        listeners.push(listener)
        return () => listeners.splice(listeners.indexOf(listener), 1)
      },
    },
    config: { rpcMaxFilters: maxFilters, rpcGetLogsMaxRange: range },
    now: () => clock.now,
    ...(pendingCapacity === undefined ? {} : { pendingCapacity }),
  }
  const methods = createFilterMethods(deps)
  return { methods, chain, clock, listeners, call: (method, ...params) => methods[method]!(params, { admin: false }) }
}

function assertRpcError(fn: () => unknown, code: number, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error))
    assert.equal(error.code, code)
    assert.match(error.message, message)
    return true
  })
}

/** The block number of each delivered log. */
const blocksOf = (logs: unknown) => (logs as { data: string; blockNumber: string }[]).map((log) => Number(log.blockNumber))

describe('filters', () => {
  it('default: a block filter returns the hashes of the blocks sealed since the last poll', () => {
    const t = setup()
    t.chain.head = 5n
    const id = t.call('eth_newBlockFilter') as string
    assert.match(id, /^0x[1-9a-f][0-9a-f]{0,31}$/)
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
    t.chain.head = 8n
    assert.deepEqual(t.call('eth_getFilterChanges', id), [6n, 7n, 8n].map((n) => bytesToHex(hashOf(n))))
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
  })

  it('behavior: a poll delivers at most RPC_GETLOGS_MAX_RANGE blocks, and the cursor skips none', () => {
    const t = setup({ range: 10 })
    const id = t.call('eth_newBlockFilter') as string
    t.chain.head = 35n
    const polls = [0, 1, 2, 3, 4].map(() => t.call('eth_getFilterChanges', id) as string[])
    assert.deepEqual(polls.map((p) => p.length), [10, 10, 10, 5, 0])
    assert.deepEqual(polls.flat(), Array.from({ length: 35 }, (_, i) => bytesToHex(hashOf(BigInt(i + 1)))))
  })

  it('behavior: a log filter delivers the logs of fromBlock..toBlock only, over as many polls as the range limit needs', () => {
    const t = setup({ range: 4 })
    t.chain.head = 2n
    const id = t.call('eth_newFilter', { fromBlock: '0x5', toBlock: '0xc', address: bytesToHex(ADDRESS) }) as string
    t.chain.head = 20n
    const polls = [0, 1, 2].map(() => blocksOf(t.call('eth_getFilterChanges', id)))
    assert.deepEqual(polls, [[5, 6, 7, 8], [9, 10, 11, 12], []])
    // Criteria that match nothing: blocks pass, no logs.
    const other = t.call('eth_newFilter', { topics: [`0x${'bb'.repeat(32)}`] }) as string
    t.chain.head = 24n
    assert.deepEqual(t.call('eth_getFilterChanges', other), [])
    // Past toBlock, nothing more.
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
  })

  it('behavior: a log poll ends at the last whole block within RPC_GETLOGS_MAX_RESULTS, and a bigger block still comes whole', () => {
    // Blocks 1–4 have 3 logs, block 5 has 7, block 6 has 1: with at most 5 results a poll.
    const t = setup({ maxResults: 5, logsPerBlock: (n) => (n === 5n ? 7 : n === 6n ? 1 : 3) })
    const id = t.call('eth_newFilter', {}) as string
    t.chain.head = 6n
    const polls: number[][] = []
    for (let i = 0; i < 7; i++) polls.push(blocksOf(t.call('eth_getFilterChanges', id)))
    assert.deepEqual(polls, [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5, 5, 5, 5, 5, 5, 5], [6], []])
  })

  it('behavior: a filter expires 5 minutes after it was created or last polled, not before', () => {
    const t = setup()
    const id = t.call('eth_newBlockFilter') as string
    t.clock.now += FILTER_TIMEOUT_MS - 1
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
    // The poll reset the deadline.
    t.clock.now += FILTER_TIMEOUT_MS - 1
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
    t.clock.now += FILTER_TIMEOUT_MS
    assertRpcError(() => t.call('eth_getFilterChanges', id), -32000, /^filter not found$/)
    assert.equal(t.call('eth_uninstallFilter', id), false)
  })

  it('behavior: eth_getFilterLogs does not reset the deadline (geth)', () => {
    const t = setup()
    const id = t.call('eth_newFilter', {}) as string
    t.clock.now += FILTER_TIMEOUT_MS - 1
    assert.ok(t.call('eth_getFilterLogs', id))
    t.clock.now += 1
    assertRpcError(() => t.call('eth_getFilterLogs', id), -32000, /^filter not found$/)
  })

  it('behavior: at most RPC_MAX_FILTERS are installed; uninstalled and expired ones free their place', () => {
    const t = setup({ maxFilters: 3 })
    const ids = [t.call('eth_newBlockFilter'), t.call('eth_newFilter', {}), t.call('eth_newPendingTransactionFilter')] as string[]
    assert.equal(new Set(ids).size, 3)
    assertRpcError(() => t.call('eth_newBlockFilter'), -32005, /too many filters: limit 3 \(RPC_MAX_FILTERS\)/)
    assertRpcError(() => t.call('eth_newPendingTransactionFilter'), -32005, /too many filters/)
    assert.equal(t.call('eth_uninstallFilter', ids[0]), true)
    assert.equal(t.call('eth_uninstallFilter', ids[0]), false)
    const fourth = t.call('eth_newBlockFilter') as string
    assertRpcError(() => t.call('eth_newBlockFilter'), -32005, /too many filters/)
    t.clock.now += FILTER_TIMEOUT_MS
    const fresh = [t.call('eth_newBlockFilter'), t.call('eth_newBlockFilter'), t.call('eth_newBlockFilter')] as string[]
    assert.equal(fresh.length, 3)
    for (const old of [ids[1], ids[2], fourth]) assertRpcError(() => t.call('eth_getFilterChanges', old), -32000, /filter not found/)
    // The expired pending filter no longer listens to the mempool.
    assert.equal(t.listeners.length, 0)
  })

  it('behavior: a pending filter returns what was admitted since its last poll, at most the last 4096', () => {
    const t = setup()
    const hash = (i: number) => setLengthLeft(bigIntToBytes(BigInt(i + 1)), 32)
    assert.equal(t.listeners.length, 0, 'nobody listens to the mempool before a pending filter exists')
    const id = t.call('eth_newPendingTransactionFilter') as string
    assert.equal(t.listeners.length, 1)
    for (let i = 0; i < 5000; i++) t.listeners[0]!({ hash: hash(i) })
    const first = t.call('eth_getFilterChanges', id) as string[]
    assert.equal(first.length, 4096)
    assert.equal(first[0], bytesToHex(hash(5000 - 4096)))
    assert.equal(first.at(-1), bytesToHex(hash(4999)))
    // A second filter sees only what came after it.
    const late = t.call('eth_newPendingTransactionFilter') as string
    assert.equal(t.listeners.length, 1, 'one listener for every pending filter')
    t.listeners[0]!({ hash: hash(5000) })
    t.listeners[0]!({ hash: hash(5001) })
    assert.deepEqual(t.call('eth_getFilterChanges', id), [bytesToHex(hash(5000)), bytesToHex(hash(5001))])
    assert.deepEqual(t.call('eth_getFilterChanges', late), [bytesToHex(hash(5000)), bytesToHex(hash(5001))])
    assert.deepEqual(t.call('eth_getFilterChanges', id), [])
    t.call('eth_uninstallFilter', id)
    t.call('eth_uninstallFilter', late)
    assert.equal(t.listeners.length, 0, 'the last pending filter gone, the mempool has no listener')
  })

  it('behavior: eth_getFilterLogs runs eth_getLogs with the log filter; other kinds and bad ids are refused like geth', () => {
    const t = setup()
    const id = t.call('eth_newFilter', { fromBlock: '0x1', address: bytesToHex(ADDRESS) }) as string
    const { gotFilter } = t.call('eth_getFilterLogs', id) as { gotFilter: LogFilter }
    assert.deepEqual(gotFilter.fromBlock, { number: 1n })
    assert.deepEqual(gotFilter.addresses, [ADDRESS])
    const blocks = t.call('eth_newBlockFilter') as string
    assertRpcError(() => t.call('eth_getFilterLogs', blocks), -32000, /^filter not found$/)
    assertRpcError(() => t.call('eth_getFilterChanges', '0x1234'), -32000, /^filter not found$/)
    assertRpcError(() => t.call('eth_getFilterChanges', 7), -32602, /filter id/)
    assertRpcError(() => t.call('eth_newFilter', { fromBlock: '0x9', toBlock: '0x3' }), -32602, /fromBlock 9 is after toBlock 3/)
    assertRpcError(() => t.call('eth_newFilter', { blockHash: `0x${'00'.repeat(32)}` }), -32602, /blockHash/)
  })
})
