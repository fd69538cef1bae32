/**
 * The variants of `bench:exec`, each a `run()` that executes the whole workload on fresh
 * pre-state and reports its time, gas and final state:
 *
 * - `stock`: what a TypeScript developer would write first — `@ethereumjs/vm`'s `runTx` in block
 *   order over the default `MerkleStateManager`, with a `Common` without custom crypto.
 * - `sequential`: mosaic's sequential executor over `FlatState`, applying each block's delta
 *   before the next block, as the sequencer does.
 * - `parallel-1`, `parallel-2`: mosaic's parallel executor with 1 and 2 worker threads, over the
 *   same `FlatState`, its workers reading the pre-state from a snapshot; `parallel-1+main` and
 *   `parallel-2+main` with the main thread running a chunk of every round itself.
 */
import { createBlock, createBlockHeader, type Block, type BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import type { FeeMarket1559Tx, TypedTransaction } from '@ethereumjs/tx'
import {
  Account,
  Address,
  bytesToBigInt,
  bytesToUnprefixedHex,
  equalsBytes,
  hexToBytes,
  KECCAK256_NULL,
  MapDB,
  ValueEncoding,
} from '@ethereumjs/util'
import { createVM, runTx, type TxReceipt } from '@ethereumjs/vm'
import { readdirSync, readFileSync } from 'node:fs'
import { createParallelExecutor, type ParallelExecutor } from '../src/execution/parallel/parallel-executor.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { decodeTransaction } from '../src/chain/transaction.ts'
import { FlatState, type StateBackend } from '../src/state/flat-state.ts'
import type { AccountRecord, StateDelta } from '../src/state/types.ts'
import { parseVariant, type BlockStats, type StatusCounts, type VariantName } from './exec-protocol.ts'
import { copyTransaction, type PreState, type Workload } from './workloads.ts'

const GAS_LIMIT = 1_000_000_000n
const BASE_FEE = 7n
const FIRST_TIMESTAMP = 1_700_000_000n
/**
 * Warm-up blocks are numbered far past the measured ones: a parallel worker caches the block it
 * executes by number and parent hash, so a warm-up block must not share a number with a measured one.
 */
const WARMUP_FIRST_NUMBER = 1_000_000

/** Reads of a run's final state, for the cross-check between variants. */
export type FinalState = {
  balance(address: Address): Promise<bigint>
  storage(address: Address, slot: Uint8Array): Promise<bigint>
}

export type RunResult = {
  /** Wall time of the measured blocks (set-up and warm-up excluded). */
  readonly seconds: number
  readonly gasUsed: bigint
  readonly state: FinalState
  readonly statuses: StatusCounts
  /** Did every block keep its transactions in the order given? (The parallel executor may reorder.) */
  readonly blockOrder: boolean
  /** Per measured block (parallel variants only). */
  readonly blocks: readonly BlockStats[] | undefined
  /** Untimed work before the timer: executor, worker threads, warm-up blocks (parallel variants only). */
  readonly preparationSeconds: number | undefined
  /** CPU time of the thread that ran the blocks, where /proc gives it (parallel variants only). */
  readonly mainCpuSeconds?: number | undefined
  /** CPU time of the executor's worker threads together, where /proc gives it (parallel variants only). */
  readonly workerCpuSeconds?: number | undefined
  /** An untimed correctness check of this run beyond the cross-check; says what it verified. */
  verify(): Promise<string | undefined>
}

export type Variant = {
  readonly name: VariantName
  /**
   * Executes every block on fresh pre-state; throws if a transaction was rejected, or one other
   * than a pool swap did not succeed.
   */
  run(): Promise<RunResult>
}

/** Header fields of block `index` (0-based) of the workload; the same for every variant. */
export function blockHeaderData(workload: Workload, index: number) {
  return {
    number: BigInt(index + 1),
    timestamp: FIRST_TIMESTAMP + BigInt(index) * 2n,
    gasLimit: GAS_LIMIT,
    baseFeePerGas: BASE_FEE,
    coinbase: workload.coinbase,
  }
}

/** Header fields of warm-up block `index`: its own number range and fee recipient. */
function warmupHeaderData(workload: Workload, index: number) {
  return {
    number: BigInt(WARMUP_FIRST_NUMBER + index),
    timestamp: FIRST_TIMESTAMP + BigInt(WARMUP_FIRST_NUMBER + index) * 2n,
    gasLimit: GAS_LIMIT,
    baseFeePerGas: BASE_FEE,
    coinbase: workload.warmup.coinbase,
  }
}

function statusOf(receipt: TxReceipt): number | undefined {
  return 'status' in receipt ? receipt.status : undefined
}

/**
 * Counts receipt statuses; throws with the first few problems if any transaction was rejected,
 * or one that may not revert (anything but a pool swap, whose guards may trip) did not succeed.
 */
function checkReceipts(
  label: string,
  workload: Workload,
  executed: readonly { tx: TypedTransaction; receipt: TxReceipt }[],
  rejected: readonly string[],
): StatusCounts {
  const problems = rejected.slice(0, 5).map((reason) => `rejected: ${reason}`)
  const pool = workload.pool?.address
  let succeeded = 0
  let reverted = 0
  executed.forEach(({ tx, receipt }, i) => {
    const status = statusOf(receipt)
    if (status === 1) succeeded++
    else {
      reverted++
      const mayRevert = pool !== undefined && tx.to !== undefined && tx.to.equals(pool)
      if (!mayRevert && problems.length < 5) problems.push(`tx ${i}: receipt status ${status}`)
    }
  })
  if (succeeded + reverted !== workload.txCount || problems.length > 0) {
    throw new Error(
      `${label}: ${succeeded} of ${workload.txCount} transactions succeeded, ${reverted} reverted; ${problems.join('; ')}`,
    )
  }
  return { succeeded, reverted }
}

// ---- stock ----

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

/**
 * The trie `createVM`'s default `MerkleStateManager` builds (`useKeyHashing`, the common's
 * keccak, bytes values), over the given node database.
 */
function stockTrie(common: Common, nodes: Map<string, Uint8Array>, options: { root?: Uint8Array; prune?: boolean }) {
  return new MerklePatriciaTrie({
    useKeyHashing: true,
    common,
    db: new MapDB<string, Uint8Array>(nodes),
    valueEncoding: ValueEncoding.Bytes,
    useNodePruning: options.prune ?? false,
    ...(options.root === undefined ? {} : { root: options.root }),
  })
}

/**
 * Pre-state goes in once through `putAccount`/`putCode`/`putStorage`, into a trie that prunes
 * replaced nodes, so its database holds only the pre-state's live nodes (the unpruned database
 * of 100,000 one-by-one inserts also holds every intermediate node: gigabytes). Each run then
 * starts from a fresh copy of that database — fresh pre-state, without the nodes earlier runs
 * wrote — under a stock `MerkleStateManager` and `createVM` with the stock `common`.
 *
 * The untimed set-up hashes with `setupCommon`'s (mosaic's native) keccak: the nodes are the
 * same bytes under the same hashes, built minutes faster at 100,000 accounts.
 */
export async function createStockVariant(
  workload: Workload,
  common: Common,
  setupCommon: Common,
  onSetup: (label: string, seconds: number) => void,
): Promise<Variant> {
  let started = performance.now()
  const blocks: { block: Block; transactions: FeeMarket1559Tx[] }[] = workload.blocks.map((txs, i) => ({
    block: createBlock({ header: blockHeaderData(workload, i) }, { common }),
    transactions: txs.map((tx) => copyTransaction(tx, common, true)),
  }))
  onSetup('stock: blocks and transaction copies', (performance.now() - started) / 1000)

  started = performance.now()
  const preStateNodes = new Map<string, Uint8Array>()
  const setupStateManager = new MerkleStateManager({
    common: setupCommon,
    trie: stockTrie(setupCommon, preStateNodes, { prune: true }),
  })
  await putPreState(setupStateManager, workload.preState)
  const preStateRoot = await setupStateManager.getStateRoot()
  onSetup(`stock: pre-state into MerkleStateManager (${preStateNodes.size} trie nodes)`, (performance.now() - started) / 1000)

  return {
    name: 'stock',
    async run() {
      const trie = stockTrie(common, new Map(preStateNodes), { root: preStateRoot })
      const stateManager = new MerkleStateManager({ common, trie })
      const vm = await createVM({ common, stateManager })
      const executed: { tx: TypedTransaction; receipt: TxReceipt }[] = []
      let gasUsed = 0n
      const start = performance.now()
      for (const { block, transactions } of blocks) {
        let blockGasUsed = 0n
        for (const tx of transactions) {
          const result = await runTx(vm, { tx, block, blockGasUsed })
          blockGasUsed += result.totalGasSpent
          executed.push({ tx, receipt: result.receipt })
        }
        gasUsed += blockGasUsed
      }
      const seconds = (performance.now() - start) / 1000
      const statuses = checkReceipts('stock', workload, executed, [])
      const state: FinalState = {
        balance: async (address) => (await stateManager.getAccount(address))?.balance ?? 0n,
        storage: async (address, slot) => bytesToBigInt(await stateManager.getStorage(address, slot)),
      }
      return {
        seconds,
        gasUsed,
        state,
        statuses,
        blockOrder: true,
        blocks: undefined,
        preparationSeconds: undefined,
        verify: async () => undefined,
      }
    },
  }
}

// ---- sequential ----

/** The pre-state as the `StateBackend` `FlatState` falls back to (LMDB in the sequencer). */
function createPreStateBackend(preState: PreState): StateBackend {
  return {
    readAccount: (address) => preState.accounts.get(address),
    readStorage: (address, slot) => preState.storage.get(address)?.get(slot),
    readCode: (codeHash) => preState.code.get(codeHash),
  }
}

function flatFinalState(flatState: FlatState): FinalState {
  return {
    balance: async (address) => flatState.getAccount(bytesToUnprefixedHex(address.bytes))?.balance ?? 0n,
    storage: async (address, slot) => bytesToBigInt(flatState.getStorage(bytesToUnprefixedHex(address.bytes), bytesToUnprefixedHex(slot))),
  }
}

/** Transactions as the sequencer hands them to an executor: sender recovered once and pinned on the tx. */
function decodeBlocks(blocks: Workload['blocks'], common: Common): TypedTransaction[][] {
  return blocks.map((block) => block.map((tx) => decodeTransaction(tx.serialize(), common)))
}

/** Did the executor keep every block's transactions in the order given? */
function sameOrder(given: readonly (readonly TypedTransaction[])[], executed: readonly (readonly TypedTransaction[])[]): boolean {
  return given.every((block, b) => {
    const order = executed[b]
    return order !== undefined && order.length === block.length && block.every((tx, i) => order[i] === tx)
  })
}

/** Blocks to execute, with their headers. */
type BlockRun = { readonly headers: readonly BlockHeader[]; readonly blocks: readonly (readonly TypedTransaction[])[] }

/**
 * Executes `blocks` with mosaic's sequential executor on fresh pre-state, each block's delta
 * applied before the next, as the sequencer does. Untimed callers use it to replay an order.
 * `warmup` blocks run first, on the same executor and state, before the timer starts: as the
 * parallel variants warm their new executor (their fallback is this executor), so the baseline
 * is not the only one timed cold.
 */
async function executeSequentially(workload: Workload, common: Common, { headers, blocks }: BlockRun, warmup?: BlockRun) {
  const executor = await createSequentialExecutor({ common })
  const flatState = new FlatState(createPreStateBackend(workload.preState))
  const execute = async (header: BlockHeader, transactions: readonly TypedTransaction[]) => {
    const result = await executor.executeBlock({ header, transactions, state: flatState, blockHash: () => undefined })
    // As the sequencer does once the block is durable: the next block reads these changes.
    flatState.apply(result.delta)
    return result
  }
  for (let i = 0; i < (warmup?.headers.length ?? 0); i++) {
    const result = await execute(warmup!.headers[i]!, warmup!.blocks[i]!)
    if (result.rejected.length > 0) throw new Error(`sequential: ${result.rejected.length} warm-up transactions rejected`)
  }
  const executed: { tx: TypedTransaction; receipt: TxReceipt }[] = []
  const rejected: string[] = []
  const deltas: StateDelta[] = []
  let gasUsed = 0n
  const start = performance.now()
  for (let i = 0; i < headers.length; i++) {
    const result = await execute(headers[i]!, blocks[i]!)
    deltas.push(result.delta)
    gasUsed += result.gasUsed
    for (const { tx, receipt } of result.executed) executed.push({ tx, receipt })
    for (const { reason } of result.rejected) rejected.push(reason)
  }
  const seconds = (performance.now() - start) / 1000
  await executor.close()
  return { seconds, gasUsed, flatState, deltas, executed, rejected }
}

export async function createSequentialVariant(workload: Workload, common: Common): Promise<Variant> {
  const blocks = decodeBlocks(workload.blocks, common)
  const headers: BlockHeader[] = workload.blocks.map((_, i) => createBlockHeader(blockHeaderData(workload, i), { common }))
  const warmup: BlockRun = {
    headers: workload.warmup.blocks.map((_, i) => createBlockHeader(warmupHeaderData(workload, i), { common })),
    blocks: decodeBlocks(workload.warmup.blocks, common),
  }
  return {
    name: 'sequential',
    async run() {
      const { seconds, gasUsed, flatState, executed, rejected } = await executeSequentially(workload, common, { headers, blocks }, warmup)
      const statuses = checkReceipts('sequential', workload, executed, rejected)
      return {
        seconds,
        gasUsed,
        state: flatFinalState(flatState),
        statuses,
        blockOrder: true,
        blocks: undefined,
        preparationSeconds: undefined,
        verify: async () => undefined,
      }
    },
  }
}

// ---- parallel ----

/** The pre-state as a `StateDelta`: what the parallel executor's workers start from (a snapshot). */
function preStateDelta(preState: PreState): StateDelta {
  return {
    accounts: new Map<string, AccountRecord | null>(preState.accounts),
    storage: preState.storage,
    storageCleared: new Set(),
    code: preState.code,
  }
}

function sameAccount(a: AccountRecord | undefined, b: AccountRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.nonce === b.nonce && a.balance === b.balance && equalsBytes(a.codeHash, b.codeHash)
}

/**
 * Every account and slot either run wrote must hold the same value in both final states.
 * Returns the number of keys compared; throws with the first few differences.
 */
function compareTouched(label: string, a: FlatState, b: FlatState, touched: readonly StateDelta[]): number {
  const accounts = new Set<string>()
  const slots = new Map<string, Set<string>>()
  for (const delta of touched) {
    for (const address of delta.accounts.keys()) accounts.add(address)
    for (const [address, written] of delta.storage) {
      let set = slots.get(address)
      if (set === undefined) slots.set(address, (set = new Set()))
      for (const slot of written.keys()) set.add(slot)
    }
    if (delta.storageCleared.size > 0) throw new Error(`${label}: a run cleared storage; this check does not cover that`)
  }
  const differences: string[] = []
  for (const address of accounts) {
    const [x, y] = [a.getAccount(address), b.getAccount(address)]
    if (!sameAccount(x, y) && differences.length < 5) differences.push(`account ${address}: ${x?.balance}/${x?.nonce} vs ${y?.balance}/${y?.nonce}`)
  }
  let keys = accounts.size
  for (const [address, set] of slots) {
    keys += set.size
    for (const slot of set) {
      const [x, y] = [a.getStorage(address, slot), b.getStorage(address, slot)]
      if (!equalsBytes(x, y) && differences.length < 5) differences.push(`slot ${slot} of ${address}: ${bytesToBigInt(x)} vs ${bytesToBigInt(y)}`)
    }
  }
  if (differences.length > 0) throw new Error(`${label}:\n  ${differences.join('\n  ')}`)
  return keys
}

/**
 * CPU ms of the calling thread so far, to the nanosecond (Linux: the first field of
 * /proc/thread-self/schedstat, the time it ran), or undefined where /proc does not give it.
 */
function threadCpuMs(): number | undefined {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6
  } catch {
    return undefined
  }
}

