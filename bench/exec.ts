/**
 * `npm run bench:exec`: execution throughput of stock ethereumjs (`runTx` over its default
 * `MerkleStateManager` and pure-JS crypto) against mosaic's sequential executor (journaled flat
 * state, native crypto), on the `transfers` and `erc20` workloads, side by side in one run
 * (BENCHMARKS.md: "Baselines", "Fairness").
 *
 * Each variant runs in its own worker thread, so neither pays for the other's heap (the stock
 * trie database is gigabytes at full size). Both build the same transactions (checked by digest)
 * and the same pre-state from the seed, recover senders before timing, and warm up with one
 * untimed run. Timed runs are then interleaved — stock, sequential, stock, … — one at a time, so
 * noise on this shared machine hits both alike; each run starts from fresh pre-state and the
 * median of RUNS is reported. Before reporting, the variants must agree: every transaction
 * succeeded in both, the same gas, the same final balances (ETH and token) of sampled accounts.
 *
 * Flags: --quick (small size), --out <path>, --only stock|sequential (skips the cross-check),
 * --profile <dir> (a CPU profile of every timed run; summarize with bench/profile-summary.ts).
 * With --only or --profile no JSON is written unless --out is given.
 */
import { bytesToHex } from '@ethereumjs/util'
import { Worker } from 'node:worker_threads'
import { VARIANTS, type ExecRequest, type ExecResponse, type ExecWorkerData, type VariantName } from './exec-protocol.ts'
import { createReport, median, parseBenchArgs, printReport, ratiosOf, writeReport, type BenchRow } from './report.ts'
import { COINBASE, createRandom, deriveAccount, type WorkloadName } from './workloads.ts'

const SEED = 0x6d6f7361 // "mosa"
const BLOCK_SIZE = 200
const RUNS = 3
const SAMPLE_ACCOUNTS = 20
const WORKLOADS: readonly WorkloadName[] = ['transfers', 'erc20']

const args = parseBenchArgs('exec')
const SIZES = args.quick ? { txCount: 1_000, accountCount: 2_000 } : { txCount: 10_000, accountCount: 100_000 }
for (const name of args.only ?? []) {
  if (!(VARIANTS as readonly string[]).includes(name)) throw new Error(`--only: unknown variant ${name} (${VARIANTS.join(', ')})`)
}
const selected = VARIANTS.filter((v) => args.only === undefined || args.only.includes(v))

type ExecResult = Extract<ExecResponse, { type: 'result' }>
type ExecSample = Extract<ExecResponse, { type: 'sample' }>
type ExecReady = Extract<ExecResponse, { type: 'ready' }>

/** The main thread's handle on one variant's worker: one request in flight at a time. */
class VariantWorker {
  private readonly worker: Worker
  private pending: { resolve(m: ExecResponse): void; reject(e: Error): void } | undefined
  private failure: Error | undefined
  readonly ready: Promise<ExecReady>

  constructor(readonly variant: VariantName, data: ExecWorkerData) {
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: data })
    this.ready = this.next() as Promise<ExecReady>
    this.worker.on('message', (message: ExecResponse) => {
      if (message.type === 'error') {
        // Errors cross the thread boundary as plain data; rebuild one here.
        const error = new Error(`${variant} worker: ${message.message}`)
        if (message.stack !== undefined) error.stack = `${error.message}\n--- in the worker:\n${message.stack}`
        this.fail(error)
      } else {
        const pending = this.pending
        this.pending = undefined
        pending?.resolve(message)
      }
    })
    this.worker.on('error', (error) => this.fail(error))
    this.worker.on('exit', (code) => this.fail(new Error(`${variant} worker exited (code ${code})`)))
  }

  private fail(error: Error): void {
    this.failure ??= error
    const pending = this.pending
    this.pending = undefined
    pending?.reject(error)
  }

  private next(): Promise<ExecResponse> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
    })
  }

  async request<T extends ExecResponse>(request: ExecRequest): Promise<T> {
    const response = this.next()
    this.worker.postMessage(request)
    return (await response) as T
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`${this.variant} worker closed`)
    await this.worker.terminate()
  }
}

function formatSeconds(s: number): string {
  return `${s.toFixed(s < 10 ? 2 : 1)} s`
}

