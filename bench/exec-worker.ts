/**
 * One `bench:exec` variant in its own process (and heap): builds the workload from the seed (the
 * same transactions in every worker — checked by digest), sets the variant up, warms it up with
 * one untimed run, then runs on request. The parallel variants start their own worker threads
 * (piscina) from this one. Protocol: `exec-protocol.ts`.
 */
import { createCustomCommon, Mainnet } from '@ethereumjs/common'
import { Address, hexToBytes } from '@ethereumjs/util'
import { createHash } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { parentPort, workerData } from 'node:worker_threads'
import { createChainCommon } from '../src/chain/common.ts'
import type { ExecRequest, ExecResponse, ExecWorkerData, PoolSample, SetupStep } from './exec-protocol.ts'
import { createParallelVariant, createSequentialVariant, createStockVariant, type RunResult, type Variant } from './exec-variants.ts'
import { createSectionProfiler } from './profile.ts'
import {
  balanceSlot,
  copyTransaction,
  createWorkload,
  INITIAL_POOL_BALANCE,
  INITIAL_RESERVE,
  poolBalanceSlots,
  RESERVE0_SLOT,
  RESERVE1_SLOT,
  word,
  type Workload,
} from './workloads.ts'

const CHAIN_ID = 901
const HARDFORK = 'prague'

/** A variant runs in a child process of its own (`bench/exec.ts`), or in a worker thread. */
const inProcess = parentPort === null
if (inProcess && (process.send === undefined || process.env.MOSAIC_EXEC_DATA === undefined)) {
  throw new Error('exec-worker.ts runs as a child process or a worker thread of bench/exec.ts')
}
const data = (inProcess ? JSON.parse(process.env.MOSAIC_EXEC_DATA!) : workerData) as ExecWorkerData

function send(message: ExecResponse): void {
  if (inProcess) process.send!(message)
  else parentPort!.postMessage(message)
}

function sendError(error: unknown): void {
  send({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? error.stack : undefined,
  })
}

async function setUp(): Promise<{ variant: Variant; workload: Workload }> {
  const setup: SetupStep[] = []
  const step = (label: string, seconds: number) => setup.push({ label, seconds })
  // Transactions are signed with mosaic's common; the stock variant copies them under its own.
  const common = createChainCommon({ chainId: CHAIN_ID, hardfork: HARDFORK })
  let started = performance.now()
  const workload = createWorkload({
    name: data.workload,
    seed: data.seed,
    accountCount: data.accountCount,
    txCount: data.txCount,
    blockSize: data.blockSize,
    common,
  })
  step('workload: keys, pre-state, signed transactions', (performance.now() - started) / 1000)

  // Sender recovery belongs to the mempool, not to execution: recover (and cache) before timing.
  started = performance.now()
  const digest = createHash('sha256')
  for (const block of [...workload.blocks, ...workload.warmup.blocks]) {
    for (const tx of block) {
      tx.getSenderAddress()
      digest.update(tx.serialize())
    }
  }
  step('senders recovered', (performance.now() - started) / 1000)

  let variant: Variant
  if (data.variant === 'stock') {
    const stockCommon = createCustomCommon({ chainId: CHAIN_ID }, Mainnet, { hardfork: HARDFORK })
    // The stock copies carry the recovered key over; on a few, recovering it the stock way
    // (pure-JS secp256k1) must give the same sender.
    for (const tx of workload.blocks[0]!.slice(0, 4)) {
      if (!copyTransaction(tx, stockCommon, false).getSenderAddress().equals(tx.getSenderAddress())) {
        throw new Error('a stock transaction copy recovers another sender')
      }
    }
    variant = await createStockVariant(workload, stockCommon, common, step)
  } else if (data.variant === 'sequential') {
    variant = await createSequentialVariant(workload, common)
  } else {
    variant = await createParallelVariant(workload, common, data.variant)
  }

  started = performance.now()
  await variant.run()
  const warmupSeconds = (performance.now() - started) / 1000
  send({ type: 'ready', setup, warmupSeconds, transactionsDigest: digest.digest('hex') })
  return { variant, workload }
}

