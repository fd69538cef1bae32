/**
 * `npm run bench:exec-shipping`: what sending one block's tasks to N parallel-execution workers
 * costs the coordinator's thread, the way the executor sent them until 2026-12-04 — the log entry
 * (a block of 401 written accounts, as `transfers` writes) and the 256 ancestor hashes as Maps,
 * structured-cloned once per task — against the way it sends them now: packed once per block
 * (`packForWorkers` in `execution/parallel/protocol.ts`), each task carrying the same bytes. The
 * rest of each task (its chunk of 200 transactions, the header) is the same in both. Workers
 * receive and drop the messages; the figure is the sending thread's CPU per block
 * (/proc/thread-self/schedstat, Linux), the median of 3, alternating the two ways.
 * `bench:exec-scaling` found the coordinator's CPU per transaction rising with every worker added.
 * Flags: --quick (fewer blocks), --out <path>.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { KECCAK256_NULL } from '@ethereumjs/util'
import { packForWorkers } from '../src/execution/parallel/protocol.ts'
import { createStateDelta } from '../src/state/types.ts'
import { createReport, median, parseBenchArgs, printReport, ratiosOf, writeReport, type BenchRow } from './report.ts'

const args = parseBenchArgs('exec-shipping')
const BLOCKS = args.quick ? 50 : 400
const RUNS = 3
const WORKERS = [1, 2, 4, 8, 15]

const threadCpuMs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6

const delta = createStateDelta()
for (let i = 0; i < 401; i++) delta.accounts.set(randomBytes(20).toString('hex'), { nonce: BigInt(i), balance: 10n ** 18n + BigInt(i), codeHash: KECCAK256_NULL })
const ancestors = new Map<string, Uint8Array>()
for (let i = 0; i < 256; i++) ancestors.set(String(1_000 + i), new Uint8Array(randomBytes(32)))
const header = { number: '0x400', parentHash: `0x${'ab'.repeat(32)}`, timestamp: '0x1', gasLimit: '0x3b9aca00', baseFeePerGas: '0x7', coinbase: `0x${'11'.repeat(20)}` }
const txs = Array.from({ length: 200 }, (_, id) => ({ id, raw: new Uint8Array(randomBytes(110)), sender: new Uint8Array(randomBytes(20)) }))

const rows: BenchRow[] = []
for (const n of WORKERS) {
  const workers = Array.from({ length: n }, () => new Worker('require("node:worker_threads").parentPort.on("message", () => {})', { eval: true }))
  const chunk = Math.ceil(txs.length / n)
  /** The sending thread's CPU ms per block. */
  const sendBlocks = (packed: boolean) => {
    const start = threadCpuMs()
    for (let b = 0; b < BLOCKS; b++) {
      const entries = [{ seq: b, delta: packed ? packForWorkers(delta) : delta }]
      const block = { header, ancestors: packed ? packForWorkers(ancestors) : ancestors }
      workers.forEach((worker, i) => worker.postMessage({ block, entries, logLength: b + 1, durableBelow: b, txs: txs.slice(i * chunk, (i + 1) * chunk) }))
    }
    return (threadCpuMs() - start) / BLOCKS
  }
  sendBlocks(false) // warm-up, both ways
  sendBlocks(true)
  const times = { clone: [] as number[], packed: [] as number[] }
  for (let run = 0; run < RUNS; run++) {
    times.clone.push(sendBlocks(false))
    times.packed.push(sendBlocks(true))
  }
  const workload = `${n} worker${n === 1 ? '' : 's'}`
  rows.push({ workload, variant: 'clone-per-task', metric: 'ms_per_block', value: median(times.clone) })
  rows.push({ workload, variant: 'packed-once', metric: 'ms_per_block', value: median(times.packed) })
  await Promise.all(workers.map((w) => w.terminate()))
}
const report = createReport({ bench: 'exec-shipping', quick: args.quick, rows, ratios: ratiosOf(rows, 'ms_per_block', 'packed-once', 'clone-per-task') })
printReport(report, { ms_per_block: 'coordinator CPU ms/block' })
if (args.only === undefined && args.workloads === undefined) writeReport(report, args.out)
