import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { createBlockHeader } from '@ethereumjs/block'
import { createFeeMarket1559Tx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToHex, bytesToUnprefixedHex, createAddressFromString, hexToBytes, KECCAK256_NULL, privateToAddress } from '@ethereumjs/util'
import { createWorkload, type Workload, type WorkloadName } from '../../../bench/workloads.ts'
import { createChainCommon, txCommonFor } from '../../chain/common.ts'
import { decodeTransaction } from '../../chain/transaction.ts'
import { keccak256 } from '../../crypto/crypto.ts'
import { FlatState } from '../../state/flat-state.ts'
import { LmdbStore } from '../../storage/lmdb-store.ts'
import type { BlockExecution } from '../types.ts'
import type { WorkerStateSource } from './protocol.ts'
import { createSequentialExecutor } from '../sequential-executor.ts'
import { createParallelExecutor, MIN_PARALLEL_WORK, type ParallelExecutor, predictedWork, PROBE_TXS_PER_CHUNK } from './parallel-executor.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const BLOCK = 48
const closing: { close(): Promise<void> }[] = []
after(() => Promise.all(closing.map((executor) => executor.close())))

function workloadOf(name: WorkloadName): Workload {
  return createWorkload({ name, seed: 7, accountCount: BLOCK, txCount: BLOCK, blockSize: BLOCK, common })
}

function stateOf(workload: Workload): FlatState {
  const { preState } = workload
  return new FlatState({
    readAccount: (address) => preState.accounts.get(address),
    readStorage: (address, slot) => preState.storage.get(address)?.get(slot),
    readCode: (codeHash) => preState.code.get(codeHash),
  })
}

/** A new LMDB store (removed after the tests) holding the workload's pre-state as block 0. */
async function storeWithGenesis(workload: Workload, prefix: string): Promise<{ readonly dir: string; readonly store: LmdbStore }> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const store = LmdbStore.open(dir)
  closing.push(store)
  const genesis = { accounts: new Map(workload.preState.accounts), storage: workload.preState.storage, storageCleared: new Set<string>(), code: workload.preState.code }
  await store.writeBlock({ number: 0n, hash: new Uint8Array(32), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }, genesis)
  return { dir, store }
}

/** The header of block `number` of a workload's chain. */
function headerOf(workload: Workload, number: number) {
  return createBlockHeader(
    { number: BigInt(number), gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n + BigInt(number - 1), coinbase: workload.coinbase },
    { common, setHardfork: false },
  )
}

type Run = { readonly workload: Workload; readonly parallel: BlockExecution; readonly sequential: BlockExecution }

/** The workload's first block: its header, its transactions decoded afresh, and what the sequential executor makes of it. */
async function firstBlock(workload: Workload) {
  const header = createBlockHeader(
    { number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n, coinbase: workload.coinbase },
    { common, setHardfork: false },
  )
  const transactions = () => workload.blocks[0]!.map((tx) => decodeTransaction(tx.serialize(), common))
  const sequential = await (await createSequentialExecutor({ common })).executeBlock({ header, transactions: transactions(), state: stateOf(workload), blockHash: () => undefined })
  return { header, transactions, sequential }
}

type ExecutorOptions = { readonly minParallelWork?: number; readonly probeTxsPerChunk?: number }

/**
 * The workload's first block on a fresh parallel executor (2 threads, options as given), and on
 * the sequential one; with the executor and the block, to run it again.
 */
async function runFirstBlock(workload: Workload, options: ExecutorOptions = {}) {
  const { header, transactions, sequential } = await firstBlock(workload)
  const executor = createParallelExecutor({
    common,
    threads: 2,
    source: { kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } },
    fallback: await createSequentialExecutor({ common }),
    ...options,
  })
  closing.push(executor)
  const parallel = await executor.executeBlock({ header, transactions: transactions(), state: stateOf(workload), blockHash: () => undefined })
  return { executor, header, transactions, run: { workload, parallel, sequential } satisfies Run }
}

async function runBlock(workload: Workload, minParallelWork?: number): Promise<Run> {
  return (await runFirstBlock(workload, minParallelWork === undefined ? {} : { minParallelWork })).run
}