/**
 * The pool after the last run. Swaps only move amounts between a trader's internal balance and
 * the reserve of the same token, so reserve + Σ traders' balances must still be its pre-state
 * value, whatever order the swaps ran in.
 */
async function samplePool(workload: Workload, state: RunResult['state'], addresses: readonly Address[]): Promise<PoolSample | undefined> {
  if (workload.pool === undefined) return undefined
  const { address: pool, traders } = workload.pool
  const reserves = [await state.storage(pool, word(RESERVE0_SLOT)), await state.storage(pool, word(RESERVE1_SLOT))] as const
  const totals: [bigint, bigint] = [...reserves]
  for (const trader of traders) {
    const [slot0, slot1] = poolBalanceSlots(trader)
    totals[0] += await state.storage(pool, slot0)
    totals[1] += await state.storage(pool, slot1)
  }
  const expected = INITIAL_RESERVE + BigInt(traders.length) * INITIAL_POOL_BALANCE
  if (totals[0] !== expected || totals[1] !== expected) {
    throw new Error(`${data.variant}: pool totals ${totals.join(', ')} after the run, ${expected} each before: swaps lost or made tokens`)
  }
  const balances = await Promise.all(
    addresses.map(async (a) => {
      const [slot0, slot1] = poolBalanceSlots(a)
      return [await state.storage(pool, slot0), await state.storage(pool, slot1)] as const
    }),
  )
  return { reserves, totals, balances }
}

const profiler = data.profileDir === undefined ? undefined : await createSectionProfiler(data.profileDir)
setFlagsFromString('--expose-gc')
/**
 * A full collection of this thread's heap, untimed. Before a run: the run starts on a heap
 * without the last run's garbage. After it: this thread's collector has nothing left to do in
 * the next variant's run (after stock's run, with gigabytes of trie nodes to free, the
 * sequential run that followed it took 1.1-1.4 s on `transfers` against 0.6-0.75 s alone).
 */
const collectGarbage = runInNewContext('gc') as () => void
let last: RunResult | undefined
let ready: Promise<{ variant: Variant; workload: Workload }> | undefined

async function handle(request: ExecRequest): Promise<void> {
  const { variant, workload } = await ready!
  switch (request.type) {
    case 'run': {
      last = undefined
      collectGarbage()
      await profiler?.start()
      last = await variant.run()
      const profile = await profiler?.stop(`exec-${data.workload}-${data.variant}-run${request.run}`)
      collectGarbage()
      send({
        type: 'result',
        seconds: last.seconds,
        gasUsed: last.gasUsed,
        statuses: last.statuses,
        blocks: last.blocks,
        preparationSeconds: last.preparationSeconds,
        mainCpuSeconds: last.mainCpuSeconds,
        workerCpuSeconds: last.workerCpuSeconds,
        profile,
      })
      break
    }
    case 'sample': {
      if (last === undefined) throw new Error('sample requested before any timed run')
      const state = last.state
      const addresses = request.addresses.map((a) => new Address(hexToBytes(a as `0x${string}`)))
      const balances = await Promise.all(addresses.map((a) => state.balance(a)))
      const token = workload.token
      const tokenBalances =
        token === undefined ? undefined : await Promise.all(addresses.map((a) => state.storage(token, balanceSlot(a))))
      const pool = await samplePool(workload, state, addresses)
      const verified = await last.verify()
      send({ type: 'sample', balances, tokenBalances, pool, blockOrder: last.blockOrder, verified })
      break
    }
  }
}

// Requests are handled one at a time, in order.
let queue = Promise.resolve()
const onRequest = (request: ExecRequest) => {
  queue = queue.then(() => handle(request)).catch(sendError)
}
if (inProcess) process.on('message', onRequest)
else parentPort!.on('message', onRequest)
ready = setUp()
ready.catch(sendError)
