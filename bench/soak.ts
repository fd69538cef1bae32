/**
 * `npm run bench:soak [-- --quick] [--only anvil,sequencer]`: memory under sustained load
 * (issue 17; BENCHMARKS.md, "Figures": memory).
 *
 * - `sequencer`: `mosaic sequencer` on its defaults (no L1). First its capacity is measured: 64
 *   senders keep at most 64 transactions each unincluded, in JSON-RPC batches of 20, for 20 s
 *   (`--quick`: 10 s). Then two phases, open loop, at 50% and 100% of that capacity, for 10
 *   minutes each (`--quick`: 1 minute): every 10 ms each sender sends what is due, signed then;
 *   a refused transaction (a full pool) is sent again at the next tick, so the load never leaves
 *   a nonce gap. Transfers go round a fixed set of 1,000 recipients: the state does not grow, so
 *   memory that grows is a leak or an unbounded cache, not state.
 * - `anvil` (from npm, `--block-time 0.25`): the same two phases at the same offered rates.
 *
 * Every 10 s: VmRSS of the node's process tree, its anonymous part (RssAnon: heaps and buffers)
 * and its file-backed part (RssFile: pages of files mapped in memory, such as LMDB's); for mosaic
 * also `mosaic_status.memory` (V8 heap used, external and ArrayBuffer memory, its workers' heaps,
 * cache bytes) and the size of its data dir, which RssFile's growth is set against. Per phase: included
 * tx/s, RSS and heap at the end of the warm-up (the first minute; `--quick`: 20 s), their growth
 * after it (the median of the last three samples against the first three after warm-up), and the
 * peak RSS. Ratio: mosaic's peak RSS / anvil's per phase. The RSS over time is drawn in
 * `bench/results/soak-rss.svg`.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { hexToBytes } from '@ethereumjs/util'
import { addressFromLabel, addressOf, type Hex, keyFromLabel, RpcClient, signEip1559, type SignedTx, processTree, statusKb } from './e2e-client.ts'
import { type NodeHandle, problems, sleep, startAnvilNode, startMosaicNode } from './nodes.ts'
import { checkNames, createReport, type BenchRatio, type BenchRow, parseBenchArgs, printReport, writeReport } from './report.ts'

const NODES = ['sequencer', 'anvil'] as const
const args = parseBenchArgs('soak')
checkNames('--only', args.only, NODES)
if (args.only !== undefined && args.only.includes('anvil') && !args.only.includes('sequencer')) throw new Error('--only anvil: anvil runs at the rates measured on the sequencer')

const CHAIN_ID = 901n
const GAS_LIMIT = 30_000_000n
const SENDERS = 64
const RECIPIENTS = 1_000
const BATCH = 20
const WINDOW = 64
const MAX_FEE = 500n * 10n ** 9n
const TIP = 10n ** 9n
const DEV_KEY = hexToBytes('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const PHASE_MS = (args.quick ? 1 : 10) * 60_000
const WARMUP_MS = args.quick ? 20_000 : 60_000
const SAMPLE_MS = 10_000
const CAPACITY_MS = args.quick ? 10_000 : 20_000
const LOADS = [0.5, 1] as const

const senders = Array.from({ length: SENDERS }, (_, i) => keyFromLabel(`mosaic-soak/sender/${i}`))
const senderAddresses = senders.map(addressOf)
const recipients = Array.from({ length: RECIPIENTS }, (_, i) => addressFromLabel(`mosaic-soak/to/${i}`))

function transfer(sender: number, nonce: bigint): SignedTx {
  const to = recipients[Number((BigInt(sender) * 7919n + nonce) % BigInt(RECIPIENTS))]!
  return signEip1559({ chainId: CHAIN_ID, nonce, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: 21_000n, to, value: 1n, data: new Uint8Array() }, senders[sender]!)
}

/** Included transactions of every sender: their nonces at `latest`. */
async function includedNonces(client: RpcClient): Promise<bigint[]> {
  const answers = await client.batch(senderAddresses.map((a) => ({ method: 'eth_getTransactionCount', params: [a, 'latest'] })))
  return answers.map((a) => BigInt((a.result as string | undefined) ?? '0x0'))
}

/** Send one request of transactions; returns how many from the front were accepted (the rest are sent again). */
async function sendBatch(client: RpcClient, txs: readonly SignedTx[]): Promise<number> {
  let answers
  try {
    answers = await client.batch(txs.map((tx) => ({ method: 'eth_sendRawTransaction', params: [tx.raw] })))
  } catch {
    return 0
  }
  const refused = answers.findIndex((a) => a.error !== undefined && !/already known|already imported/i.test(a.error.message))
  return refused < 0 ? txs.length : refused
}

