/**
 * What the node holds in memory, for `mosaic_status` and `/metrics`: the process (resident, V8
 * heap, memory outside the heap), each cache's estimated bytes against its budget, and each
 * worker thread's heap — so an operator sees growth before it hurts.
 */
import type { NodeMetrics } from '../metrics/registry.ts'
import type { MosaicNode } from './node.ts'

export type CacheMemory = { readonly bytes: number; readonly budget: number }

export type MemoryStatus = {
  /**
   * `process.memoryUsage()`: resident set, V8 heap of the main thread, external and ArrayBuffer
   * memory; and whether mosaic runs compiled (`dist/`, `npm run build`) or from its TypeScript
   * sources through tsx, whose loader thread costs ~30 MB in each thread that registers it.
   */
  readonly process: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number; readonly compiled: boolean }
  /**
   * Estimated bytes of each cache and its budget (`CHAIN_CACHE_BYTES`, `STATE_CACHE_BYTES`,
   * `TRIE_CACHE_BYTES`). `state` is the main thread's; each parallel executor worker keeps its
   * own share of `STATE_CACHE_BYTES` (`workers`).
   */
  readonly caches: {
    readonly chain: CacheMemory & { readonly blocks: number }
    readonly state: CacheMemory & { readonly accounts: number }
    readonly trie: CacheMemory & { readonly releases: number }
  }
  /** Worker threads, as of their last block: commitment workers' and parallel executor workers' heaps. */
  readonly workers: readonly { readonly pool: 'commitment' | 'executor'; readonly heapUsed: number; readonly heapTotal: number; readonly cacheBytes: number }[]
  readonly mempool: { readonly transactions: number; readonly limit: number }
}

/** This module's own file tells which tree the node runs from: compiled `.js` under `dist/`, or the `.ts` source. */
const COMPILED = !import.meta.url.endsWith('.ts')

export function memoryStatus(node: Pick<MosaicNode, 'chain' | 'state' | 'commitment' | 'executor' | 'mempool' | 'config'>): MemoryStatus {
  const usage = process.memoryUsage()
  const chain = node.chain.cacheStats()
  const state = node.state.memory()
  const commitmentWorkers = node.commitment.stats().workers
  let trieBytes = 0
  let releases = 0
  const workers: MemoryStatus['workers'][number][] = []
  for (const worker of commitmentWorkers) {
    if (worker === undefined) continue
    trieBytes += worker.trie.bytes
    releases += worker.trie.releases
    workers.push({ pool: 'commitment', heapUsed: worker.heapUsed, heapTotal: worker.heapTotal, cacheBytes: worker.trie.bytes })
  }
  for (const worker of node.executor.workerMemory?.() ?? []) {
    workers.push({ pool: 'executor', heapUsed: worker.heapUsed, heapTotal: worker.heapTotal, cacheBytes: worker.stateBytes })
  }
  return {
    process: { rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers, compiled: COMPILED },
    caches: {
      chain: { bytes: chain.bytes, budget: chain.budget, blocks: chain.blocks },
      state: { bytes: state.bytes, budget: state.budget, accounts: state.accounts },
      trie: { bytes: trieBytes, budget: node.config.trieCacheBytes, releases },
    },
    workers,
    mempool: { transactions: node.mempool.size, limit: node.config.mempoolMaxTxs },
  }
}

/** Register the memory gauges, read when `/metrics` is scraped (one status per scrape). */
export function registerMemoryMetrics(metrics: NodeMetrics, read: () => MemoryStatus): void {
  let last: MemoryStatus | undefined
  let at = 0
  const status = () => {
    if (last === undefined || performance.now() - at > 100) {
      last = read()
      at = performance.now()
    }
    return last
  }
  for (const kind of ['rss', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers'] as const) {
    metrics.memory.set(() => status().process[kind], { kind: kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) })
  }
  for (const cache of ['chain', 'state', 'trie'] as const) {
    metrics.cacheBytes.set(() => status().caches[cache].bytes, { cache })
    metrics.cacheBudget.set(() => status().caches[cache].budget, { cache })
  }
  metrics.workerHeap.set(() => status().workers.reduce((sum, w) => sum + (w.pool === 'commitment' ? w.heapUsed : 0), 0), { pool: 'commitment' })
  metrics.workerHeap.set(() => status().workers.reduce((sum, w) => sum + (w.pool === 'executor' ? w.heapUsed : 0), 0), { pool: 'executor' })
}