/** The name the parallel executor's worker threads give themselves (`worker-entry.mjs`). */
const EXECUTOR_THREAD_NAME = 'mosaic-exec'

/**
 * CPU ms so far of this process's threads named `name` together (the executor's workers name
 * theirs `mosaic-exec`), from each one's /proc/self/task/TID/schedstat; undefined where /proc does
 * not give it. A thread that has exited is no longer counted, so read it while they run.
 */
function namedThreadsCpuMs(name: string): number | undefined {
  try {
    let total = 0
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue
        total += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
      } catch {
        // The thread exited between the listing and the read.
      }
    }
    return total
  } catch {
    return undefined
  }
}

/**
 * mosaic's parallel executor. Its workers keep a log of everything the executor committed, so
 * every run gets a new executor (and new worker threads), made before the timer starts. Before
 * the timer it also executes the workload's warm-up blocks, which touch only keys the measured
 * blocks never read (their own accounts, token, pool and fee recipient): the worker threads are
 * then loaded and warm (BENCHMARKS.md, "Fairness": unwarmed workers reached 1.1–1.35× instead of
 * ~2×), while the measured blocks read exactly the pre-state, and the executor has learned
 * nothing about their contracts.
 *
 * The executor may commit a block's transactions in another order than given; the run's
 * `verify()` replays the committed order on the sequential executor and requires the same final
 * value for every key either wrote.
 */
