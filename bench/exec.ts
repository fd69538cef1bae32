/**
 * `npm run bench:exec`: execution throughput of stock ethereumjs (`runTx` over its default
 * `MerkleStateManager` and pure-JS crypto) against mosaic's sequential executor (journaled flat
 * state, native crypto), on the `transfers` and `erc20` workloads, side by side in one run
 * (BENCHMARKS.md: "Baselines", "Fairness").
 *
 * Both variants get the same transactions (the stock copy is the same signed bytes under a
 * `Common` without custom crypto) and the same pre-state; senders are recovered before timing.
 * Each variant is warmed up with one untimed run, then timed RUNS times — interleaved, so that
 * noise on this shared machine hits both alike — each run on fresh pre-state; the median is
 * reported. Before reporting, the two variants must agree: every transaction succeeded in both,
 * the same gas, and the same final balances (ETH and token) of a sample of accounts.
 *
 * Flags: --quick (small size), --out <path>, --only stock|sequential (skips the cross-check),
 * --profile <dir> (a CPU profile of every timed run, see bench/profile-summary.ts). With --only
 * or --profile no JSON is written unless --out is given.
 */
import { createBlock, createBlockHeader, type Block, type BlockHeader } from '@ethereumjs/block'
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import type { MerkleStateManager } from '@ethereumjs/statemanager'
import type { FeeMarket1559Tx } from '@ethereumjs/tx'
import {
  Account,
  Address,
  bytesToBigInt,
  bytesToUnprefixedHex,
  equalsBytes,
  hexToBytes,
  KECCAK256_NULL,
} from '@ethereumjs/util'
import { createVM, runTx, type TxReceipt } from '@ethereumjs/vm'
import { createChainCommon } from '../src/chain/common.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { FlatState, type StateBackend } from '../src/state/flat-state.ts'
import {
  createReport,
  median,
  parseBenchArgs,
  printReport,
  ratiosOf,
  writeReport,
  type BenchRow,
} from './report.ts'
import { createSectionProfiler } from './profile.ts'
import {
  balanceSlot,
  copyTransaction,
  createRandom,
  createWorkload,
  type PreState,
  type Workload,
  type WorkloadName,
} from './workloads.ts'

const CHAIN_ID = 901
const HARDFORK = 'prague'
const SEED = 0x6d6f7361 // "mosa"
const BLOCK_SIZE = 200
const RUNS = 3
const SAMPLE_ACCOUNTS = 20
const GAS_LIMIT = 1_000_000_000n
const BASE_FEE = 7n
const FIRST_TIMESTAMP = 1_700_000_000n

const VARIANTS = ['stock', 'sequential'] as const
type VariantName = (typeof VARIANTS)[number]
const WORKLOADS: readonly WorkloadName[] = ['transfers', 'erc20']

const args = parseBenchArgs('exec')
const SIZES = args.quick ? { txCount: 1_000, accountCount: 2_000 } : { txCount: 10_000, accountCount: 100_000 }
const only = args.only
for (const name of only ?? []) {
  if (!(VARIANTS as readonly string[]).includes(name)) throw new Error(`--only: unknown variant ${name} (${VARIANTS.join(', ')})`)
}
const selected = VARIANTS.filter((v) => only === undefined || only.includes(v))
const profiler = args.profile === undefined ? undefined : await createSectionProfiler(args.profile)

/** What a run leaves behind, to compare the variants' final states. */
type FinalState = {
  balance(address: Address): Promise<bigint>
  storage(address: Address, slot: Uint8Array): Promise<bigint>
}

type RunResult = {
  seconds: number
  gasUsed: bigint
  /** Transactions with receipt status 1. */
  succeeded: number
  /** First few problems: failed receipts, rejected candidates. */
  problems: string[]
  state: FinalState
}

type Variant = { name: VariantName; run(): Promise<RunResult> }

function statusOf(receipt: TxReceipt): number | undefined {
  return 'status' in receipt ? receipt.status : undefined
}

function seconds(start: number): number {
  return (performance.now() - start) / 1000
}

function blockHeaderData(workload: Workload, index: number) {
  return {
    number: BigInt(index + 1),
    timestamp: FIRST_TIMESTAMP + BigInt(index) * 2n,
    gasLimit: GAS_LIMIT,
    baseFeePerGas: BASE_FEE,
    coinbase: workload.coinbase,
  }
}

// ---- stock: what a TypeScript developer would write first ----

async function putPreState(stateManager: MerkleStateManager, preState: PreState): Promise<void> {
  for (const [key, record] of preState.accounts) {
    const address = new Address(hexToBytes(`0x${key}`))
    await stateManager.putAccount(address, new Account(record.nonce, record.balance))
    if (!equalsBytes(record.codeHash, KECCAK256_NULL)) {
      const code = preState.code.get(bytesToUnprefixedHex(record.codeHash))
      if (code === undefined) throw new Error(`pre-state: code of ${key} missing`)
      await stateManager.putCode(address, code)
    }
    for (const [slot, value] of preState.storage.get(key) ?? []) {
      await stateManager.putStorage(address, hexToBytes(`0x${slot}`), value)
    }
  }
}