/** Same transactions in the same order, same gas, and the same post-state wherever either wrote (a write of an unchanged value may be left out). */
function assertSameResult({ workload, parallel, sequential }: Run): void {
  assert.equal(parallel.executed.length, BLOCK)
  assert.equal(parallel.gasUsed, sequential.gasUsed)
  assert.deepEqual(
    parallel.executed.map(({ tx }) => tx.hash()),
    sequential.executed.map(({ tx }) => tx.hash()),
  )
  const after = (delta: BlockExecution['delta']) => {
    const state = stateOf(workload)
    state.apply(delta)
    return state
  }
  const [p, s] = [after(parallel.delta), after(sequential.delta)]
  const accounts = new Set([...parallel.delta.accounts.keys(), ...sequential.delta.accounts.keys()])
  assert.ok(accounts.size > BLOCK)
  for (const address of accounts) assert.deepEqual(p.getAccount(address), s.getAccount(address), address)
  for (const address of new Set([...parallel.delta.storage.keys(), ...sequential.delta.storage.keys()])) {
    const slots = new Set([...(parallel.delta.storage.get(address)?.keys() ?? []), ...(sequential.delta.storage.get(address)?.keys() ?? [])])
    for (const slot of slots) assert.deepEqual(p.getStorage(address, slot), s.getStorage(address, slot), `${address} ${slot}`)
  }
}

describe('the parallel executor chooses, per block, whether the workers pay', () => {
  it('unit: predicted work counts a plain transfer as 1 and any call, creation or access list as 10', () => {
    const txCommon = txCommonFor(common)
    const base = { maxFeePerGas: 10n, maxPriorityFeePerGas: 1n, gasLimit: 100_000n, nonce: 0n }
    const to = createAddressFromString('0x00000000000000000000000000000000000000aa')
    const plain = createFeeMarket1559Tx({ ...base, to, value: 1n }, { common: txCommon })
    const call = createFeeMarket1559Tx({ ...base, to, data: hexToBytes('0xa9059cbb') }, { common: txCommon })
    const creation = createFeeMarket1559Tx({ ...base, data: hexToBytes('0x00') }, { common: txCommon })
    const withAccessList = createFeeMarket1559Tx({ ...base, to, accessList: [{ address: to.toString(), storageKeys: [] }] }, { common: txCommon })
    assert.equal(predictedWork([plain]), 1)
    assert.equal(predictedWork([call]), 10)
    assert.equal(predictedWork([creation]), 10)
    assert.equal(predictedWork([withAccessList]), 10)
    assert.equal(predictedWork([plain, plain, call]), 12)
  })

  it('behavior: a block of plain transfers runs sequentially, an ERC-20 block on the workers, both with the sequential result', async () => {
    const transfers = await runBlock(workloadOf('transfers'))
    assert.equal(transfers.parallel.stats.mode, 'sequential', 'plain transfers cost less than shipping them to the workers')
    assertSameResult(transfers)

    // 70% plain transfers, 20% ERC-20, 10% AMM: 0.7 + 3 = 3.7 units per transaction, below the threshold.
    assert.ok(MIN_PARALLEL_WORK > 3.7)
    const mixed = await runBlock(workloadOf('mixed'))
    assert.equal(mixed.parallel.stats.mode, 'sequential')
    assertSameResult(mixed)

    const erc20 = await runBlock(workloadOf('erc20'))
    assert.equal(erc20.parallel.stats.mode, 'parallel', 'token transfers are worth the workers')
    assertSameResult(erc20)
  })

  it('behavior: with minParallelWork 0 the same transfers run on the workers, with the same result', async () => {
    const transfers = await runBlock(workloadOf('transfers'), 0)
    assert.equal(transfers.parallel.stats.mode, 'parallel')
    // Every transfer pays the fee recipient; credited as deltas, the payments do not conflict.
    assert.equal(transfers.parallel.stats.aborts, 0)
    assertSameResult(transfers)
  })
})