export async function createParallelVariant(workload: Workload, common: Common, name: VariantName): Promise<Variant> {
  const spec = parseVariant(name)
  if (spec?.kind !== 'parallel') throw new Error(`${name} is not a parallel variant`)
  const { threads, mainThreadShare, allParallel, probe } = spec
  const blocks = decodeBlocks(workload.blocks, common)
  const headers = workload.blocks.map((_, i) => createBlockHeader(blockHeaderData(workload, i), { common }))
  const warmupBlocks = decodeBlocks(workload.warmup.blocks, common)
  const warmupRaws = workload.warmup.blocks.flat().slice(0, threads).map((tx) => tx.serialize())
  const warmupHeaders = workload.warmup.blocks.map((_, i) => createBlockHeader(warmupHeaderData(workload, i), { common }))
  const snapshot = preStateDelta(workload.preState)
  const backend = createPreStateBackend(workload.preState)
  const blockHash = () => undefined

  type Prepared = { executor: ParallelExecutor; flatState: FlatState; seconds: number }
  /** A new executor whose worker threads are up and warm, and the state it has committed. */
  async function prepare(): Promise<Prepared> {
    const started = performance.now()
    const executor = createParallelExecutor({
      common,
      threads,
      mainThreadShare,
      source: { kind: 'snapshot', state: snapshot },
      fallback: await createSequentialExecutor({ common }),
      ...(allParallel ? { minParallelWork: 0 } : {}),
      ...(probe ? {} : { probeTxsPerChunk: 0 }),
    })
    const flatState = new FlatState(backend)
    for (let i = 0; i < warmupBlocks.length; i++) {
      const result = await executor.executeBlock({ header: warmupHeaders[i]!, transactions: warmupBlocks[i]!, state: flatState, blockHash })
      const failed = result.rejected.length + result.executed.filter(({ receipt }) => statusOf(receipt) !== 1).length
      if (failed > 0) throw new Error(`${name}: ${failed} warm-up transactions failed`)
      flatState.apply(result.delta)
    }
    // Warm-up blocks that ran on the fallback (plain transfers) leave the new worker threads
    // without a task, perhaps still loading their modules when the timer starts: on `transfers`,
    // that start-up made parallel-2's fallback run 2.5x slower than parallel-1's. Sender
    // recovery on them warms that path; it does not wait for every thread (a thread already up
    // may take several of its tasks: 15 workers on 2 cores were still loading through the whole
    // timed run, 3.0-3.8 s against 0.24 s sequential), so the executor's own `ready` does.
    await executor.senders.recoverMany(warmupRaws)
    await executor.ready()
    return { executor, flatState, seconds: (performance.now() - started) / 1000 }
  }

  return {
    name,
    async run() {
      // Prepared right before its timer, not ahead: executors prepared at the start of the bench
      // waited through the other variants' timed runs (minutes), and their first measured block
      // then took ~5x the median (erc20: 517-573 ms against 91-107 ms); prepared here, ~1.3x.
      const { executor, flatState, seconds: preparationSeconds } = await prepare()
      const executed: { tx: TypedTransaction; receipt: TxReceipt }[] = []
      const order: TypedTransaction[][] = []
      const rejected: string[] = []
      const touched: StateDelta[] = []
      const stats: BlockStats[] = []
      let gasUsed = 0n
      const cpuBefore = threadCpuMs()
      const workersCpuBefore = namedThreadsCpuMs(EXECUTOR_THREAD_NAME)
      const start = performance.now()
      let blockStart = start
      let busyBefore = executor.workerBusyMs
      let mainBefore = executor.mainBusyMs
      for (let i = 0; i < headers.length; i++) {
        const result = await executor.executeBlock({ header: headers[i]!, transactions: blocks[i]!, state: flatState, blockHash })
        flatState.apply(result.delta)
        const now = performance.now()
        const { mode, rounds, aborts } = result.stats
        const workerSeconds = (executor.workerBusyMs - busyBefore) / 1000
        const mainSeconds = (executor.mainBusyMs - mainBefore) / 1000
        stats.push({ mode, rounds, aborts, seconds: (now - blockStart) / 1000, workerSeconds, mainSeconds })
        blockStart = now
        busyBefore = executor.workerBusyMs
        mainBefore = executor.mainBusyMs
        touched.push(result.delta)
        gasUsed += result.gasUsed
        order.push(result.executed.map(({ tx }) => tx))
        for (const { tx, receipt } of result.executed) executed.push({ tx, receipt })
        for (const { reason } of result.rejected) rejected.push(reason)
      }
      const seconds = (performance.now() - start) / 1000
      const cpuAfter = threadCpuMs()
      const workersCpuAfter = namedThreadsCpuMs(EXECUTOR_THREAD_NAME)
      await executor.close()
      const statuses = checkReceipts(name, workload, executed, rejected)

      return {
        seconds,
        gasUsed,
        state: flatFinalState(flatState),
        statuses,
        blockOrder: sameOrder(blocks, order),
        blocks: stats,
        preparationSeconds,
        mainCpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / 1000,
        workerCpuSeconds: workersCpuBefore === undefined || workersCpuAfter === undefined ? undefined : (workersCpuAfter - workersCpuBefore) / 1000,
        async verify() {
          // The executor's promise: the same result as the committed order run one by one.
          const replay = await executeSequentially(workload, common, { headers, blocks: order })
          checkReceipts(`${name} replay`, workload, replay.executed, replay.rejected)
          if (replay.gasUsed !== gasUsed) throw new Error(`${name}: gas used ${gasUsed}, its replay ${replay.gasUsed}`)
          const keys = compareTouched(`${name} and the sequential replay of its commit order disagree`, flatState, replay.flatState, [
            ...touched,
            ...replay.deltas,
          ])
          return `the sequential replay of its commit order wrote the same ${keys} keys, the same values`
        },
      }
    },
  }
}
