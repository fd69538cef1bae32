/**
 * `npm run bench:admission [-- --quick]`: how fast the mempool admits signed transactions, with
 * sender recovery (ecrecover) on the main thread (`inline`) or on the parallel executor's worker
 * threads (`workers-1`, `workers-2`).
 *
 * Transactions of the `transfers` workload arrive in groups of 64 at once (as from concurrent
 * clients or a JSON-RPC batch); each group is admitted before the next arrives. Reported per
 * variant: admitted tx/s, and main-thread busy time per admitted tx (event-loop utilisation) —
 * the time the main thread, which also runs the RPC server and the sequencer, spends per tx.
 */
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createChainCommon } from '../src/chain/common.ts'
import { createParallelExecutor, type ParallelExecutor } from '../src/execution/parallel/parallel-executor.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { Mempool } from '../src/mempool/mempool.ts'
import { createStateDelta, type StateReader } from '../src/state/types.ts'
import { checkNames, createReport, median, parseBenchArgs, printReport, ratiosOf, writeReport, type BenchRow } from './report.ts'
import { createWorkload } from './workloads.ts'

const VARIANTS = ['inline', 'workers-1', 'workers-2'] as const
const GROUP = 64
const RUNS = 3

const args = parseBenchArgs('admission')
checkNames('--only', args.only, VARIANTS)
const txCount = args.quick ? 2_000 : 10_000
const accountCount = args.quick ? 2_000 : 10_000
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const workload = createWorkload({ name: 'transfers', seed: 1, accountCount, txCount, blockSize: Math.min(500, accountCount), common })
const raws = workload.blocks.flat().map((tx) => tx.serialize())
const state: StateReader = {
  getAccount: (address) => workload.preState.accounts.get(address),
  getStorage: () => new Uint8Array(),
  getCode: () => undefined,
}
console.log(`bench:admission — ${raws.length} signed transfers in groups of ${GROUP}, median of ${RUNS} runs, ${availableParallelism()} cpus`)

async function admitAll(executor: ParallelExecutor | undefined): Promise<{ txPerSecond: number; mainUsPerTx: number }> {
  const pool = new Mempool({
    common,
    maxTxs: raws.length,
    maxPerSender: 64,
    txMaxBytes: 131_072,
    blockGasLimit: 30_000_000n,
    baseFeeFloor: 1n,
    state: () => state,
    recoverSender: executor === undefined ? undefined : (raw) => executor.senders.recover(raw),
  })
  const elu = performance.eventLoopUtilization()
  const started = performance.now()
  for (let i = 0; i < raws.length; i += GROUP) await Promise.all(raws.slice(i, i + GROUP).map((raw) => pool.add(raw)))
  const seconds = (performance.now() - started) / 1000
  const busy = performance.eventLoopUtilization(elu)
  if (pool.size !== raws.length) throw new Error(`admitted ${pool.size} of ${raws.length}`)
  return { txPerSecond: raws.length / seconds, mainUsPerTx: (busy.active * 1000) / raws.length }
}

const rows: BenchRow[] = []
for (const variant of VARIANTS) {
  if (args.only !== undefined && !args.only.includes(variant)) continue
  const threads = variant === 'inline' ? 0 : Number(variant.split('-')[1])
  const executor =
    threads === 0
      ? undefined
      : createParallelExecutor({
          common,
          threads,
          source: { kind: 'snapshot', state: createStateDelta() },
          fallback: await createSequentialExecutor({ common }),
        })
  await admitAll(executor) // warm-up: JIT, worker start-up
  const runs = []
  for (let i = 0; i < RUNS; i++) runs.push(await admitAll(executor))
  await executor?.close()
  rows.push({ workload: 'transfers', variant, metric: 'tx_per_s', value: median(runs.map((r) => r.txPerSecond)) })
  rows.push({ workload: 'transfers', variant, metric: 'main_us_per_tx', value: median(runs.map((r) => r.mainUsPerTx)) })
  console.log(`${variant}: done`)
}
const ratios = [...ratiosOf(rows, 'tx_per_s', 'workers-1', 'inline'), ...ratiosOf(rows, 'tx_per_s', 'workers-2', 'inline')]
const report = createReport({ bench: 'admission', quick: args.quick, rows, ratios })
printReport(report, { tx_per_s: 'tx/s', main_us_per_tx: 'main-thread µs/tx' })
writeReport(report, args.out)