describe('a block opened for mini-batches goes where the recent transactions ran best', () => {
  /** Two blocks in two mini-batches each on a fresh parallel executor, and each block whole on the sequential one. */
  async function twoOpenBlocks(name: WorkloadName) {
    const workload = createWorkload({ name, seed: 5, accountCount: BLOCK, txCount: 2 * BLOCK, blockSize: BLOCK, common })
    const executor = createParallelExecutor({ common, threads: 2, source: { kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } }, fallback: await createSequentialExecutor({ common }) })
    closing.push(executor)
    const sequential = await createSequentialExecutor({ common })
    const [parallelState, sequentialState] = [stateOf(workload), stateOf(workload)]
    const modes: string[] = []
    for (const [i, block] of workload.blocks.entries()) {
      const header = headerOf(workload, i + 1)
      const transactions = () => block.map((tx) => decodeTransaction(tx.serialize(), common))
      const open = await executor.openBlock({ header, state: parallelState, blockHash: () => undefined })
      const all = transactions()
      await open.execute(all.slice(0, BLOCK / 2))
      await open.execute(all.slice(BLOCK / 2))
      const parallel = open.finish()
      const whole = await sequential.executeBlock({ header, transactions: transactions(), state: sequentialState, blockHash: () => undefined })
      modes.push(parallel.stats.mode)
      assert.equal(parallel.executed.length, BLOCK, `block ${i + 1}`)
      assert.equal(parallel.gasUsed, whole.gasUsed, `block ${i + 1}`)
      assert.deepEqual(parallel.executed.map(({ receipt }) => receipt.cumulativeBlockGasUsed), whole.executed.map(({ receipt }) => receipt.cumulativeBlockGasUsed), `block ${i + 1}`)
      parallelState.apply(parallel.delta)
      sequentialState.apply(whole.delta)
      for (const address of new Set([...parallel.delta.accounts.keys(), ...whole.delta.accounts.keys()])) {
        assert.deepEqual(parallelState.getAccount(address), sequentialState.getAccount(address), `block ${i + 1}: ${address}`)
      }
    }
    return modes
  }

  it('behavior: after plain transfers the next block runs on the fallback, after token transfers on the workers, each with the sequential result', async () => {
    // Nothing executed yet: the first block goes to the workers either way.
    assert.deepEqual(await twoOpenBlocks('transfers'), ['parallel', 'sequential'])
    assert.deepEqual(await twoOpenBlocks('erc20'), ['parallel', 'parallel'])
  })
})

describe('the workers read what LMDB holds now', () => {
  it('behavior: LMDB-backed workers with almost no cache see each block committed while they waited, and match the sequential executor block after block', async () => {
    // A piscina worker never returns to its event loop between tasks, where lmdb-js renews its
    // read snapshot: without `refreshReads` a worker that has to read LMDB again (its cache
    // dropped an entry, or the log it missed was trimmed) reads the state of its first read, and
    // block 2's senders have nonce 0 there.
    const workload = createWorkload({ name: 'transfers', seed: 13, accountCount: BLOCK, txCount: 8 * BLOCK, blockSize: BLOCK, common })
    const { dir, store } = await storeWithGenesis(workload, 'mosaic-worker-reads-')
    // Every block to the workers (minParallelWork 0), each worker's state cache a byte: every read goes to LMDB.
    const executor = createParallelExecutor({ common, threads: 2, source: { kind: 'lmdb', dataDir: dir }, stateCacheBytes: 2, minParallelWork: 0, fallback: await createSequentialExecutor({ common }) })
    closing.push(executor)
    // Both threads up before the first block: a round's two chunks then go to both (while the
    // second was still loading, the first could take every task, and only it reports below).
    await executor.ready()
    const sequential = await createSequentialExecutor({ common })
    const [committed, reference] = [new FlatState(store), stateOf(workload)]
    for (const [i, block] of workload.blocks.entries()) {
      const header = headerOf(workload, i + 1)
      const transactions = () => block.map((tx) => decodeTransaction(tx.serialize(), common))
      const parallel = await executor.executeBlock({ header, transactions: transactions(), state: committed, blockHash: () => undefined })
      const whole = await sequential.executeBlock({ header, transactions: transactions(), state: reference, blockHash: () => undefined })
      assert.equal(parallel.stats.mode, 'parallel')
      assert.deepEqual(parallel.rejected.map(({ reason }) => reason.split(' (')[0]), [], `block ${i + 1}`)
      assert.equal(parallel.executed.length, BLOCK, `block ${i + 1}`)
      assert.equal(parallel.gasUsed, whole.gasUsed, `block ${i + 1}`)
      await store.writeBlock({ number: BigInt(i + 1), hash: new Uint8Array(32).fill(i + 1), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }, parallel.delta)
      committed.apply(parallel.delta)
      reference.apply(whole.delta)
      for (const address of new Set([...parallel.delta.accounts.keys(), ...whole.delta.accounts.keys()])) {
        assert.deepEqual(committed.getAccount(address), reference.getAccount(address), `block ${i + 1}: ${address}`)
      }
    }
    // Each task renewed the snapshot, and lmdb-js scheduled a timer each time: they run between
    // tasks instead of piling up (piscina's 'sync' atomics left one per task, 8 or more here).
    const workers = executor.workerMemory()
    assert.equal(workers.length, 2)
    for (const worker of workers) assert.ok(worker.pendingTimers <= 3, `a worker has ${worker.pendingTimers} timers waiting after ${workload.blocks.length} blocks`)
  })
})