/** Untimed: dev account 0 funds the senders; waits until they are funded. */
async function fund(client: RpcClient): Promise<void> {
  const dev = addressOf(DEV_KEY)
  let nonce = BigInt(await client.call<string>('eth_getTransactionCount', [dev, 'latest']))
  const txs = senderAddresses.map((to) => signEip1559({ chainId: CHAIN_ID, nonce: nonce++, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: 21_000n, to, value: 100n * 10n ** 18n, data: new Uint8Array() }, DEV_KEY))
  const answers = await client.batch(txs.map((tx) => ({ method: 'eth_sendRawTransaction', params: [tx.raw] })))
  const refused = answers.find((a) => a.error !== undefined)
  if (refused !== undefined) throw new Error(`funding the senders was refused: ${refused.error!.message}`)
  for (let waited = 0; BigInt(await client.call<string>('eth_getTransactionCount', [dev, 'latest'])) < nonce; waited += 100) {
    if (waited > 60_000) throw new Error('the senders were not funded within 60 s')
    await sleep(100)
  }
}

/** Closed loop for `ms`: included tx/s when every sender keeps WINDOW transactions in flight. */
async function capacity(client: RpcClient, next: bigint[], ms: number): Promise<number> {
  const start = await includedNonces(client)
  let included = start
  const begun = performance.now()
  let running = true
  const pollers = (async () => {
    while (running) {
      included = await includedNonces(client)
      await sleep(100)
    }
  })()
  await Promise.all(
    senders.map(async (_, s) => {
      while (performance.now() - begun < ms) {
        const room = Number(included[s]! + BigInt(WINDOW) - next[s]!)
        if (room < BATCH) {
          await sleep(20)
          continue
        }
        const txs = Array.from({ length: BATCH }, (_, k) => transfer(s, next[s]! + BigInt(k)))
        next[s]! += BigInt(await sendBatch(client, txs))
      }
    }),
  )
  running = false
  await pollers
  const end = await includedNonces(client)
  return Number(end.reduce((sum, n, s) => sum + n - start[s]!, 0n)) / ((performance.now() - begun) / 1000)
}

type Sample = { atS: number; rssMb: number; rssAnonMb: number; rssFileMb: number; dataMb?: number; heapMb?: number; externalMb?: number; arrayBuffersMb?: number; workersHeapMb?: number; cachesMb?: number }

type MemoryJSON = { process: { heapUsed: number; external: number; arrayBuffers: number }; workers: { heapUsed: number }[]; caches: Record<string, { bytes: number }> }

/** Open loop at `rate` tx/s for `ms`, sampling memory every SAMPLE_MS. */
async function phase(node: NodeHandle, client: RpcClient, next: bigint[], rate: number, ms: number): Promise<{ samples: Sample[]; txPerSecond: number }> {
  const samples: Sample[] = []
  const begun = performance.now()
  const start = await includedNonces(client)
  const mb = (bytes: number) => bytes / 2 ** 20
  const sample = async () => {
    let rssKb = 0
    let anonKb = 0
    let fileKb = 0
    for (const pid of processTree(node.pid)) {
      rssKb += statusKb(pid, 'VmRSS')
      anonKb += statusKb(pid, 'RssAnon')
      fileKb += statusKb(pid, 'RssFile')
    }
    const s: Sample = { atS: (performance.now() - begun) / 1000, rssMb: rssKb / 1024, rssAnonMb: anonKb / 1024, rssFileMb: fileKb / 1024 }
    if (node.dataDir !== undefined) s.dataMb = mb(dirBytes(node.dataDir))
    if (node.name !== 'anvil') {
      const memory = (await client.call<{ memory: MemoryJSON }>('mosaic_status')).memory
      s.heapMb = mb(memory.process.heapUsed)
      s.externalMb = mb(memory.process.external)
      s.arrayBuffersMb = mb(memory.process.arrayBuffers)
      s.workersHeapMb = mb(memory.workers.reduce((sum, w) => sum + w.heapUsed, 0))
      s.cachesMb = mb(Object.values(memory.caches).reduce((sum, c) => sum + c.bytes, 0))
    }
    samples.push(s)
  }
  await sample()
  const sampler = setInterval(() => void sample(), SAMPLE_MS)
  const perSender = rate / SENDERS
  const sent = new Array<number>(SENDERS).fill(0)
  const busy = new Array<boolean>(SENDERS).fill(false)
  while (performance.now() - begun < ms) {
    const due = Math.floor(((performance.now() - begun) / 1000) * perSender)
    for (let s = 0; s < SENDERS; s++) {
      if (busy[s] || sent[s]! >= due) continue
      busy[s] = true
      const count = Math.min(BATCH, due - sent[s]!)
      const txs = Array.from({ length: count }, (_, k) => transfer(s, next[s]! + BigInt(k)))
      void sendBatch(client, txs).then((accepted) => {
        next[s]! += BigInt(accepted)
        sent[s]! += accepted
        busy[s] = false
      })
    }
    await sleep(10)
  }
  clearInterval(sampler)
  await sample()
  const end = await includedNonces(client)
  const txPerSecond = Number(end.reduce((sum, n, s) => sum + n - start[s]!, 0n)) / ((performance.now() - begun) / 1000)
  return { samples, txPerSecond }
}