/** The correctness guard: both variants end in the same state (on sampled accounts). */
async function crossCheck(name: WorkloadName, workers: readonly VariantWorker[], results: Map<VariantName, ExecResult>) {
  const random = createRandom(SEED ^ 0x5eed)
  const addresses = [bytesToHex(COINBASE.bytes)]
  for (let i = 0; i < SAMPLE_ACCOUNTS; i++) {
    addresses.push(bytesToHex(deriveAccount(SEED, random.int(SIZES.accountCount)).address.bytes))
  }
  const samples = new Map<VariantName, ExecSample>()
  for (const worker of workers) samples.set(worker.variant, await worker.request<ExecSample>({ type: 'sample', addresses }))
  const stock = samples.get('stock')!
  const sequential = samples.get('sequential')!
  const mismatches: string[] = []
  const gas = [results.get('stock')!.gasUsed, results.get('sequential')!.gasUsed]
  if (gas[0] !== gas[1]) mismatches.push(`gas used: stock ${gas[0]}, sequential ${gas[1]}`)
  addresses.forEach((address, i) => {
    const [a, b] = [stock.balances[i], sequential.balances[i]]
    if (a !== b) mismatches.push(`balance of ${address}: stock ${a}, sequential ${b}`)
    const [ta, tb] = [stock.tokenBalances?.[i], sequential.tokenBalances?.[i]]
    if (ta !== tb) mismatches.push(`token balance of ${address}: stock ${ta}, sequential ${tb}`)
  })
  if (mismatches.length > 0) throw new Error(`${name}: stock and sequential disagree:\n  ${mismatches.join('\n  ')}`)
  const tokens = stock.tokenBalances === undefined ? '' : ' and token'
  console.log(`  check: every tx status 1 in both, same gas, ${addresses.length} sampled ETH${tokens} balances agree`)
}

async function benchWorkload(name: WorkloadName): Promise<BenchRow[]> {
  console.log(`\n${name}: ${SIZES.txCount} txs in blocks of ${BLOCK_SIZE}, ${SIZES.accountCount} accounts`)
  const workers = selected.map(
    (variant) =>
      new VariantWorker(variant, {
        entry: new URL('./exec-worker.ts', import.meta.url).href,
        variant,
        workload: name,
        seed: SEED,
        blockSize: BLOCK_SIZE,
        profileDir: args.profile,
        ...SIZES,
      }),
  )
  try {
    // Set-up and warm-up are untimed: the workers do them concurrently.
    const readies = await Promise.all(workers.map((w) => w.ready))
    readies.forEach((ready, i) => {
      const variant = workers[i]!.variant
      for (const { label, seconds } of ready.setup) console.log(`  ${variant} set-up: ${label}: ${formatSeconds(seconds)}`)
      console.log(`  ${variant} warm-up: ${formatSeconds(ready.warmupSeconds)}`)
    })
    if (new Set(readies.map((r) => r.transactionsDigest)).size !== 1) throw new Error(`${name}: the workers built different transactions`)

    const times = new Map<VariantName, number[]>(workers.map((w) => [w.variant, []]))
    const last = new Map<VariantName, ExecResult>()
    for (let run = 1; run <= RUNS; run++) {
      for (const worker of workers) {
        const result = await worker.request<ExecResult>({ type: 'run', run })
        times.get(worker.variant)!.push(result.seconds)
        last.set(worker.variant, result)
        const profile = result.profile === undefined ? '' : ` (profile ${result.profile})`
        console.log(`  run ${run}/${RUNS} ${worker.variant}: ${formatSeconds(result.seconds)}${profile}`)
      }
    }
    if (workers.length === VARIANTS.length) await crossCheck(name, workers, last)
    else console.log('  check: every tx status 1 (cross-variant check skipped: --only)')

    const rows: BenchRow[] = []
    for (const [variant, runTimes] of times) {
      const time = median(runTimes)
      const gasUsed = Number(last.get(variant)!.gasUsed)
      rows.push({ workload: name, variant, metric: 'tx_per_s', value: SIZES.txCount / time })
      rows.push({ workload: name, variant, metric: 'mgas_per_s', value: gasUsed / 1e6 / time })
    }
    return rows
  } finally {
    await Promise.all(workers.map((w) => w.close()))
  }
}

const startedAll = performance.now()
const rows: BenchRow[] = []
for (const name of WORKLOADS) rows.push(...(await benchWorkload(name)))

const report = createReport({ bench: 'exec', quick: args.quick, rows, ratios: ratiosOf(rows, 'tx_per_s', 'sequential', 'stock') })
printReport(report, { tx_per_s: 'tx/s', mgas_per_s: 'Mgas/s' })
console.log(
  `\nsizes: ${SIZES.txCount} txs per run, ${SIZES.accountCount} accounts, blocks of ${BLOCK_SIZE}; ` +
    `1 warm-up + ${RUNS} timed runs per variant (median), each variant in its own worker thread; ` +
    `total ${((performance.now() - startedAll) / 1000).toFixed(0)} s`,
)
if (args.profile !== undefined) console.log("(--profile: timings include the profiler's overhead)")
if ((args.only === undefined && args.profile === undefined) || args.outGiven) writeReport(report, args.out)
else console.log('(--only/--profile: no JSON written; give --out to write one)')