async function createStockVariant(workload: Workload, stockCommon: Common): Promise<Variant> {
  const started = performance.now()
  const blocks: { block: Block; transactions: FeeMarket1559Tx[] }[] = workload.blocks.map((txs, i) => ({
    block: createBlock({ header: blockHeaderData(workload, i) }, { common: stockCommon }),
    transactions: txs.map((tx) => copyTransaction(tx, stockCommon, true)),
  }))
  const vm = await createVM({ common: stockCommon })
  const stateManager = vm.stateManager as MerkleStateManager
  await putPreState(stateManager, workload.preState)
  const preStateRoot = await stateManager.getStateRoot()
  console.log(`  stock: pre-state into MerkleStateManager ${seconds(started).toFixed(1)} s`)
  const state: FinalState = {
    balance: async (address) => (await stateManager.getAccount(address))?.balance ?? 0n,
    storage: async (address, slot) => bytesToBigInt(await stateManager.getStorage(address, slot)),
  }
  return {
    name: 'stock',
    async run() {
      // Fresh pre-state: the trie database keeps every node, so the pre-state root still resolves.
      await stateManager.setStateRoot(preStateRoot)
      const receipts: TxReceipt[] = []
      let gasUsed = 0n
      const start = performance.now()
      for (const { block, transactions } of blocks) {
        let blockGasUsed = 0n
        for (const tx of transactions) {
          const result = await runTx(vm, { tx, block, blockGasUsed })
          blockGasUsed += result.totalGasSpent
          receipts.push(result.receipt)
        }
        gasUsed += blockGasUsed
      }
      const elapsed = seconds(start)
      const problems: string[] = []
      let succeeded = 0
      receipts.forEach((receipt, i) => {
        if (statusOf(receipt) === 1) succeeded++
        else if (problems.length < 5) problems.push(`tx ${i}: receipt status ${statusOf(receipt)}`)
      })
      return { seconds: elapsed, gasUsed, succeeded, problems, state }
    },
  }
}

// ---- sequential: mosaic's executor over flat state ----

function createPreStateBackend(preState: PreState): StateBackend {
  return {
    readAccount: (address) => preState.accounts.get(address),
    readStorage: (address, slot) => preState.storage.get(address)?.get(slot),
    readCode: (codeHash) => preState.code.get(codeHash),
  }
}

async function createSequentialVariant(workload: Workload, common: Common): Promise<Variant> {
  const headers: BlockHeader[] = workload.blocks.map((_, i) => createBlockHeader(blockHeaderData(workload, i), { common }))
  const executor = await createSequentialExecutor({ common })
  const backend = createPreStateBackend(workload.preState)
  return {
    name: 'sequential',
    async run() {
      const flatState = new FlatState(backend)
      const executions = []
      let gasUsed = 0n
      const start = performance.now()
      for (let i = 0; i < headers.length; i++) {
        const result = await executor.executeBlock({
          header: headers[i]!,
          transactions: workload.blocks[i]!,
          state: flatState,
          blockHash: () => undefined,
        })
        // As the sequencer does once the block is durable: the next block reads these changes.
        flatState.apply(result.delta)
        gasUsed += result.gasUsed
        executions.push(result)
      }
      const elapsed = seconds(start)
      const problems: string[] = []
      let succeeded = 0
      for (const execution of executions) {
        for (const { reason } of execution.rejected) if (problems.length < 5) problems.push(`rejected: ${reason}`)
        for (const { receipt } of execution.executed) {
          if (statusOf(receipt) === 1) succeeded++
          else if (problems.length < 5) problems.push(`receipt status ${statusOf(receipt)}`)
        }
      }
      const state: FinalState = {
        balance: async (address) => flatState.getAccount(bytesToUnprefixedHex(address.bytes))?.balance ?? 0n,
        storage: async (address, slot) =>
          bytesToBigInt(flatState.getStorage(bytesToUnprefixedHex(address.bytes), bytesToUnprefixedHex(slot))),
      }
      return { seconds: elapsed, gasUsed, succeeded, problems, state }
    },
  }
}

// ---- the benchmark ----

function checkRun(workload: Workload, variant: VariantName, result: RunResult): void {
  if (result.succeeded !== workload.txCount || result.problems.length > 0) {
    throw new Error(
      `${workload.name}/${variant}: ${result.succeeded} of ${workload.txCount} transactions succeeded; ${result.problems.join('; ')}`,
    )
  }
}