describe('a round that fails part-way leaves nothing behind', () => {
  /**
   * Makes the executor's `n`-th execution task (sender recovery aside) fail as one does whose
   * worker thread died under it (piscina: "worker exited with code 1"), without posting it.
   */
  function failExecutionTask(executor: ParallelExecutor, n: number): { readonly tasks: () => number } {
    type Runner = { run(task: unknown, options?: { name?: string }): Promise<unknown> }
    const pool = (executor as unknown as { pool: Runner }).pool
    const run = pool.run.bind(pool)
    let tasks = 0
    pool.run = (task, options) => {
      if (options?.name !== undefined) return run(task, options)
      tasks++
      return tasks === n ? Promise.reject(new Error('worker exited with code 1 (injected)')) : run(task, options)
    }
    return { tasks: () => tasks }
  }

  /** Committed state for a fresh executor: the pre-state in a new LMDB store, or a snapshot of it. */
  async function sourceOf(kind: 'lmdb' | 'snapshot', workload: Workload): Promise<{ source: WorkerStateSource; store: LmdbStore | undefined }> {
    if (kind === 'snapshot') return { source: { kind, state: { ...workload.preState, storageCleared: new Set() } }, store: undefined }
    const { dir, store } = await storeWithGenesis(workload, 'mosaic-rollback-')
    return { source: { kind, dataDir: dir }, store }
  }

  it('behavior: a block whose second round fails is taken back whole, the workers drop what they applied of it, and the same block again, then the next, give the sequential result (LMDB and snapshot workers)', async () => {
    // Two ERC-20 blocks. The token is new to the executor, so the first round of block 1 is a
    // probe (4 transactions per chunk, run on this thread) that commits; a task of the second
    // round, the first shipped to the workers, fails.
    const workload = createWorkload({ name: 'erc20', seed: 17, accountCount: BLOCK, txCount: 2 * BLOCK, blockSize: BLOCK, common })
    for (const kind of ['lmdb', 'snapshot'] as const) {
      const { source, store } = await sourceOf(kind, workload)
      const executor = createParallelExecutor({ common, threads: 2, source, fallback: await createSequentialExecutor({ common }) })
      closing.push(executor)
      const sequential = await createSequentialExecutor({ common })
      const [committed, reference] = [store === undefined ? stateOf(workload) : new FlatState(store), stateOf(workload)]
      const injected = failExecutionTask(executor, 2)
      for (const [i, block] of workload.blocks.entries()) {
        const header = headerOf(workload, i + 1)
        const transactions = () => block.map((tx) => decodeTransaction(tx.serialize(), common))
        const parameters = () => ({ header, transactions: transactions(), state: committed, blockHash: () => undefined })
        if (i === 0) {
          await assert.rejects(executor.executeBlock(parameters()), /injected/, `${kind}: the failed task fails the block`)
          assert.ok(injected.tasks() >= 2 && executor.mainBusyMs > 0, `${kind}: the block failed in its second round, after the probe`)
        }
        const parallel = await executor.executeBlock(parameters())
        const whole = await sequential.executeBlock({ header, transactions: transactions(), state: reference, blockHash: () => undefined })
        assert.equal(parallel.stats.mode, 'parallel')
        assertSameResult({ workload, parallel, sequential: whole })
        await store?.writeBlock({ number: BigInt(i + 1), hash: new Uint8Array(32).fill(i + 1), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }, parallel.delta)
        committed.apply(parallel.delta)
        reference.apply(whole.delta)
      }
    }
  })

  it('behavior: a mini-batch whose second round fails leaves the open block as it was: the same transactions again, then finish, give the sequential block', async () => {
    const workload = createWorkload({ name: 'erc20', seed: 19, accountCount: BLOCK, txCount: BLOCK, blockSize: BLOCK, common })
    const { source } = await sourceOf('snapshot', workload)
    const executor = createParallelExecutor({ common, threads: 2, source, fallback: await createSequentialExecutor({ common }) })
    closing.push(executor)
    const header = headerOf(workload, 1)
    const transactions = () => workload.blocks[0]!.map((tx) => decodeTransaction(tx.serialize(), common))
    const injected = failExecutionTask(executor, 2)
    const open = await executor.openBlock({ header, state: stateOf(workload), blockHash: () => undefined })
    await assert.rejects(open.execute(transactions()), /injected/)
    assert.ok(injected.tasks() >= 2 && executor.mainBusyMs > 0, 'the mini-batch failed in its second round, after the probe')
    assert.equal(open.gasUsed, 0n, 'the failed mini-batch left gas in the block')
    const batch = await open.execute(transactions())
    assert.equal(batch.executed.length, BLOCK)
    const parallel = open.finish()
    const whole = await (await createSequentialExecutor({ common })).executeBlock({ header, transactions: transactions(), state: stateOf(workload), blockHash: () => undefined })
    assertSameResult({ workload, parallel, sequential: whole })
  })
})