/** Bytes of the files under `dir` (the data dir: LMDB's files grow with the chain). */
function dirBytes(dir: string): number {
  let bytes = 0
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    try {
      const stat = statSync(join(dir, name))
      if (stat.isFile()) bytes += stat.size
    } catch {
      // removed meanwhile
    }
  }
  return bytes
}

const median3 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

function growth(samples: readonly Sample[], field: 'rssMb' | 'rssAnonMb' | 'rssFileMb' | 'dataMb' | 'heapMb'): { atWarmup: number; growthMb: number; growthPct: number } | undefined {
  const after = samples.filter((s) => s.atS * 1000 >= WARMUP_MS && s[field] !== undefined)
  if (after.length < 2) return undefined
  const first = median3(after.slice(0, 3).map((s) => s[field]!))
  const last = median3(after.slice(-3).map((s) => s[field]!))
  return { atWarmup: first, growthMb: last - first, growthPct: ((last - first) / first) * 100 }
}

/** RSS over time, one line per node and phase, as an SVG. */
function plot(series: { name: string; samples: Sample[] }[], path: string): void {
  const width = 720
  const height = 360
  const pad = 50
  const maxT = Math.max(...series.flatMap((s) => s.samples.map((x) => x.atS)), 1)
  const maxR = Math.max(...series.flatMap((s) => s.samples.map((x) => x.rssMb)), 1) * 1.1
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728']
  const x = (t: number) => pad + (t / maxT) * (width - 2 * pad)
  const y = (r: number) => height - pad - (r / maxR) * (height - 2 * pad)
  const points = (samples: readonly Sample[], field: 'rssMb' | 'rssAnonMb') => samples.map((p) => `${x(p.atS).toFixed(1)},${y(p[field]).toFixed(1)}`).join(' ')
  const lines = series.map((s, i) => `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${points(s.samples, 'rssMb')}"/>` +
    `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="1" stroke-dasharray="4 3" points="${points(s.samples, 'rssAnonMb')}"/>` +
    `<text x="${width - pad - 150}" y="${pad + 16 * i}" fill="${colors[i % colors.length]}" font-size="12">${s.name}</text>`)
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="4" y="${y(f * maxR) + 4}" font-size="11">${(f * maxR).toFixed(0)} MB</text><text x="${x(f * maxT) - 10}" y="${height - pad + 18}" font-size="11">${(f * maxT).toFixed(0)} s</text>`)
  writeFileSync(
    path,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">` +
      `<rect width="100%" height="100%" fill="white"/><line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="black"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>` +
      `<text x="${pad}" y="20" font-size="14">VmRSS (solid) and RssAnon (dashed) during bench:soak${args.quick ? ' (quick)' : ''}, each phase from its start</text>${ticks.join('')}${lines.join('')}</svg>\n`,
  )
}

