/**
 * `npm run bench:exec-shipping`: what sending one block's tasks to N parallel-execution workers
 * costs the coordinator's thread, three ways. What goes to every worker is the log entry (a block
 * of 401 written accounts, as `transfers` writes) and the 256 ancestor hashes:
 * - `clone-per-task`: as Maps, structured-cloned once per task (the executor until 2026-12-04);
 * - `packed-once`: serialized once per block, the same bytes copied into every task's message
 *   (until 2026-12-04's second change);
 * - `shared-once`: serialized once per block into shared memory (`packForWorkers` in
 *   `execution/parallel/protocol.ts`, a SharedArrayBuffer), so that every task's message carries a
 *   reference to the same bytes and neither thread copies them.
 * The rest of each task (its chunk of 200 transactions, the header) is the same in all three.
 * Workers receive and drop the messages. The figures are the sending thread's CPU per block and
 * the receiving workers' together (/proc/thread-self/schedstat, Linux), the median of 3,
 * alternating the three ways.
 * `bench:exec-scaling` found the coordinator's CPU per transaction rising with every worker added.
 *
 * Then the way back, `outcomes back`: a chunk's outcomes (200 ERC-20 transfers': read set, writes,
 * a Transfer log, the bloom) from a worker to the coordinator, two ways:
 * - `clone`: as objects, structured-cloned (the executor until 2026-12-05);
 * - `packed-moved`: packed into one buffer and moved with the message (`packOutcomes`, then
 *   `unpackOutcomes` where it arrives).
 * Both ends run on this thread over a MessageChannel, so the CPU per chunk is the two together.
 * Flags: --quick (fewer blocks), --out <path>.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { serialize } from 'node:v8'
import { MessageChannel, Worker } from 'node:worker_threads'
import { KECCAK256_NULL } from '@ethereumjs/util'
import { packForWorkers, packOutcomes, type TxOutcome, unpackOutcomes } from '../src/execution/parallel/protocol.ts'
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

/** Log entries per task (see `sendBlocks`). */
const ENTRIES_PER_TASK = 4
/** A worker that receives tasks and drops them, and answers 'cpu' with its thread's CPU ms. */
const RECEIVER = `
  const { parentPort } = require('node:worker_threads')
  const { readFileSync } = require('node:fs')
  parentPort.on('message', (message) => {
    if (message === 'cpu') parentPort.postMessage(Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6)
  })
`

const rows: BenchRow[] = []
for (const n of WORKERS) {
  const workers = Array.from({ length: n }, () => new Worker(RECEIVER, { eval: true }))
  const chunk = Math.ceil(txs.length / n)
  const ways = {
    'clone-per-task': (value: unknown) => value,
    'packed-once': (value: unknown) => serialize(value),
    'shared-once': packForWorkers,
  } as const
  type Way = keyof typeof ways
  /** All workers' CPU ms so far, once each has received everything sent before. */
  const workersCpuMs = async () => {
    const answers = workers.map((worker) => new Promise<number>((resolve) => worker.once('message', resolve)))
    for (const worker of workers) worker.postMessage('cpu')
    return (await Promise.all(answers)).reduce((sum, ms) => sum + ms, 0)
  }
  /** The sending thread's CPU ms per block, and the receiving workers' together. */
  const sendBlocks = async (way: Way) => {
    const pack = ways[way]
    // Each task carries the log from the slowest worker on: in parallel-15+all `transfers`, 3.85
    // entries per task on average. Each entry is packed once, when it is first sent.
    const entries: { seq: number; delta: unknown }[] = []
    const workersBefore = await workersCpuMs()
    const start = threadCpuMs()
    for (let b = 0; b < BLOCKS; b++) {
      entries.push({ seq: b, delta: pack(delta) })
      if (entries.length > ENTRIES_PER_TASK) entries.shift()
      const block = { header, ancestors: pack(ancestors) }
      workers.forEach((worker, i) => worker.postMessage({ block, entries, logLength: b + 1, durableBelow: b, txs: txs.slice(i * chunk, (i + 1) * chunk) }))
    }
    const coordinator = (threadCpuMs() - start) / BLOCKS
    return { coordinator, workers: ((await workersCpuMs()) - workersBefore) / BLOCKS }
  }
  const names = Object.keys(ways) as Way[]
  for (const way of names) await sendBlocks(way) // warm-up
  const times = new Map(names.map((way) => [way, { coordinator: [] as number[], workers: [] as number[] }]))
  for (let run = 0; run < RUNS; run++) {
    for (const way of names) {
      const { coordinator, workers } = await sendBlocks(way)
      times.get(way)!.coordinator.push(coordinator)
      times.get(way)!.workers.push(workers)
    }
  }
  const workload = `${n} worker${n === 1 ? '' : 's'}`
  for (const way of names) {
    rows.push({ workload, variant: way, metric: 'ms_per_block', value: median(times.get(way)!.coordinator) })
    rows.push({ workload, variant: way, metric: 'workers_ms_per_block', value: median(times.get(way)!.workers) })
  }
  await Promise.all(workers.map((w) => w.terminate()))
}
/** An ERC-20 transfer's outcome as a worker returns it. */
function erc20Outcome(id: number): TxOutcome {
  const hex = (bytes: number) => randomBytes(bytes).toString('hex')
  const word = () => new Uint8Array(randomBytes(32))
  const [token, sender, recipient, fromSlot, toSlot] = [hex(20), hex(20), hex(20), hex(32), hex(32)]
  const writes = createStateDelta()
  writes.accounts.set(sender, { nonce: BigInt(id + 1), balance: 10n ** 21n - BigInt(id), codeHash: KECCAK256_NULL })
  writes.storage.set(token, new Map([[fromSlot, word()], [toSlot, word()]]))
  const reads = new Set([`a${sender}`, `a${token}`, `s${token}${fromSlot}`, `s${token}${toSlot}`])
  const logsBloom = new Uint8Array(256)
  logsBloom.set(randomBytes(24), 100)
  const logs: [Uint8Array, Uint8Array[], Uint8Array][] = [[new Uint8Array(Buffer.from(token, 'hex')), [word(), word(), word()], word()]]
  return { id, ok: true, reads, writes, feeDelta: 51_234n * 10n ** 9n, status: 1, gasUsed: 51_234n, logs, logsBloom, createdAddress: undefined }
}

