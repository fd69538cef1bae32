/**
 * `npm run bench:exec`: execution throughput of stock ethereumjs (`runTx` over its default
 * `MerkleStateManager` and pure-JS crypto), mosaic's sequential executor (journaled flat state,
 * native crypto) and mosaic's parallel executor on 1 and 2 worker threads, with the ceiling two
 * threads can reach on this machine (`sequential-x2`: two sequential executors in two processes at
 * once, nothing shared, their combined tx/s; see `parseVariant`), on the `transfers`,
 * `erc20`, `amm` and `mixed` workloads, side by side in one run (BENCHMARKS.md: "Baselines",
 * "Fairness").
 *
 * Each variant runs in a child process of its own, so none pays for another's heap (the stock
 * trie database is gigabytes at full size) or its collector's helper threads (see `VariantWorker`);
 * the parallel variants start their executor's threads from there. All build the same transactions (checked by digest) and the same pre-state from the seed,
 * recover senders before timing, and warm up with one untimed run; a parallel run also starts and warms
 * new worker threads on blocks of its own right before its timer (see `createParallelVariant`). Timed
 * runs are then interleaved — stock, sequential, parallel-1, parallel-2, stock, … — one at a time,
 * so noise on this shared machine hits all alike, each once the other processes have gone quiet
 * (`settle`; each run's line says how much CPU they took meanwhile); each run starts from fresh
 * pre-state. Each figure is the median of RUNS runs (stock: at most 3), and each ratio the median of
 * the runs' own ratios, each taken between runs seconds apart.
 *
 * Before reporting, the variants must agree: the same receipt statuses (every transaction status
 * 1, except that a pool swap may revert), the same gas, the same final ETH and token balances of
 * sampled accounts, the same pool totals. Swaps do not commute, so pool reserves and traders' pool
 * balances are compared only between variants whose blocks kept the given order (the parallel
 * executor keeps it: Block-STM's preset order; a run that did not would be left out of that
 * check and named); each parallel run is also replayed in its commit order on the sequential
 * executor, which must write the same values.
 *
 * Variants beyond these, for `--only`: `sequential-x<N>` (N sequential executors in N processes at
 * once: the ceiling of N threads) and `parallel-<N>[+main][+all][+noprobe]` (N worker threads;
 * `+main`: the main thread runs a chunk of every round; `+all`: every block on the workers, none
 * on the fallback; `+noprobe`: no probe round for contracts not seen yet). For the parallel
 * variants the table adds the workers' busy time per transaction and the main thread's CPU time
 * (/proc), which in a `parallel-<N>+all` run is the coordinator's alone. How it scales over 1-15
 * threads (a larger machine than this one):
 * `npm run bench:exec -- --workloads transfers,erc20 --only sequential,sequential-x4,parallel-1+main+all,…`
 * (`bench/exec-scaling.sh` runs the set the README reports).
 *
 * Flags: --quick (small size), --workloads a,b, --only a,b (variants), --runs N, --out <path>,
 * --profile <dir> (a CPU profile of every timed run; summarize with bench/profile-summary.ts).
 * With --only, --workloads or --profile no JSON is written unless --out is given.
 */
import { bytesToHex } from '@ethereumjs/util'
import { type ChildProcess, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseVariant, VARIANTS, type BlockStats, type ExecRequest, type ExecResponse, type ExecWorkerData, type VariantName } from './exec-protocol.ts'
import {
  checkNames,
  createReport,
  median,
  medianByKey,
  parseBenchArgs,
  printReport,
  ratiosOf,
  takeIntegerOption,
  writeReport,
  type BenchRatio,
  type BenchRow,
} from './report.ts'
import { COINBASE, createRandom, deriveAccount, WORKLOAD_NAMES, type WorkloadName } from './workloads.ts'

/** Linux's clock ticks per second (`getconf CLK_TCK`), the unit of /proc/PID/stat's times. */
const CLOCK_TICKS = 100
const SEED = 0x6d6f7361 // "mosa"
const BLOCK_SIZE = 200
const SAMPLE_ACCOUNTS = 20
/** The ratios of BENCHMARKS.md, "Figures", and the sequential executor's own gain. */
const RATIOS: readonly (readonly [VariantName, VariantName])[] = [
  ['sequential', 'stock'],
  // The machine's ceiling for two threads: two sequential executors at once, nothing shared.
  ['sequential-x2', 'sequential'],
  ['parallel-2', 'stock'],
  ['parallel-2', 'sequential'],
  ['parallel-1', 'sequential'],
  // Two threads executing, as the node runs on 2 cores: one worker and the main thread.
  ['parallel-1+main', 'sequential'],
  ['parallel-2+main', 'sequential'],
]

