/**
 * A small Prometheus registry: counters, gauges and histograms, with labels, rendered in the
 * text exposition format (version 0.0.4) at `GET /metrics`.
 */
type Labels = Record<string, string>

function labelKey(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}

interface Metric {
  render(): string
}

/**
 * Most label sets one metric keeps. Label values come from fixed sets (known methods, error
 * codes), but should one ever come from input, the metric still cannot grow without bound: past
 * the limit, new label sets are counted together under `overflow="true"`.
 */
export const MAX_SERIES = 1_000
const OVERFLOW = labelKey({ overflow: 'true' })

function boundedKey(series: Map<string, unknown>, labels: Labels): string {
  const key = labelKey(labels)
  return series.size < MAX_SERIES || series.has(key) ? key : OVERFLOW
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>()
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = boundedKey(this.values, labels)
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`)
    return lines.join('\n')
  }
}

export class Gauge implements Metric {
  private readonly values = new Map<string, number | (() => number)>()
  constructor(readonly name: string, readonly help: string) {}
  set(value: number | (() => number), labels: Labels = {}): void {
    this.values.set(boundedKey(this.values, labels), value)
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`]
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${typeof value === 'function' ? value() : value}`)
    return lines.join('\n')
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>()
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(value: number, labels: Labels = {}): void {
    const key = boundedKey(this.series, labels)
    let s = this.series.get(key)
    if (s === undefined) {
      s = { labels: key === OVERFLOW ? { overflow: 'true' } : labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++
    s.sum += value
    s.count++
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const s of this.series.values()) {
      this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket${labelKey({ ...s.labels, le: String(bound) })} ${s.counts[i]}`))
      lines.push(`${this.name}_bucket${labelKey({ ...s.labels, le: '+Inf' })} ${s.count}`)
      lines.push(`${this.name}_sum${labelKey(s.labels)} ${s.sum}`)
      lines.push(`${this.name}_count${labelKey(s.labels)} ${s.count}`)
    }
    return lines.join('\n')
  }
}

export class Registry {
  private readonly metrics: Metric[] = []
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help))
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help))
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets))
  }
  private add<T extends Metric>(metric: T): T {
    this.metrics.push(metric)
    return metric
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join('\n')}\n`
  }
}

/** The node's metrics, created once and shared by the sequencer and the RPC server. */
export function createNodeMetrics(registry = new Registry()) {
  return {
    registry,
    blocks: registry.counter('mosaic_blocks_total', 'Blocks sealed by this process'),
    txs: registry.counter('mosaic_transactions_total', 'Transactions included in sealed blocks'),
    rejectedTxs: registry.counter('mosaic_transactions_rejected_total', 'Transactions refused by the mempool or dropped at execution, by reason'),
    head: registry.gauge('mosaic_head_block', 'Number of the last durable block'),
    mempoolSize: registry.gauge('mosaic_mempool_transactions', 'Transactions in the mempool'),
    stateRootLag: registry.gauge('mosaic_state_root_lag_blocks', 'Blocks sealed whose post-state root is not computed yet'),
    stateRootTime: registry.histogram('mosaic_state_root_seconds', 'Time from handing a block to the commitment pipeline to its computed root', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
    stateRootDurable: registry.gauge('mosaic_state_root_durable_block', 'Last block whose state commitment is durable in LMDB'),
    trieNodeLoads: registry.gauge('mosaic_trie_node_loads', 'Trie nodes loaded from LMDB since start, by phase: prefetch (while the block executes) or update (the pipeline had to wait for them)'),
    trieNodesPruned: registry.gauge('mosaic_trie_nodes_pruned', 'Trie nodes deleted from LMDB since start: they left the tries TRIE_HISTORY_BLOCKS blocks before the durable commitment head'),
    memory: registry.gauge('mosaic_memory_bytes', 'Memory of the node process, by kind: rss, heap_used and heap_total (main thread V8 heap), external, array_buffers'),
    cacheBytes: registry.gauge('mosaic_cache_bytes', 'Estimated bytes held by each cache: chain (decoded blocks and receipts), state (flat state of the main thread), trie (trie nodes in the commitment workers)'),
    cacheBudget: registry.gauge('mosaic_cache_budget_bytes', 'Byte budget of each cache (CHAIN_CACHE_BYTES, STATE_CACHE_BYTES, TRIE_CACHE_BYTES)'),
    workerHeap: registry.gauge('mosaic_worker_heap_bytes', 'V8 heap used by worker threads, summed by pool: commitment, executor (as of their last block)'),
    blockTime: registry.histogram('mosaic_block_seal_seconds', 'Time to seal a block: execute it (or finish its mini-batches), assemble and persist it', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
    miniBatches: registry.counter('mosaic_mini_batches_total', 'Mini-batches preconfirmed: executed on the open block and durable'),
    preconfirmedTxs: registry.counter('mosaic_transactions_preconfirmed_total', 'Transactions preconfirmed in a mini-batch'),
    miniBatchTime: registry.histogram('mosaic_mini_batch_seconds', 'Time to execute a mini-batch and make it durable (its transactions wait this long after it starts)', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
    executorBlocks: registry.counter('mosaic_executor_blocks_total', 'Blocks executed, by executor_mode (sequential or parallel)'),
    executorAborts: registry.counter('mosaic_executor_aborts_total', 'Parallel executions aborted on a read/write conflict and re-executed'),
    executorRounds: registry.counter('mosaic_executor_rounds_total', 'Batches dispatched to parallel workers'),
    executorConflicts: registry.counter('mosaic_executor_conflicts_total', 'Parallel rounds stopped by a read/write conflict (the transaction and those after it re-executed)'),
    workerSenderRecoveries: registry.gauge('mosaic_worker_sender_recoveries', 'Transactions whose sender was recovered on worker threads: the parallel executor\'s, or the sender-recovery threads (RECOVERY_THREADS)'),
    workerSenderShipments: registry.gauge('mosaic_worker_sender_recovery_shipments', 'Shipments of incoming transactions to those threads for sender recovery (under load, one carries many)'),
    mainSenderRecoveries: registry.gauge('mosaic_main_thread_sender_recoveries', 'Incoming transactions whose sender was recovered on the main thread instead: lone requests at a low rate, where waking a worker costs more than the recovery'),
    executorLastAborts: registry.gauge('mosaic_executor_last_block_aborts', 'Aborts (re-executions) in the last block'),
    rpcLatency: registry.histogram('mosaic_rpc_request_seconds', 'JSON-RPC latency per method', [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]),
    rpcErrors: registry.counter('mosaic_rpc_errors_total', 'JSON-RPC error responses per method and code'),
    l1Jobs: registry.counter('mosaic_l1_post_jobs_total', 'Poster jobs finished, by outcome: posted, already-on-l1, superseded, retrying (an attempt failed), failed (attempts used up)'),
    l1SafeBlock: registry.gauge('mosaic_l1_safe_block', 'Last block in a batch on the L1 inbox'),
    l1Queue: registry.gauge('mosaic_l1_post_queue_jobs', 'Poster jobs in the queue, by state'),
    l1Transactions: registry.gauge('mosaic_l1_transactions', 'L1 transactions of the poster since start, by event: sent, replaced (fee bump), mined'),
    l1Reorgs: registry.gauge('mosaic_l1_reorgs', 'L1 reorgs seen that dropped posted batches'),
  }
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>