/** The correctness guard: both variants end in the same state (on a sample of accounts). */
async function crossCheck(workload: Workload, results: Map<VariantName, RunResult>): Promise<void> {
  const stock = results.get('stock')!
  const sequential = results.get('sequential')!
  const mismatches: string[] = []
  if (stock.gasUsed !== sequential.gasUsed) mismatches.push(`gas used: stock ${stock.gasUsed}, sequential ${sequential.gasUsed}`)
  const random = createRandom(workload.seed ^ 0x5eed)
  const sample = [workload.coinbase]
  for (let i = 0; i < SAMPLE_ACCOUNTS; i++) sample.push(workload.accounts[random.int(workload.accounts.length)]!.address)
  for (const address of sample) {
    const a = await stock.state.balance(address)
    const b = await sequential.state.balance(address)
    if (a !== b) mismatches.push(`balance of ${address}: stock ${a}, sequential ${b}`)
    if (workload.token !== undefined) {
      const slot = balanceSlot(address)
      const ta = await stock.state.storage(workload.token, slot)
      const tb = await sequential.state.storage(workload.token, slot)
      if (ta !== tb) mismatches.push(`token balance of ${address}: stock ${ta}, sequential ${tb}`)
    }
  }
  if (mismatches.length > 0) throw new Error(`${workload.name}: stock and sequential disagree:\n  ${mismatches.join('\n  ')}`)
  console.log(`  check: all ${workload.txCount} txs status 1 in both, same gas, ${sample.length} sampled balances agree`)
}

async function benchWorkload(name: WorkloadName, common: Common, stockCommon: Common): Promise<BenchRow[]> {
  console.log(`\n${name}: ${SIZES.txCount} txs in blocks of ${BLOCK_SIZE}, ${SIZES.accountCount} accounts`)
  let started = performance.now()
  const workload = createWorkload({ name, seed: SEED, blockSize: BLOCK_SIZE, common, ...SIZES })
  console.log(`  workload: generated and signed in ${seconds(started).toFixed(1)} s`)
  // Sender recovery belongs to the mempool, not to execution: recover (and cache) before timing.
  started = performance.now()
  for (const block of workload.blocks) for (const tx of block) tx.getSenderAddress()
  // The stock copies carry the recovered key over; check on a few that recovering it the stock
  // way (pure-JS secp256k1) gives the same sender.
  for (const tx of workload.blocks[0]!.slice(0, 4)) {
    const fresh = copyTransaction(tx, stockCommon, false)
    if (!fresh.getSenderAddress().equals(tx.getSenderAddress())) throw new Error('stock copy recovers another sender')
  }
  console.log(`  senders recovered in ${seconds(started).toFixed(1)} s`)

  const variants: Variant[] = []
  for (const v of selected) {
    variants.push(v === 'stock' ? await createStockVariant(workload, stockCommon) : await createSequentialVariant(workload, common))
  }
  for (const variant of variants) {
    started = performance.now()
    checkRun(workload, variant.name, await variant.run())
    console.log(`  warm-up ${variant.name}: ${seconds(started).toFixed(1)} s`)
  }
  const timings = new Map<VariantName, number[]>(variants.map((v) => [v.name, []]))
  const last = new Map<VariantName, RunResult>()
  let gasUsed = 0n
  for (let r = 0; r < RUNS; r++) {
    for (const variant of variants) {
      await profiler?.start()
      const result = await variant.run()
      const profilePath = await profiler?.stop(`exec-${name}-${variant.name}-run${r + 1}`)
      if (profilePath !== undefined) console.log(`  profile: ${profilePath}`)
      checkRun(workload, variant.name, result)
      timings.get(variant.name)!.push(result.seconds)
      last.set(variant.name, result)
      gasUsed = result.gasUsed
      console.log(`  run ${r + 1}/${RUNS} ${variant.name}: ${result.seconds.toFixed(3)} s`)
    }
  }
  if (last.size === VARIANTS.length) await crossCheck(workload, last)
  else console.log('  check: every tx status 1 (cross-variant check skipped: --only)')

  const rows: BenchRow[] = []
  for (const [variant, times] of timings) {
    const time = median(times)
    rows.push({ workload: name, variant, metric: 'tx_per_s', value: workload.txCount / time })
    rows.push({ workload: name, variant, metric: 'mgas_per_s', value: Number(gasUsed) / 1e6 / time })
  }
  return rows
}

const common = createChainCommon({ chainId: CHAIN_ID, hardfork: HARDFORK })
const stockCommon = createCustomCommon({ chainId: CHAIN_ID }, Mainnet, { hardfork: HARDFORK })
const startedAll = performance.now()
const rows: BenchRow[] = []
for (const name of WORKLOADS) rows.push(...(await benchWorkload(name, common, stockCommon)))

const report = createReport({ bench: 'exec', quick: args.quick, rows, ratios: ratiosOf(rows, 'tx_per_s', 'sequential', 'stock') })
printReport(report, { tx_per_s: 'tx/s', mgas_per_s: 'Mgas/s' })
console.log(
  `\nsizes: ${SIZES.txCount} txs per run, ${SIZES.accountCount} accounts, blocks of ${BLOCK_SIZE}; ` +
    `1 warm-up + ${RUNS} timed runs per variant (median); total ${seconds(startedAll).toFixed(0)} s`,
)
if (profiler !== undefined) console.log('(--profile: timings include the profiler\'s overhead)')
if ((only === undefined && profiler === undefined) || args.outGiven) writeReport(report, args.out)
else console.log('(--only/--profile: no JSON written; give --out to write one)')
