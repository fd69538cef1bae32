/**
 * `npm run bench:root [-- --quick]`: state-root computation, mosaic's commitment pipeline against
 * `@ethereumjs/mpt`, on the same account updates over the same pre-state.
 *
 * Workload `updates`: M accounts of pre-state (100,000; quick: 10,000), then blocks of K account
 * writes each (new balance and nonce of existing accounts, 10% new accounts) — what a block of
 * transfers writes. Every run writes new values, so no update is a no-op.
 *
 * Variants (metric: updated keys per second, root of every block computed):
 * - `ethereumjs-mpt`: `@ethereumjs/mpt` per-key `put` then `root()` per block, its default crypto,
 *   nodes in its in-memory MapDB (pre-loaded with the pre-state's nodes);
 * - `mpt-1`, `mpt-2`: mosaic's `mpt` commitment (the Ethereum root) on 1 and 2 worker threads;
 * - `sharded-1`, `sharded-2`: the `sharded` commitment (k = 3, 4096 shards) on 1 and 2 threads.
 * mosaic's variants store every new node in LMDB (a temp data dir) before a block counts as done.
 *
 * Then `lag`: the `transfers` workload of bench:exec executed by mosaic's sequential executor as
 * fast as it runs, each block's delta handed to the pipeline, block N waiting for the root of
 * block N − 2 as the sequencer does (STATE_ROOT_LAG=2): execution tx/s with and without the
 * pipeline, and the largest lag seen (blocks executed whose root was not computed yet).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBlockHeader } from '@ethereumjs/block'
import { createMPT, type MerklePatriciaTrie } from '@ethereumjs/mpt'
import { bytesToUnprefixedHex, KECCAK256_NULL, MapDB, unprefixedHexToBytes, ValueEncoding } from '@ethereumjs/util'
import { createChainCommon } from '../src/chain/common.ts'
import { decodeTransaction } from '../src/chain/transaction.ts'
import { encodeAccountLeaf, layoutOf, type Layout } from '../src/commitment/layout.ts'
import { CommitmentPipeline } from '../src/commitment/pipeline.ts'
import { computeStateRoot } from '../src/commitment/root.ts'
import { EMPTY_ROOT } from '../src/commitment/trie.ts'
import { keccak256 } from '../src/crypto/crypto.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { FlatState } from '../src/state/flat-state.ts'
import { createStateDelta, type StateDelta } from '../src/state/types.ts'
import { LmdbStore } from '../src/storage/lmdb-store.ts'
import { createRandom } from '../src/utils/random.ts'
import { checkNames, createReport, type BenchRow, median, parseBenchArgs, printReport, ratiosOf, writeReport } from './report.ts'
import { COINBASE, createWorkload } from './workloads.ts'

const VARIANTS = ['ethereumjs-mpt', 'mpt-1', 'mpt-2', 'sharded-1', 'sharded-2'] as const
type Variant = (typeof VARIANTS)[number]
const args = parseBenchArgs('root')
checkNames('--only', args.only, [...VARIANTS, 'lag'])
const sizes = args.quick ? { accounts: 10_000, keysPerBlock: 500, blocks: 8, stockBlocks: 4 } : { accounts: 100_000, keysPerBlock: 1_000, blocks: 20, stockBlocks: 5 }
const RUNS = 3
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const wanted = (name: string) => args.only === undefined || args.only.includes(name)

// ---- the `updates` workload ----

const random = createRandom(4)
const addresses: string[] = []
for (let i = 0; i < sizes.accounts; i++) addresses.push(bytesToUnprefixedHex(keccak256(Uint8Array.of(i >> 16, (i >> 8) & 255, i & 255, 7)).subarray(12)))
const preState = createStateDelta()
for (const [i, address] of addresses.entries()) preState.accounts.set(address, { nonce: BigInt(i % 7), balance: 10n ** 21n + BigInt(i), codeHash: KECCAK256_NULL })

/** The blocks of run `run` (run 0 is the warm-up): K writes each, values unique to the run. */
function updateBlocks(run: number, count: number): StateDelta[] {
  const blocks: StateDelta[] = []
  for (let b = 0; b < count; b++) {
    const delta = createStateDelta()
    while (delta.accounts.size < sizes.keysPerBlock) {
      const fresh = random.chance(0.1)
      const address = fresh ? bytesToUnprefixedHex(random.bytes(20)) : addresses[random.int(addresses.length)]!
      delta.accounts.set(address, { nonce: BigInt(run * 1000 + b + 1), balance: 10n ** 18n * BigInt(run + 1) + BigInt(random.int(1_000_000_000)), codeHash: KECCAK256_NULL })
    }
    blocks.push(delta)
  }
  return blocks
}
const runs = Array.from({ length: RUNS + 1 }, (_, run) => updateBlocks(run, sizes.blocks))
const keysPerRun = sizes.keysPerBlock * sizes.blocks
console.log(`bench:root — ${sizes.accounts} accounts of pre-state, ${sizes.blocks} blocks × ${sizes.keysPerBlock} updated accounts per run, median of ${RUNS} warmed runs, ${availableParallelism()} cpus`)

