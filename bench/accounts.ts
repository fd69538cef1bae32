/**
 * `npm run bench:accounts [-- --quick]`: what a large state costs (BENCHMARKS.md, "Figures": memory).
 * Each size, and each part of it, runs in a child process of its own, so one measurement's heap
 * does not hide another's.
 *
 * - **Bytes per account held in memory** (V8 heap after a full GC, with the structure alive minus
 *   without it), at N accounts, for:
 *   - `flat-all` / `flat-budget`: the flat state (`FlatState`) after reading every account, with
 *     no limit, and within the default `STATE_CACHE_BYTES`;
 *   - `trie-all` / `trie-budget`: the trie nodes of a commitment worker (`SubtrieEngine`, `mpt`
 *     layout) after writing every account in blocks of 10,000, with no limit, and trimmed to the
 *     default `TRIE_CACHE_BYTES` after each block. The node store stands in for LMDB and is not
 *     counted (it is on disk, read through the memory map).
 *   The caches' own estimates (`estimate_bytes_per_account`) are printed beside the heap figures.
 * - **tx/s at N accounts**: a real node (`openNode`, sequencer mode, default budgets, LMDB in a
 *   temp dir) from a genesis of N accounts; 250 funded senders send blocks of 1,000 transfers, each
 *   to an existing account drawn uniformly from all N (cold reads, cold trie paths); each block is
 *   sealed as soon as its transactions are pooled; after 3 untimed warm-up blocks, the clock runs
 *   until the last root is durable. RssAnon (the process's heaps and buffers, not LMDB's mapped
 *   pages) at the end. Then a restart on the same data dir, in a fresh process: seconds until the
 *   node is open, and its RssAnon then. Ratio: tx/s at N / tx/s at 10,000 accounts (target ≥ 0.8
 *   at 1M).
 *
 * Sizes: 10k, 100k, 1M accounts (`--quick`: 10k and 100k, fewer blocks).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { accountUpdates, SubtrieEngine } from '../src/commitment/engine.ts'
import { layoutOf } from '../src/commitment/layout.ts'
import { defaults as defaultConfig, loadConfig } from '../src/config/config.ts'
import { keccak256 } from '../src/crypto/crypto.ts'
import { openNode } from '../src/node/node.ts'
import { FlatState } from '../src/state/flat-state.ts'
import { decodeAccountRecord, encodeAccountRecord } from '../src/storage/lmdb-store.ts'
import { type AccountRecord, createStateDelta } from '../src/state/types.ts'
import { createRandom } from '../src/utils/random.ts'
import { addressOf, type Hex, keyFromLabel, signEip1559, type SignedTx } from './e2e-client.ts'
import { createReport, type BenchRow, parseBenchArgs, printReport, type BenchRatio, writeReport } from './report.ts'

const CHAIN_ID = 901n
const SENDERS = 250
const BLOCK_TXS = 1_000
const WARMUP_BLOCKS = 3
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'

const accountAddress = (i: number): string => bytesToHex(keccak256(new Uint8Array(new Uint32Array([i, 0x5eed]).buffer)).subarray(12)).slice(2)

// ---------------------------------------------------------------------------------------------
// One size, in a child process: `--size N --blocks B`, printing its rows as JSON on the last line.

function heapAfterGc(gc: () => void): number {
  gc()
  gc()
  return getHeapStatistics().used_heap_size
}

/** Heap bytes per account of the structure `build` returns, alive minus dropped. */
function heapPerAccount(n: number, gc: () => void, build: () => { estimate: number; keep: unknown }): { heap: number; estimate: number } {
  const before = heapAfterGc(gc)
  let built: { estimate: number; keep: unknown } | undefined = build()
  const alive = heapAfterGc(gc)
  const estimate = built.estimate
  built = undefined
  const after = heapAfterGc(gc)
  return { heap: (alive - Math.max(before, after)) / n, estimate: estimate / n }
}

/** A record as LMDB decodes it (`decodeAccountRecord`: accounts without code share the empty code hash). */
function record(i: number): AccountRecord {
  return decodeAccountRecord(encodeAccountRecord({ nonce: BigInt(i % 7), balance: 10n ** 18n + BigInt(i), codeHash: KECCAK256_NULL }))
}