describe('a worker thread that dies between blocks', () => {
  type Pool = { readonly threads: readonly { readonly threadId: number; terminate(): Promise<number> }[]; once(event: 'workerCreate', listener: () => void): unknown }

  /** Ends one idle worker thread, as a crash would, and waits until piscina has a new one up. */
  async function killOneWorker(executor: ParallelExecutor): Promise<void> {
    const pool = (executor as unknown as { pool: Pool }).pool
    const replaced = new Promise<void>((resolve) => pool.once('workerCreate', resolve))
    // piscina's threads do not keep the event loop alive while the replacement loads.
    const keepAlive = setInterval(() => {}, 1000)
    try {
      await pool.threads[0]!.terminate()
      await replaced
    } finally {
      clearInterval(keepAlive)
    }
  }

  it('behavior: LMDB-backed workers: the replacement starts from the store, blocks keep the sequential result, and the dead thread is forgotten', async () => {
    const workload = createWorkload({ name: 'erc20', seed: 23, accountCount: BLOCK, txCount: 6 * BLOCK, blockSize: BLOCK, common })
    const { dir, store } = await storeWithGenesis(workload, 'mosaic-dead-worker-')
    const executor = createParallelExecutor({ common, threads: 2, source: { kind: 'lmdb', dataDir: dir }, fallback: await createSequentialExecutor({ common }) })
    closing.push(executor)
    const sequential = await createSequentialExecutor({ common })
    const [committed, reference] = [new FlatState(store), stateOf(workload)]
    for (const [i, block] of workload.blocks.entries()) {
      if (i === 2) await killOneWorker(executor)
      const header = headerOf(workload, i + 1)
      const transactions = () => block.map((tx) => decodeTransaction(tx.serialize(), common))
      const parallel = await executor.executeBlock({ header, transactions: transactions(), state: committed, blockHash: () => undefined })
      const whole = await sequential.executeBlock({ header, transactions: transactions(), state: reference, blockHash: () => undefined })
      assert.equal(parallel.stats.mode, 'parallel')
      assertSameResult({ workload, parallel, sequential: whole })
      await store.writeBlock({ number: BigInt(i + 1), hash: new Uint8Array(32).fill(i + 1), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }, parallel.delta)
      committed.apply(parallel.delta)
      reference.apply(whole.delta)
    }
    // What the executor keeps per thread is about the live ones, the replacement among them.
    const alive = (executor as unknown as { pool: Pool }).pool.threads.map((thread) => thread.threadId).sort()
    const known = [...(executor as unknown as { memory: Map<number, unknown> }).memory.keys()].sort()
    assert.deepEqual(known, alive)
    assert.equal(executor.workerMemory().length, 2)
  })

  it('behavior: snapshot-backed workers: once the log no longer starts at 0, a replacement cannot catch up, and the block fails saying so (it used to be retried on whichever thread was free, and on that one alone forever)', { timeout: 120_000 }, async () => {
    const workload = createWorkload({ name: 'erc20', seed: 29, accountCount: BLOCK, txCount: 4 * BLOCK, blockSize: BLOCK, common })
    const executor = createParallelExecutor({ common, threads: 2, source: { kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } }, fallback: await createSequentialExecutor({ common }) })
    closing.push(executor)
    const state = stateOf(workload)
    const run = (i: number) => {
      const header = headerOf(workload, i + 1)
      return executor.executeBlock({ header, transactions: workload.blocks[i]!.map((tx) => decodeTransaction(tx.serialize(), common)), state, blockHash: () => undefined })
    }
    // Both threads loaded before the first block, so that both take its tasks and the log can be
    // trimmed (a thread still loading its module takes none, and one that never ran holds it at 0).
    await executor.ready()
    for (const i of [0, 1, 2]) state.apply((await run(i)).delta)
    assert.ok((executor as unknown as { logStart: number }).logStart > 0, 'the log was never trimmed: the case does not arise')
    await killOneWorker(executor)
    await assert.rejects(run(3), /cannot catch up/)
  })
})