const rows: BenchRow[] = []
const record = (variant: string, metric: string, value: number) => rows.push({ workload: 'updates', variant, metric, value })

// ---- ethereumjs-mpt ----

async function stockTrie(): Promise<MerklePatriciaTrie> {
  // The pre-state's nodes, computed once by mosaic and loaded into the MapDB ethereumjs uses by
  // default (putting 100,000 accounts one by one would take a minute); the root is the same.
  const db = new MapDB<string, Uint8Array>()
  const root = computeStateRoot(preState, layoutOf('mpt', 1), (hash, enc) => void db.put(bytesToUnprefixedHex(hash), enc))
  const trie = await createMPT({ db, root, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes })
  if (bytesToUnprefixedHex(trie.root()) !== bytesToUnprefixedHex(root)) throw new Error('ethereumjs trie root differs')
  return trie
}

async function runStock(): Promise<void> {
  const trie = await stockTrie()
  const timings: number[] = []
  for (const [run, blocks] of runs.entries()) {
    const started = performance.now()
    let keys = 0
    for (const delta of blocks.slice(0, sizes.stockBlocks)) {
      for (const [address, record] of delta.accounts) {
        await trie.put(unprefixedHexToBytes(address), encodeAccountLeaf({ ...record!, storageRoot: EMPTY_ROOT }))
        keys++
      }
      trie.root()
    }
    if (run > 0) timings.push(keys / ((performance.now() - started) / 1000))
  }
  record('ethereumjs-mpt', 'keys_per_s', median(timings))
}

// ---- mosaic's pipeline ----

function layoutFor(variant: Variant): Layout {
  return variant.startsWith('mpt') ? layoutOf('mpt', 1) : layoutOf('sharded', 3)
}