function memoryRows(n: number, gc: () => void): BenchRow[] {
  const rows: BenchRow[] = []
  const add = (variant: string, m: { heap: number; estimate: number }) => {
    rows.push({ workload: `${n}`, variant, metric: 'bytes_per_account', value: m.heap })
    rows.push({ workload: `${n}`, variant, metric: 'estimate_bytes_per_account', value: m.estimate })
  }
  // As from LMDB: every read decodes a new record, and the key is a string made for the read.
  const stored = (address: string) => {
    const i = index.get(address)
    return i === undefined ? undefined : record(i)
  }
  const index = new Map(Array.from({ length: n }, (_, i) => [accountAddress(i), i]))
  for (const [variant, budget] of [['flat-all', undefined], ['flat-budget', defaultConfig.stateCacheBytes]] as const) {
    add(variant, heapPerAccount(n, gc, () => {
      const state = new FlatState({ readAccount: stored, readStorage: () => undefined, readCode: () => undefined }, { budget })
      for (let i = 0; i < n; i++) state.getAccount(accountAddress(i))
      return { estimate: state.memory().bytes, keep: state }
    }))
  }
  index.clear()
  const addresses = Array.from({ length: n }, (_, i) => accountAddress(i))
  const layout = layoutOf('mpt', defaultConfig.shardNibbles)
  for (const [variant, budget] of [['trie-all', undefined], ['trie-budget', defaultConfig.trieCacheBytes]] as const) {
    const store = new Map<string, Uint8Array>()
    add(variant, heapPerAccount(n, gc, () => {
      const engine = new SubtrieEngine(layout.splitNibbles, new Map(), { loadNode: (hash) => store.get(bytesToHex(hash)) }, false)
      let estimate = 0
      for (let from = 0; from < n; from += 10_000) {
        const delta = createStateDelta()
        for (let i = from; i < Math.min(n, from + 10_000); i++) delta.accounts.set(addresses[i]!, record(i))
        // A copy, as LMDB keeps one: the engine alone owns its nodes' encodings.
        engine.apply(accountUpdates(delta), (hash, enc) => store.set(bytesToHex(hash), enc.slice()))
        estimate = engine.trim(budget ?? Number.MAX_SAFE_INTEGER).bytes
      }
      return { estimate, keep: engine }
    }))
    store.clear()
  }
  return rows
}

/** Resident anonymous memory of this process: the heaps and buffers, not LMDB's mapped file pages. */
function rssAnonBytes(): number {
  return Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024
}

/** The node of `dir` (its genesis file and data dir): sequencer mode, default budgets, blocks sealed on demand. */
function nodeConfig(dir: string) {
  return loadConfig({
    argv: ['--data-dir', join(dir, 'data'), '--genesis-file', join(dir, 'genesis.json'), '--fee-recipient', FEE_RECIPIENT, '--block-time-ms', '3600000', '--miniblock-ms', '3600000'],
    env: {},
    cwd: dir,
    mode: 'sequencer',
  })
}

/** A restart on `dir`'s data dir, in a fresh process: seconds until the node is open, and its RssAnon then. */
function restartOf(dir: string): { seconds: number; rssAnon: number } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--restart', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (child.status !== 0) throw new Error(`the restart on ${dir} failed (exit ${child.status})`)
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { seconds: number; rssAnon: number }
}