/** The tx/s ratios of one run's rows: RATIOS, and every other variant selected against the sequential executor. */
function ratiosAmong(runRows: readonly BenchRow[]): BenchRatio[] {
  const others = selected.filter((v) => !['stock', 'sequential'].includes(v) && !RATIOS.some(([a]) => a === v)).map((v) => [v, 'sequential'] as const)
  return [...RATIOS, ...others].flatMap(([a, b]) => ratiosOf(runRows, 'tx_per_s', a, b))
}

// Arguments: the shared ones, plus --runs N (timed runs per variant, default 5; the median is reported).
const { value: RUNS, rest } = takeIntegerOption(process.argv.slice(2), 'runs', 1, 9, 5)
/**
 * Stock runs at most 3 times: each of its runs takes 25–85 s at full size, and it is only the
 * yardstick of the sequential executor's own gain, which is tens of times its speed.
 */
const STOCK_RUNS = Math.min(RUNS, 3)
const args = parseBenchArgs('exec', rest)
// Quick: small enough that the stock variant (~150–400 tx/s) keeps 4 workloads × 4 variants ×
// (1 warm-up + RUNS) runs near two minutes; full: BENCHMARKS.md, "Sizes".
const SIZES = args.quick ? { txCount: 600, accountCount: 2_000 } : { txCount: 10_000, accountCount: 100_000 }
for (const name of args.only ?? []) {
  if (parseVariant(name) === undefined) {
    throw new Error(`--only: unknown variant ${JSON.stringify(name)} (stock, sequential, sequential-x<N>, parallel-<N>[+main][+all][+noprobe]; N from 1 to 256, at least 2 copies)`)
  }
}
checkNames('--workloads', args.workloads, WORKLOAD_NAMES)
const selected: readonly VariantName[] = [...new Set(args.only ?? VARIANTS)]
/** How many processes run a variant at once: N for `sequential-x<N>`, else 1. */
const copiesOf = (variant: VariantName) => {
  const spec = parseVariant(variant)!
  return spec.kind === 'sequential' ? spec.copies : 1
}
const workloads = WORKLOAD_NAMES.filter((w) => args.workloads === undefined || args.workloads.includes(w))

type ExecResult = Extract<ExecResponse, { type: 'result' }>
type ExecSample = Extract<ExecResponse, { type: 'sample' }>
type ExecReady = Extract<ExecResponse, { type: 'ready' }>

/**
 * The bench's handle on one variant: a child process of its own (`exec-worker.ts`), one request
 * in flight at a time. Processes, not threads: variants in threads of one process share V8's
 * garbage-collection helper threads and the process's memory, and in such runs every variant
 * after the stock one (whose heap is gigabytes) read slower than alone — the sequential
 * executor's own code in the parallel variants' fallback 0.55–0.77× the sequential row.
 */
class VariantWorker {
  private readonly child: ChildProcess
  private pending: { resolve(m: ExecResponse): void; reject(e: Error): void } | undefined
  private failure: Error | undefined
  readonly ready: Promise<ExecReady>