async function runPipeline(variant: Variant): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-bench-root-'))
  const store = LmdbStore.open(dir)
  const layout = layoutFor(variant)
  const pipeline = await CommitmentPipeline.open({ layout, threads: Number(variant.split('-')[1]), store, dataDir: dir })
  try {
    let number = 0n
    const submit = (delta: StateDelta) => {
      pipeline.submit(number, delta)
      pipeline.markDurable(number)
      number++
    }
    submit(preState)
    await pipeline.flush()
    const timings: number[] = []
    for (const [run, blocks] of runs.entries()) {
      const started = performance.now()
      for (const delta of blocks) submit(delta)
      await pipeline.flush()
      if (run > 0) timings.push(keysPerRun / ((performance.now() - started) / 1000))
    }
    record(variant, 'keys_per_s', median(timings))
  } finally {
    await pipeline.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---- lag under execution load ----

async function runLag(): Promise<void> {
  const workload = createWorkload({ name: 'transfers', seed: 11, accountCount: args.quick ? 2_000 : 100_000, txCount: args.quick ? 2_000 : 10_000, blockSize: 200, common })
  const blocks = workload.blocks.map((block) => block.map((tx) => decodeTransaction(tx.serialize(), common)))
  const pre = createStateDelta()
  for (const [address, record] of workload.preState.accounts) pre.accounts.set(address, record)
  const executor = await createSequentialExecutor({ common })
  const headerOf = (n: number) =>
    createBlockHeader({ number: BigInt(n), gasLimit: 1_000_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n + BigInt(n), coinbase: COINBASE }, { common, setHardfork: false })

  /** Execute every block in order; with a pipeline, hand it each delta and wait for root N−2 first. */
  const execute = async (pipeline: CommitmentPipeline | undefined) => {
    const state = new FlatState({ readAccount: (a) => pre.accounts.get(a) ?? undefined, readStorage: () => undefined, readCode: () => undefined })
    pipeline?.submit(0n, pre)
    await pipeline?.rootOf(0n)
    let maxLag = 0
    const started = performance.now()
    for (const [i, transactions] of blocks.entries()) {
      const n = BigInt(i + 1)
      const result = await executor.executeBlock({ header: headerOf(i + 1), transactions, state, blockHash: () => undefined })
      state.apply(result.delta)
      if (pipeline !== undefined) {
        pipeline.submit(n, result.delta)
        maxLag = Math.max(maxLag, Number(n - (pipeline.stats().computed ?? 0n)))
        await pipeline.rootOf(n - 2n < 0n ? 0n : n - 2n)
      }
    }
    await pipeline?.rootOf(BigInt(blocks.length))
    return { txPerSecond: workload.txCount / ((performance.now() - started) / 1000), maxLag }
  }
  await execute(undefined) // warm-up
  record('execution-only', 'exec_tx_per_s', (await execute(undefined)).txPerSecond)
  for (const variant of ['mpt-2', 'sharded-2'] as const) {
    const lagRuns: { txPerSecond: number; maxLag: number }[] = []
    for (let run = 0; run < 2; run++) {
      const pipeline = await CommitmentPipeline.open({ layout: layoutFor(variant), threads: 2 })
      lagRuns.push(await execute(pipeline))
      await pipeline.close()
    }
    const last = lagRuns[lagRuns.length - 1]!
    record(`${variant}+exec`, 'exec_tx_per_s', last.txPerSecond)
    record(`${variant}+exec`, 'max_lag_blocks', Math.max(...lagRuns.map((r) => r.maxLag)))
  }
}

if (wanted('ethereumjs-mpt')) {
  await runStock()
  console.log('ethereumjs-mpt: done')
}
for (const variant of VARIANTS.slice(1)) {
  if (!wanted(variant)) continue
  await runPipeline(variant)
  console.log(`${variant}: done`)
}
if (wanted('lag')) {
  await runLag()
  console.log('lag: done')
}

const ratios = [
  ...ratiosOf(rows, 'keys_per_s', 'sharded-2', 'ethereumjs-mpt'),
  ...ratiosOf(rows, 'keys_per_s', 'sharded-1', 'ethereumjs-mpt'),
  ...ratiosOf(rows, 'keys_per_s', 'mpt-2', 'ethereumjs-mpt'),
  ...ratiosOf(rows, 'keys_per_s', 'mpt-1', 'ethereumjs-mpt'),
  ...ratiosOf(rows, 'keys_per_s', 'sharded-2', 'sharded-1'),
  ...ratiosOf(rows, 'keys_per_s', 'mpt-2', 'mpt-1'),
  ...ratiosOf(rows, 'exec_tx_per_s', 'sharded-2+exec', 'execution-only'),
  ...ratiosOf(rows, 'exec_tx_per_s', 'mpt-2+exec', 'execution-only'),
]
const report = createReport({ bench: 'root', quick: args.quick, rows, ratios })
printReport(report, { keys_per_s: 'keys/s', exec_tx_per_s: 'exec tx/s', max_lag_blocks: 'max lag (blocks)' })
writeReport(report, args.out)