async function throughputRows(n: number, blocks: number): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-accounts-'))
  try {
    const senders = Array.from({ length: SENDERS }, (_, i) => keyFromLabel(`mosaic-accounts/sender/${i}`))
    const alloc: Record<string, { balance: string }> = {}
    for (let i = 0; i < n; i++) alloc[`0x${accountAddress(i)}`] = { balance: '0x1' }
    for (const key of senders) alloc[addressOf(key)] = { balance: `0x${(10n ** 24n).toString(16)}` }
    writeFileSync(join(dir, 'genesis.json'), JSON.stringify({ config: { chainId: Number(CHAIN_ID) }, alloc }))
    const config = nodeConfig(dir)
    let started = performance.now()
    const node = await openNode(config)
    await node.commitment.flush()
    const startupS = (performance.now() - started) / 1000
    const rssAtStart = rssAnonBytes()
    const random = createRandom(n)
    const plan: SignedTx[][] = []
    for (let b = 0; b < WARMUP_BLOCKS + blocks; b++) {
      plan.push(
        Array.from({ length: BLOCK_TXS }, (_, j) => {
          const s = j % SENDERS
          const to = `0x${accountAddress(random.int(n))}` as Hex
          return signEip1559({ chainId: CHAIN_ID, nonce: BigInt(b * (BLOCK_TXS / SENDERS) + Math.floor(j / SENDERS)), maxPriorityFeePerGas: 1n, maxFeePerGas: 10n ** 10n, gas: 21_000n, to, value: 1n, data: new Uint8Array() }, senders[s]!)
        }),
      )
    }
    node.sequencer.start()
    // Warm-up (untimed): the first blocks compile the hot paths.
    for (const txs of plan.splice(0, WARMUP_BLOCKS)) {
      for (const tx of txs) await node.mempool.add(Buffer.from(tx.raw.slice(2), 'hex'))
      await node.sequencer.seal()
    }
    await node.commitment.flush()
    started = performance.now()
    let included = 0
    for (const txs of plan) {
      for (const tx of txs) await node.mempool.add(Buffer.from(tx.raw.slice(2), 'hex'))
      const block = await node.sequencer.seal()
      included += block?.block.transactions.length ?? 0
    }
    await node.commitment.flush()
    const seconds = (performance.now() - started) / 1000
    const rss = rssAnonBytes()
    await node.close()
    const restart = restartOf(dir)
    console.log(
      `  ${n} accounts: started in ${startupS.toFixed(1)} s (RssAnon ${(rssAtStart / 2 ** 20).toFixed(0)} MiB); ${included} txs in ${seconds.toFixed(2)} s; RssAnon ${(rss / 2 ** 20).toFixed(0)} MiB; restarted in ${restart.seconds.toFixed(1)} s (RssAnon ${(restart.rssAnon / 2 ** 20).toFixed(0)} MiB)`,
    )
    if (included !== blocks * BLOCK_TXS) throw new Error(`only ${included} of ${blocks * BLOCK_TXS} transactions were included`)
    return [
      { workload: `${n}`, variant: 'node', metric: 'tx_per_s', value: included / seconds },
      { workload: `${n}`, variant: 'node', metric: 'startup_s', value: startupS },
      { workload: `${n}`, variant: 'node', metric: 'rss_anon_start_mb', value: rssAtStart / 2 ** 20 },
      { workload: `${n}`, variant: 'node', metric: 'rss_anon_mb', value: rss / 2 ** 20 },
      { workload: `${n}`, variant: 'node', metric: 'restart_s', value: restart.seconds },
      { workload: `${n}`, variant: 'node', metric: 'rss_anon_restart_mb', value: restart.rssAnon / 2 ** 20 },
    ]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const restartArg = process.argv.indexOf('--restart')
if (restartArg > 0) {
  const started = performance.now()
  const node = await openNode(nodeConfig(process.argv[restartArg + 1]!))
  const seconds = (performance.now() - started) / 1000
  const rssAnon = rssAnonBytes()
  await node.close()
  console.log(JSON.stringify({ seconds, rssAnon }))
  process.exit(0)
}

const sizeArg = process.argv.indexOf('--size')
if (sizeArg > 0) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const n = Number(process.argv[sizeArg + 1])
  const blocks = Number(process.argv[process.argv.indexOf('--blocks') + 1])
  const part = process.argv[process.argv.indexOf('--part') + 1]
  const rows = part === 'memory' ? memoryRows(n, gc) : await throughputRows(n, blocks)
  console.log(JSON.stringify(rows))
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// The run: one child per size.

const args = parseBenchArgs('accounts')
const sizes = args.quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000]
const blocks = args.quick ? 8 : 20
const rows: BenchRow[] = []
for (const n of sizes) {
  for (const part of ['memory', 'node']) {
    console.log(`${n} accounts, ${part}…`)
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=8192', fileURLToPath(import.meta.url), '--size', String(n), '--part', part, '--blocks', String(blocks)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    })
    const lines = child.stdout.trim().split('\n')
    for (const line of lines.slice(0, -1)) console.log(line)
    if (child.status !== 0) throw new Error(`the ${n}-account ${part} run failed (exit ${child.status})`)
    rows.push(...(JSON.parse(lines.at(-1)!) as BenchRow[]))
  }
}
const base = rows.find((r) => r.workload === String(sizes[0]) && r.metric === 'tx_per_s')!.value
const ratios: BenchRatio[] = rows
  .filter((r) => r.metric === 'tx_per_s' && r.workload !== String(sizes[0]))
  .map((r) => ({ workload: r.workload, name: `tx/s at ${r.workload} / at ${sizes[0]}`, value: r.value / base }))
const report = createReport({ bench: 'accounts', quick: args.quick, rows, ratios })
printReport(report, { bytes_per_account: 'heap B/account', estimate_bytes_per_account: 'estimated B/account', tx_per_s: 'tx/s', startup_s: 'startup s', rss_anon_start_mb: 'RssAnon MiB at start', rss_anon_mb: 'RssAnon MiB after load', restart_s: 'restart s', rss_anon_restart_mb: 'RssAnon MiB at restart' })
writeReport(report, args.out)