  constructor(
    readonly variant: VariantName,
    data: ExecWorkerData,
  ) {
    this.child = fork(fileURLToPath(new URL('./exec-worker.ts', import.meta.url)), [], {
      // No memory reducer: it runs full collections in a process that has gone idle, ~8 s after
      // (--gc-memory-reducer-start-delay-ms), so in the middle of another variant's timed run;
      // in a full run, 300–730 ms of one idle process's CPU fell in 2-4 s runs, and each idle
      // process took ~500 ms of stock's. Each run is preceded and followed by a full collection.
      execArgv: ['--import', 'tsx', '--no-memory-reducer'],
      // Structured clone, as between threads: bigints, Maps and bytes cross as they are.
      serialization: 'advanced',
      env: { ...process.env, MOSAIC_EXEC_DATA: JSON.stringify(data) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.ready = this.next() as Promise<ExecReady>
    this.child.on('message', (message: ExecResponse) => {
      if (message.type === 'error') {
        // Errors cross the process boundary as plain data; rebuild one here.
        const error = new Error(`${variant} process: ${message.message}`)
        if (message.stack !== undefined) error.stack = `${error.message}\n--- in the process:\n${message.stack}`
        this.fail(error)
      } else {
        const pending = this.pending
        this.pending = undefined
        pending?.resolve(message)
      }
    })
    this.child.on('error', (error) => this.fail(error))
    this.child.on('exit', (code, signal) => this.fail(new Error(`${variant} process exited (${signal ?? `code ${code}`})`)))
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
    this.child.send(request)
    return (await response) as T
  }

  /** The process's CPU time so far (user + system, all its threads), in seconds; 0 once it has exited. */
  cpuSeconds(): number {
    try {
      const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
    } catch {
      return 0
    }
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`${this.variant} process closed`)
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill()
    await exited
  }
}

/**
 * Waits, up to 10 s, until `workers`' processes use less than 15 ms of CPU over 100 ms, so that a
 * timed run has the machine to itself. A process still works after it has answered a run, its
 * last forced collection included: V8 sweeps and unmaps the freed pages on helper threads. Over
 * the run that followed, the process before it used 160–320 ms of CPU after stock's run (its heap
 * is gigabytes) and 50–60 ms after the sequential executor's, against the 0.11–0.18 s that the
 * run took (`transfers`, full size, 10 ms ticks of /proc/PID/stat).
 */
async function settle(workers: readonly VariantWorker[]): Promise<void> {
  const cpu = () => workers.reduce((sum, w) => sum + w.cpuSeconds(), 0)
  const deadline = performance.now() + 10_000
  for (let before = cpu(); performance.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = cpu()
    if (now - before < 0.015) return
    before = now
  }
}

function formatSeconds(s: number): string {
  return `${s.toFixed(s < 10 ? 2 : 1)} s`
}

function formatMs(s: number): string {
  return `${(s * 1000).toFixed(1)} ms`
}

/**
 * The correctness guard: every variant that ran ends in the same state, as far as the order of
 * commits allows (see the file comment). Each worker has already checked its own receipts and,
 * for the pool, that swaps neither made nor lost tokens; a parallel worker has replayed its run.
 */
async function crossCheck(name: WorkloadName, workers: readonly VariantWorker[], results: Map<VariantName, ExecResult>) {
  const random = createRandom(SEED ^ 0x5eed)
  const addresses = [bytesToHex(COINBASE.bytes)]
  for (let i = 0; i < SAMPLE_ACCOUNTS; i++) {
    addresses.push(bytesToHex(deriveAccount(SEED, random.int(SIZES.accountCount)).address.bytes))
  }
  const samples = new Map<VariantName, ExecSample>()
  for (const worker of workers) samples.set(worker.variant, await worker.request<ExecSample>({ type: 'sample', addresses }))

  const mismatches: string[] = []
  const [reference, ...others] = workers.map((w) => w.variant)
  const ref = { sample: samples.get(reference!)!, result: results.get(reference!)! }
  const inOrder = workers.map((w) => w.variant).filter((v) => samples.get(v)!.blockOrder)
  const orderRef = inOrder[0]
  for (const variant of others) {
    const sample = samples.get(variant)!
    const result = results.get(variant)!
    const differ = (what: string, a: unknown, b: unknown) => {
      if (a !== b && mismatches.length < 20) mismatches.push(`${what}: ${reference} ${a}, ${variant} ${b}`)
    }
    differ('gas used', ref.result.gasUsed, result.gasUsed)
    differ('transactions succeeded', ref.result.statuses.succeeded, result.statuses.succeeded)
    differ('transactions reverted', ref.result.statuses.reverted, result.statuses.reverted)
    addresses.forEach((address, i) => {
      differ(`balance of ${address}`, ref.sample.balances[i], sample.balances[i])
      differ(`token balance of ${address}`, ref.sample.tokenBalances?.[i], sample.tokenBalances?.[i])
    })
    differ('pool total 0', ref.sample.pool?.totals[0], sample.pool?.totals[0])
    differ('pool total 1', ref.sample.pool?.totals[1], sample.pool?.totals[1])
  }
  // Swaps do not commute: reserves and pool balances depend on the order of commits.
  if (orderRef !== undefined) {
    const base = samples.get(orderRef)!.pool
    for (const variant of inOrder.slice(1)) {
      const pool = samples.get(variant)!.pool
      const differ = (what: string, a: unknown, b: unknown) => {
        if (a !== b && mismatches.length < 20) mismatches.push(`${what}: ${orderRef} ${a}, ${variant} ${b}`)
      }
      differ('pool reserve 0', base?.reserves[0], pool?.reserves[0])
      differ('pool reserve 1', base?.reserves[1], pool?.reserves[1])
      addresses.forEach((address, i) => {
        differ(`pool balance0 of ${address}`, base?.balances[i]?.[0], pool?.balances[i]?.[0])
        differ(`pool balance1 of ${address}`, base?.balances[i]?.[1], pool?.balances[i]?.[1])
      })
    }
  }
  if (mismatches.length > 0) throw new Error(`${name}: the variants disagree:\n  ${mismatches.join('\n  ')}`)

  const { succeeded, reverted } = ref.result.statuses
  const parts = [`${succeeded} status 1, ${reverted} status 0`, 'same gas', `${addresses.length} sampled ETH balances`]
  if (ref.sample.tokenBalances !== undefined) parts.push('token balances')
  if (ref.sample.pool !== undefined) parts.push(`pool totals (conserved)`)
  console.log(`  check (${workers.map((w) => w.variant).join(', ')}): ${parts.join(', ')} agree`)
  if (ref.sample.pool !== undefined && inOrder.length > 1) {
    console.log(`  check: pool reserves and sampled pool balances agree between the variants in block order (${inOrder.join(', ')})`)
  }
  for (const worker of workers) {
    const sample = samples.get(worker.variant)!
    const order = sample.blockOrder ? 'block order' : 'reordered within blocks'
    if (sample.verified !== undefined) console.log(`  check ${worker.variant} (${order}): ${sample.verified}`)
  }
}

/**
 * Per parallel run: blocks run in parallel mode, aborts, the worker threads' busy time (and the
 * main thread's on its own chunks) against the wall time, and the first block's time against the others' (the cost of anything still cold).
 */
function describeBlocks(blocks: readonly BlockStats[], mainCpuSeconds: number | undefined, workerCpuSeconds: number | undefined): string {
  const parallel = blocks.filter((b) => b.mode === 'parallel').length
  const aborts = blocks.reduce((sum, b) => sum + b.aborts, 0)
  const wall = blocks.reduce((sum, b) => sum + b.seconds, 0)
  const busy = blocks.reduce((sum, b) => sum + b.workerSeconds, 0)
  const main = blocks.reduce((sum, b) => sum + b.mainSeconds, 0)
  const rest = blocks.slice(1).map((b) => b.seconds)
  const first = blocks[0] === undefined ? '' : `; first block ${formatMs(blocks[0].seconds)}`
  const others = rest.length === 0 ? '' : `, median of the others ${formatMs(median(rest))}`
  const cpu =
    (mainCpuSeconds === undefined ? '' : `, main thread CPU ${formatMs(mainCpuSeconds)}`) +
    (workerCpuSeconds === undefined ? '' : `, workers' CPU ${formatMs(workerCpuSeconds)}`)
  return `${parallel}/${blocks.length} blocks parallel, ${aborts} aborts, workers busy ${formatMs(busy)}${main > 0 ? `, main thread ${formatMs(main)}` : ''} of ${formatMs(wall)}${cpu}${first}${others}`
}

async function benchWorkload(name: WorkloadName): Promise<{ rows: BenchRow[]; ratios: BenchRatio[] }> {
  console.log(`\n${name}: ${SIZES.txCount} txs in blocks of ${BLOCK_SIZE}, ${SIZES.accountCount} accounts`)
  const data = (variant: VariantName): ExecWorkerData => ({
    entry: new URL('./exec-worker.ts', import.meta.url).href,
    // `sequential-x<N>`: N processes of the sequential executor.
    variant: copiesOf(variant) > 1 ? 'sequential' : variant,
    workload: name,
    seed: SEED,
    blockSize: BLOCK_SIZE,
    profileDir: args.profile,
    ...SIZES,
  })
  const workers = selected.map((variant) => new VariantWorker(variant, data(variant)))
  // A `sequential-x<N>` variant's other N - 1 processes, timed together with its first.
  const partners = new Map<VariantWorker, VariantWorker[]>(
    workers
      .filter((w) => copiesOf(w.variant) > 1)
      .map((w) => [w, Array.from({ length: copiesOf(w.variant) - 1 }, () => new VariantWorker(w.variant, data(w.variant)))]),
  )
  const started = performance.now()
  try {
    // Set-up and warm-up are untimed: the workers do them concurrently.
    const readies = await Promise.all(workers.map((w) => w.ready))
    await Promise.all([...partners.values()].flat().map((w) => w.ready))
    const setUpSeconds = (performance.now() - started) / 1000
    readies.forEach((ready, i) => {
      const variant = workers[i]!.variant
      for (const { label, seconds } of ready.setup) console.log(`  ${variant} set-up: ${label}: ${formatSeconds(seconds)}`)
      console.log(`  ${variant} warm-up: ${formatSeconds(ready.warmupSeconds)}`)
    })
    if (new Set(readies.map((r) => r.transactionsDigest)).size !== 1) throw new Error(`${name}: the workers built different transactions`)

    const results = new Map<VariantName, ExecResult[]>(workers.map((w) => [w.variant, []]))
    const partnerLast = new Map<VariantWorker, ExecResult>()
    for (let run = 1; run <= RUNS; run++) {
      for (const worker of workers) {
        if (worker.variant === 'stock' && run > STOCK_RUNS) continue
        const others = partners.get(worker) ?? []
        const idle = workers.filter((w) => w !== worker).concat([...partners.entries()].filter(([w]) => w !== worker).flatMap(([, p]) => p))
        await settle(idle)
        const idleBefore = idle.map((w) => w.cpuSeconds())
        const [own, ...theirs] = await Promise.all([worker, ...others].map((w) => w.request<ExecResult>({ type: 'run', run })))
        // N processes did N times the transactions in the time of the slowest.
        const result = { ...own!, seconds: Math.max(own!.seconds, ...theirs.map((r) => r.seconds)) }
        theirs.forEach((r, i) => partnerLast.set(others[i]!, r))
        results.get(worker.variant)!.push(result)
        if (theirs.length > 0) {
          const times = [own!, ...theirs].map((r) => formatSeconds(r.seconds))
          console.log(`  run ${run}/${RUNS} ${worker.variant}: the ${times.length} processes ${times.join(', ')}`)
        }
        const notes: string[] = []
        const idleCpu = idle.map((w, i) => [w.variant, w.cpuSeconds() - idleBefore[i]!] as const).filter(([, cpu]) => cpu > 0)
        notes.push(`the other variants' processes: ${idleCpu.map(([v, cpu]) => `${v} ${formatMs(cpu)}`).join(', ') || 'none'} of CPU meanwhile`)
        if (result.preparationSeconds !== undefined) notes.push(`prepared in ${formatSeconds(result.preparationSeconds)}`)
        if (result.blocks !== undefined) notes.push(describeBlocks(result.blocks, result.mainCpuSeconds, result.workerCpuSeconds))
        if (result.profile !== undefined) notes.push(`profile ${result.profile}`)
        const note = notes.length === 0 ? '' : ` (${notes.join('; ')})`
        console.log(`  run ${run}/${RUNS} ${worker.variant}: ${formatSeconds(result.seconds)}${note}`)
      }
    }
    const last = new Map<VariantName, ExecResult>([...results].map(([variant, runs]) => [variant, runs[runs.length - 1]!]))
    const runsSeconds = (performance.now() - started) / 1000 - setUpSeconds
    await crossCheck(name, workers, last)
    // A `sequential-x<N>` variant's other processes ran what its first did: the same check against the others.
    for (const [first, others] of partners) {
      const reference = workers.find((w) => w !== first)
      // Alone, each process has checked its own receipts.
      if (reference === undefined) continue
      for (const other of others) {
        await crossCheck(name, [reference, other], new Map([[reference.variant, last.get(reference.variant)!], [other.variant, partnerLast.get(other)!]]))
      }
    }
    console.log(
      `  ${name}: set-up and warm-up ${formatSeconds(setUpSeconds)}, timed runs ${formatSeconds(runsSeconds)}, ` +
        `in all ${formatSeconds((performance.now() - started) / 1000)}`,
    )

    // Each run's ratios, from its variants' runs (seconds apart), then their median: a drift of
    // this machine's speed over the minutes a workload takes cancels within each run's ratios.
    const runRatios = Array.from({ length: RUNS }, (_, r) =>
      ratiosAmong(
        [...results].flatMap(([variant, runs]) =>
          runs[r] === undefined ? [] : [{ workload: name, variant, metric: 'tx_per_s', value: (copiesOf(variant) * SIZES.txCount) / runs[r]!.seconds }],
        ),
      ),
    )
    for (const [r, ratios] of runRatios.entries()) {
      console.log(`  run ${r + 1}/${RUNS} ratios: ${ratios.map((ratio) => `${ratio.name} ${ratio.value.toFixed(2)}×`).join(', ')}`)
    }
    const rows: BenchRow[] = []
    for (const [variant, runs] of results) {
      const time = median(runs.map((r) => r.seconds))
      const gasUsed = Number(last.get(variant)!.gasUsed)
      const copies = copiesOf(variant)
      rows.push({ workload: name, variant, metric: 'tx_per_s', value: (copies * SIZES.txCount) / time })
      rows.push({ workload: name, variant, metric: 'mgas_per_s', value: (copies * gasUsed) / 1e6 / time })
      const blocks = runs.flatMap((r) => r.blocks ?? [])
      if (blocks.length > 0) {
        // Over every block of every timed run.
        const aborts = blocks.reduce((sum, b) => sum + b.aborts, 0)
        rows.push({ workload: name, variant, metric: 'aborts_per_block', value: aborts / blocks.length })
        rows.push({ workload: name, variant, metric: 'parallel_blocks', value: blocks.filter((b) => b.mode === 'parallel').length / blocks.length })
        // Per transaction, the median over the timed runs: what scaling to more threads costs.
        const perTx = (seconds: (r: ExecResult) => number | undefined) => {
          const values = runs.map(seconds)
          return values.some((v) => v === undefined) ? undefined : (median(values as number[]) * 1e6) / SIZES.txCount
        }
        const sum = (r: ExecResult, field: 'workerSeconds' | 'mainSeconds') => (r.blocks ?? []).reduce((total, b) => total + b[field], 0)
        rows.push({ workload: name, variant, metric: 'worker_us_per_tx', value: perTx((r) => sum(r, 'workerSeconds'))! })
        // The main thread's CPU: with every block on the workers and no chunk of its own (a
        // `parallel-<N>+all` variant), all of it is coordination.
        const mainCpu = perTx((r) => r.mainCpuSeconds)
        if (mainCpu !== undefined) rows.push({ workload: name, variant, metric: 'main_cpu_us_per_tx', value: mainCpu })
        // The workers' CPU: their busy time less what they spent preempted by the other threads.
        const workerCpu = perTx((r) => r.workerCpuSeconds)
        if (workerCpu !== undefined) rows.push({ workload: name, variant, metric: 'worker_cpu_us_per_tx', value: workerCpu })
      }
    }
    return { rows, ratios: medianByKey(runRatios, (ratio) => ratio.name) }
  } finally {
    await Promise.all([...workers, ...[...partners.values()].flat()].map((w) => w.close()))
  }
}

const startedAll = performance.now()
const rows: BenchRow[] = []
const ratios: BenchRatio[] = []
for (const name of workloads) {
  const measured = await benchWorkload(name)
  rows.push(...measured.rows)
  ratios.push(...measured.ratios)
}
const report = createReport({ bench: 'exec', quick: args.quick, rows, ratios })
printReport(report, {
  tx_per_s: 'tx/s',
  mgas_per_s: 'Mgas/s',
  aborts_per_block: 'aborts/block',
  parallel_blocks: 'parallel blocks',
  worker_us_per_tx: 'worker µs/tx',
  main_cpu_us_per_tx: 'main thread CPU µs/tx',
  worker_cpu_us_per_tx: 'worker CPU µs/tx',
})
console.log(
  `\nsizes: ${SIZES.txCount} txs per run, ${SIZES.accountCount} accounts, blocks of ${BLOCK_SIZE}; ` +
    `1 warm-up + ${RUNS} timed runs per variant (stock ${STOCK_RUNS}; figures: their median; ratios: the median of each run's own), each variant in its own process (sequential-x<N> in N); ` +
    `total ${((performance.now() - startedAll) / 1000).toFixed(0)} s`,
)
if (args.profile !== undefined) console.log("(--profile: timings include the profiler's overhead)")
const partial = args.only !== undefined || args.workloads !== undefined || args.profile !== undefined
if (!partial || args.outGiven) writeReport(report, args.out)
else console.log('(--only/--workloads/--profile: no JSON written; give --out to write one)')