describe('the write log the workers follow', () => {
  it('behavior: a run of blocks on the fallback leaves at most the key budget in the log once durable (LMDB-backed workers)', async () => {
    // 12 blocks of 48 plain transfers: each runs on the fallback, and the workers never run, so
    // nothing they applied trims the log — only the key budget does.
    const workload = createWorkload({ name: 'transfers', seed: 11, accountCount: BLOCK, txCount: 12 * BLOCK, blockSize: BLOCK, common })
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-write-log-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    const LIMIT = 300
    const run = async (source: WorkerStateSource) => {
      const executor = createParallelExecutor({ common, threads: 2, source, fallback: await createSequentialExecutor({ common }), logLimitKeys: LIMIT })
      closing.push(executor)
      const state = stateOf(workload)
      const sizes: { entries: number; keys: number }[] = []
      for (let i = 0; i < workload.blocks.length; i++) {
        const header = headerOf(workload, i + 1)
        const result = await executor.executeBlock({ header, transactions: workload.blocks[i]!.map((tx) => decodeTransaction(tx.serialize(), common)), state, blockHash: () => undefined })
        assert.equal(result.stats.mode, 'sequential')
        assert.equal(result.executed.length, BLOCK)
        state.apply(result.delta)
        sizes.push(executor.logSize)
      }
      return sizes
    }
    const lmdb = await run({ kind: 'lmdb', dataDir: dir })
    // Trimmed when the next block starts: the budget, plus the block just appended.
    const perBlock = lmdb[0]!.keys
    assert.ok(perBlock > BLOCK, `a block of ${BLOCK} transfers writes ${perBlock} keys`)
    for (const [i, size] of lmdb.entries()) assert.ok(size.keys <= LIMIT + perBlock, `after block ${i + 1} the log holds ${size.keys} keys in ${size.entries} entries`)
    // Control: workers with no LMDB to read cannot skip entries, so the same blocks stay in full.
    const snapshot = await run({ kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } })
    assert.equal(snapshot.at(-1)!.entries, workload.blocks.length)
    assert.ok(snapshot.at(-1)!.keys > LIMIT + perBlock, `the snapshot-backed log holds ${snapshot.at(-1)!.keys} keys`)
  })
})