const rows: BenchRow[] = []
const series: { name: string; samples: Sample[] }[] = []
let rates: number[] | undefined
for (const name of NODES.filter((n) => args.only === undefined || args.only.includes(n))) {
  const options = { chainId: CHAIN_ID, gasLimit: GAS_LIMIT }
  const node = name === 'anvil' ? await startAnvilNode(options) : await startMosaicNode(name, options)
  const client = new RpcClient(node.url, SENDERS)
  try {
    await fund(client)
    const next = await includedNonces(client)
    if (rates === undefined) {
      const measured = await capacity(client, next, CAPACITY_MS)
      console.log(`${name}: capacity ${measured.toFixed(0)} tx/s (closed loop, ${CAPACITY_MS / 1000} s)`)
      rows.push({ workload: 'capacity', variant: name, metric: 'tx_per_s', value: measured })
      rates = LOADS.map((f) => f * measured)
      // Let the backlog of the capacity run drain before the first phase.
      for (let drained = false, waited = 0; !drained && waited < 30_000; waited += 500) {
        drained = (await includedNonces(client)).every((n, s) => n >= next[s]!)
        await sleep(500)
      }
    }
    for (const [i, load] of LOADS.entries()) {
      const rate = rates[i]!
      const result = await phase(node, client, next, rate, PHASE_MS)
      const workload = `${load * 100}%`
      const rss = growth(result.samples, 'rssMb')
      const anon = growth(result.samples, 'rssAnonMb')
      const heap = growth(result.samples, 'heapMb')
      const file = growth(result.samples, 'rssFileMb')
      const data = growth(result.samples, 'dataMb')
      const add = (metric: string, value: number | undefined) => value !== undefined && Number.isFinite(value) && rows.push({ workload, variant: name, metric, value })
      add('offered_tx_per_s', rate)
      add('tx_per_s', result.txPerSecond)
      add('rss_mb_after_warmup', rss?.atWarmup)
      add('rss_growth_pct', rss?.growthPct)
      add('peak_rss_mb', Math.max(...result.samples.map((s) => s.rssMb)))
      add('rss_anon_mb_after_warmup', anon?.atWarmup)
      add('rss_anon_growth_pct', anon?.growthPct)
      add('peak_rss_anon_mb', Math.max(...result.samples.map((s) => s.rssAnonMb)))
      add('rss_file_growth_mb', file?.growthMb)
      add('data_growth_mb', data?.growthMb)
      add('heap_mb_after_warmup', heap?.atWarmup)
      add('heap_growth_pct', heap?.growthPct)
      add('workers_heap_mb', result.samples.at(-1)?.workersHeapMb)
      add('external_mb', result.samples.at(-1)?.externalMb)
      series.push({ name: `${name} ${workload}`, samples: result.samples })
      console.log(`${name} ${workload}: offered ${rate.toFixed(0)} tx/s, included ${result.txPerSecond.toFixed(0)} tx/s`)
      for (const x of result.samples) {
        const mosaic = x.heapMb === undefined ? '' : `; heap ${x.heapMb.toFixed(0)}, external ${x.externalMb!.toFixed(0)}, workers' heaps ${x.workersHeapMb!.toFixed(0)}, caches ${x.cachesMb!.toFixed(0)}`
        const data = x.dataMb === undefined ? '' : `; data dir ${x.dataMb.toFixed(0)}`
        console.log(`  ${x.atS.toFixed(0)} s: RSS ${x.rssMb.toFixed(0)} (anonymous ${x.rssAnonMb.toFixed(0)}, files ${x.rssFileMb.toFixed(0)})${mosaic}${data} MB`)
      }
    }
  } finally {
    client.close()
    await node.stop()
  }
}

const ratios: BenchRatio[] = []
for (const load of LOADS) {
  const workload = `${load * 100}%`
  const peak = (variant: string) => rows.find((r) => r.workload === workload && r.variant === variant && r.metric === 'peak_rss_mb')?.value
  const ours = peak('sequencer')
  const theirs = peak('anvil')
  if (ours !== undefined && theirs !== undefined) ratios.push({ workload, name: 'peak RSS sequencer/anvil', value: ours / theirs })
  const anon = (variant: string) => rows.find((r) => r.workload === workload && r.variant === variant && r.metric === 'peak_rss_anon_mb')?.value
  const oursAnon = anon('sequencer')
  const theirsAnon = anon('anvil')
  if (oursAnon !== undefined && theirsAnon !== undefined) ratios.push({ workload, name: 'peak RssAnon sequencer/anvil', value: oursAnon / theirsAnon })
}
const report = createReport({ bench: 'soak', quick: args.quick, rows, ratios })
printReport(report, { tx_per_s: 'tx/s', offered_tx_per_s: 'offered tx/s', rss_mb_after_warmup: 'RSS MB after warm-up', rss_growth_pct: 'RSS growth %', peak_rss_mb: 'peak RSS MB', rss_anon_mb_after_warmup: 'RssAnon MB after warm-up', rss_anon_growth_pct: 'RssAnon growth %', peak_rss_anon_mb: 'peak RssAnon MB', heap_mb_after_warmup: 'heap MB after warm-up', heap_growth_pct: 'heap growth %', workers_heap_mb: 'workers heap MB', external_mb: 'external MB' })
writeReport(report, args.out)
const svg = join(dirname(args.out), 'soak-rss.svg')
plot(series, svg)
console.log(`RSS over time: ${svg}`)
if (problems.length > 0) console.log(`\nproblems:\n${problems.join('\n')}`)
process.exit(0)