{
  const outcomes = Array.from({ length: 200 }, (_, id) => erc20Outcome(id))
  const { port1, port2 } = new MessageChannel()
  const backWays = {
    clone: { send: () => port1.postMessage(outcomes), receive: (message: unknown) => message as TxOutcome[] },
    'packed-moved': {
      send: () => {
        const packed = packOutcomes(outcomes)
        port1.postMessage(packed, [packed.buffer as ArrayBuffer])
      },
      receive: (message: unknown) => unpackOutcomes(message as Uint8Array),
    },
  } as const
  type BackWay = keyof typeof backWays
  const chunks = BLOCKS
  /** CPU ms per chunk, sending and receiving (and unpacking) together. */
  const sendBack = async (way: BackWay) => {
    const { send, receive } = backWays[way]
    let received = 0
    const done = new Promise<void>((resolve) => {
      port2.on('message', (message: unknown) => {
        if (receive(message).length !== outcomes.length) throw new Error(`${way}: outcomes lost`)
        if (++received === chunks) resolve()
      })
    })
    const start = threadCpuMs()
    for (let i = 0; i < chunks; i++) send()
    await done
    port2.removeAllListeners('message')
    return (threadCpuMs() - start) / chunks
  }
  const names = Object.keys(backWays) as BackWay[]
  for (const way of names) await sendBack(way) // warm-up
  const times = new Map(names.map((way) => [way, [] as number[]]))
  for (let run = 0; run < RUNS; run++) for (const way of names) times.get(way)!.push(await sendBack(way))
  for (const way of names) rows.push({ workload: 'outcomes back', variant: way, metric: 'ms_per_chunk', value: median(times.get(way)!) })
  port1.close()
}

const report = createReport({
  bench: 'exec-shipping',
  quick: args.quick,
  rows,
  ratios: [
    ...ratiosOf(rows, 'ms_per_block', 'shared-once', 'clone-per-task'),
    ...ratiosOf(rows, 'ms_per_block', 'shared-once', 'packed-once'),
    ...ratiosOf(rows, 'workers_ms_per_block', 'shared-once', 'packed-once', { metricInName: true }),
    ...ratiosOf(rows, 'ms_per_chunk', 'packed-moved', 'clone'),
  ],
})
printReport(report, { ms_per_block: 'coordinator CPU ms/block', workers_ms_per_block: 'workers CPU ms/block', ms_per_chunk: 'both ends CPU ms/chunk' })
if (args.only === undefined && args.workloads === undefined) writeReport(report, args.out)