describe('the fee recipient: fees are credited without a read, and whoever reads it sees them all', () => {
  // The fee recipient is a contract that logs its own balance (SELFBALANCE; PUSH0; MSTORE;
  // PUSH1 32; PUSH0; LOG0); another contract logs the fee recipient's balance (COINBASE; BALANCE; …).
  const LOG_SELF_BALANCE = hexToBytes('0x475f5260205fa000')
  const LOG_COINBASE_BALANCE = hexToBytes('0x41315f5260205fa000')
  const coinbase = createAddressFromString(`0x${'c0'.repeat(20)}`)
  const reader = createAddressFromString(`0x${'ba'.repeat(20)}`)
  const txCommon = txCommonFor(common)
  const keyOf = (i: number) => keccak256(Uint8Array.of(0x5e, i))
  const senderOf = (i: number) => new Address(privateToAddress(keyOf(i)))

  /** Pre-state: 40 funded senders, and the two contracts (the fee recipient already holds 1 ETH). */
  function preState(): Workload['preState'] {
    const state: Workload['preState'] = { accounts: new Map(), storage: new Map(), code: new Map() }
    for (let i = 0; i < 40; i++) state.accounts.set(bytesToUnprefixedHex(senderOf(i).bytes), { nonce: 0n, balance: 10n ** 21n, codeHash: KECCAK256_NULL })
    for (const [address, code, balance] of [[coinbase, LOG_SELF_BALANCE, 10n ** 18n], [reader, LOG_COINBASE_BALANCE, 0n]] as const) {
      const codeHash = keccak256(code)
      state.code.set(bytesToUnprefixedHex(codeHash), code)
      state.accounts.set(bytesToUnprefixedHex(address.bytes), { nonce: 1n, balance, codeHash })
    }
    return state
  }

  /**
   * Plain transfers that pay a tip (credited as fee deltas) interleaved with transactions that
   * read the fee recipient: with no tip after the same sender paid it value (their chunk's own
   * write answers the read), and calls into the fee recipient itself (its SELFBALANCE is read after
   * the call wrote its account).
   */
  function block(): TypedTransaction[] {
    const nonces = new Map<number, bigint>()
    const sign = (i: number, body: { to: Address; value?: bigint; data?: Uint8Array; tip?: bigint }) => {
      const nonce = nonces.get(i) ?? 0n
      nonces.set(i, nonce + 1n)
      const tx = createFeeMarket1559Tx(
        { nonce, to: body.to, value: body.value ?? 0n, data: body.data ?? new Uint8Array(), gasLimit: 100_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: body.tip ?? 10n ** 9n },
        { common: txCommon },
      ).sign(keyOf(i))
      return decodeTransaction(tx.serialize(), common)
    }
    const txs: TypedTransaction[] = []
    for (let round = 0; round < 4; round++) {
      const s = round * 10
      const fresh = (n: number) => createAddressFromString(`0x${(0xf000 + round * 16 + n).toString(16).padStart(40, '0')}`)
      txs.push(sign(s, { to: fresh(0), value: 1n }))
      txs.push(sign(s + 1, { to: coinbase, value: 5n }))
      txs.push(sign(s + 2, { to: fresh(1), value: 1n }))
      txs.push(sign(s + 1, { to: reader, data: Uint8Array.of(0), tip: 0n }))
      txs.push(sign(s + 3, { to: fresh(2), value: 1n }))
      txs.push(sign(s + 4, { to: coinbase, data: Uint8Array.of(0) }))
      txs.push(sign(s + 5, { to: fresh(3), value: 1n }))
      txs.push(sign(s + 6, { to: coinbase, data: Uint8Array.of(0), tip: 0n }))
      txs.push(sign(s + 7, { to: fresh(4), value: 1n }))
      txs.push(sign(s + 8, { to: reader, data: Uint8Array.of(0) }))
      txs.push(sign(s + 9, { to: fresh(5), value: 1n }))
    }
    return txs
  }

  it('behavior: transactions that read the fee recipient log the balance the sequential executor logs, and the state matches', async () => {
    const state = preState()
    const flat = () =>
      new FlatState({ readAccount: (a) => state.accounts.get(a), readStorage: (a, s) => state.storage.get(a)?.get(s), readCode: (h) => state.code.get(h) })
    const header = createBlockHeader({ number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n, coinbase }, { common, setHardfork: false })
    const executor = createParallelExecutor({
      common,
      threads: 2,
      source: { kind: 'snapshot', state: { ...state, storageCleared: new Set() } },
      fallback: await createSequentialExecutor({ common }),
      minParallelWork: 0,
    })
    closing.push(executor)
    const parallel = await executor.executeBlock({ header, transactions: block(), state: flat(), blockHash: () => undefined })
    const sequential = await (await createSequentialExecutor({ common })).executeBlock({ header, transactions: block(), state: flat(), blockHash: () => undefined })
    assert.equal(parallel.stats.mode, 'parallel')
    assert.ok(parallel.stats.aborts > 0, 'the readers conflicted with fees credited before them')
    assert.equal(sequential.executed.length, 44)
    assert.equal(parallel.executed.length, 44)
    const logged = (run: BlockExecution) => run.executed.map(({ receipt }) => receipt.logs.map(([, , data]) => bytesToHex(data)).join(','))
    const balances = logged(sequential)
    // Each reader logged a balance, and they differ: the fees before each one count.
    assert.equal(balances.filter((b) => b !== '').length, 20)
    assert.deepEqual(logged(parallel), balances)
    assert.equal(parallel.gasUsed, sequential.gasUsed)
    const [p, s] = [flat(), flat()]
    p.apply(parallel.delta)
    s.apply(sequential.delta)
    assert.deepEqual(p.getAccount(bytesToUnprefixedHex(coinbase.bytes)), s.getAccount(bytesToUnprefixedHex(coinbase.bytes)))
  })
})

describe('the main thread runs a share of every round (mainThreadShare)', () => {
  it('behavior: a block spreads over the main thread and the worker, a small mini-batch stays on the main thread; both give the sequential result', async () => {
    const workload = workloadOf('erc20')
    const { header, transactions, sequential } = await firstBlock(workload)
    const create = async () => {
      const executor = createParallelExecutor({ common, threads: 1, mainThreadShare: true, source: { kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } }, fallback: await createSequentialExecutor({ common }) })
      closing.push(executor)
      return executor
    }

    // A whole block: a chunk on each thread, run at the same time.
    const whole = await create()
    const parallel = await whole.executeBlock({ header, transactions: transactions(), state: stateOf(workload), blockHash: () => undefined })
    assert.equal(parallel.stats.mode, 'parallel')
    assert.ok(whole.mainBusyMs > 0, 'the main thread ran no chunk')
    assert.ok(whole.workerBusyMs > 0, 'the worker ran no chunk')
    assertSameResult({ workload, parallel, sequential })

    // Mini-batches below `minParallelTxs` (16): one chunk each, on this thread; nothing shipped.
    const small = await create()
    const open = await small.openBlock({ header, state: stateOf(workload), blockHash: () => undefined })
    const all = transactions()
    for (let i = 0; i < all.length; i += 8) await open.execute(all.slice(i, i + 8))
    assertSameResult({ workload, parallel: open.finish(), sequential })
    assert.ok(small.mainBusyMs > 0, 'the main thread ran no chunk')
    assert.equal(small.workerBusyMs, 0, 'a small mini-batch was shipped to a worker')
  })
})

describe('a round that cannot spread runs on the main thread', () => {
  it('behavior: AMM swaps spread over both workers, conflict on the pool, and the rest — one chunk, the pool now hot — runs on the main thread without mainThreadShare; the result is the sequential one', async () => {
    // No probe: the first round ships the whole block (a probe would run on this thread).
    const { executor, run } = await runFirstBlock(workloadOf('amm'), { minParallelWork: 0, probeTxsPerChunk: 0 })
    const { parallel } = run
    assert.equal(parallel.stats.mode, 'parallel')
    assert.ok(parallel.stats.aborts > 0, 'the swaps never conflicted: nothing here tests a second round')
    assert.ok(executor.workerBusyMs > 0, 'the first round did not spread over the workers')
    assert.ok(executor.mainBusyMs > 0, 'the round of one chunk was shipped to a worker')
    assertSameResult(run)
  })
})

describe('a probe round first, for a contract not yet seen run in parallel', () => {
  const freshRun = (name: WorkloadName, probeTxsPerChunk?: number) =>
    runFirstBlock(workloadOf(name), { minParallelWork: 0, ...(probeTxsPerChunk === undefined ? {} : { probeTxsPerChunk }) })

  it('behavior: AMM swaps, all on one pool, lose at most a probe round (2 chunks of 4, run on the main thread) before the pool is known hot, where without the probe nearly the whole block ran for nothing on the workers; both give the sequential result', async () => {
    const { executor, run } = await freshRun('amm')
    assert.equal(run.parallel.stats.mode, 'parallel')
    assert.ok(run.parallel.stats.aborts > 0 && run.parallel.stats.aborts < 2 * PROBE_TXS_PER_CHUNK, `${run.parallel.stats.aborts} swaps ran again`)
    // The probe ran here, and so did the rest, one chunk: no worker was sent a task.
    assert.equal(executor.workerBusyMs, 0, 'a task went to a worker')
    assert.ok(executor.mainBusyMs > 0)
    assertSameResult(run)
    // Control: without the probe the first round holds the whole block, on the workers.
    const { executor: unprobedExecutor, run: unprobed } = await freshRun('amm', 0)
    assert.ok(unprobed.parallel.stats.aborts >= BLOCK - 2 * PROBE_TXS_PER_CHUNK, `${unprobed.parallel.stats.aborts} swaps ran again without the probe`)
    assert.ok(unprobedExecutor.workerBusyMs > 0)
    assertSameResult(unprobed)
  })

  it('behavior: ERC-20 transfers pass the probe without a conflict, and the next block of calls into the now calm token runs in one round', async () => {
    const { executor, header, transactions, run } = await freshRun('erc20')
    assert.equal(run.parallel.stats.aborts, 0)
    assert.equal(run.parallel.stats.rounds, 2, 'a probe round, then the rest')
    assert.ok(executor.mainBusyMs > 0 && executor.workerBusyMs > 0, 'the probe on this thread, the rest on the workers')
    assertSameResult(run)
    // The same calls again (on the pre-state: a fresh state, as the block's effects do not matter here).
    const again = await executor.executeBlock({ header, transactions: transactions(), state: stateOf(run.workload), blockHash: () => undefined })
    assert.equal(again.stats.rounds, 1)
  })
})
