/**
 * `npm run bench:e2e [-- --quick] [--only anvil,sequencer,devnet,sequencer-history-off,sequencer-parallel] [--workloads …] [--gas-limit N]
 * [--rounds N] [--profile DIR] [--perf DIR]`: the end-to-end figure (BENCHMARKS.md, "End to end"). Starts, one
 * after the other, each alone on the machine while it is measured:
 *
 * - `anvil` (`@foundry-rs/anvil`, `--block-time 0.25`, chain 901);
 * - `sequencer`: `mosaic sequencer` without an L1, from a genesis file funding the dev accounts;
 * - `devnet`: `mosaic devnet` — the sequencer plus its own anvil L1, the batch poster and a
 *   verifier, all of it measured;
 * - `sequencer-history-off` (only when named in `--only`): the sequencer with `HISTORY_BLOCKS=0`,
 *   for the ratio sequencer/sequencer-history-off — what keeping state at past blocks costs the head;
 * - `sequencer-parallel` (only when named in `--only`): the sequencer with `EXECUTOR=parallel`,
 *   for the ratio sequencer-parallel/sequencer (issue 13's end-to-end target: ≥ 1.1);
 *
 * and drives each with the same client and the same pre-signed transactions. Each workload runs on
 * a node of its own, started fresh for it. Setup (untimed): dev account 0 funds the warm-up's and
 * the workload's 64 senders (each set starts at nonce 0 on every node, so the same signed bytes
 * fit every node), for `erc20` a fresh deployer deploys MosaicToken and mints to its senders, then
 * a warm-up load of the workload's kind (ERC-20 calls before `erc20`, transfers before the rest).
 *
 * Workloads (transfers go to fresh addresses):
 * - `transfers-single`: 64 senders, each with at most W = 64 transactions sent but not yet
 *   included, one `eth_sendRawTransaction` per HTTP request;
 * - `transfers-batch`: the same with JSON-RPC batches of 20 (one sender's consecutive nonces);
 * - `rate-300`: open loop, 300 tx/s offered on a schedule whatever gets included, single requests;
 * - `erc20`: `MosaicToken.transfer` calls like `transfers-single`;
 * - `preconf-300`: open loop, 300 tx/s offered, each with `eth_sendRawTransactionSync` (EIP-7966):
 *   the latency is submit → the receipt in the answer — on mosaic the preconfirmed receipt of the
 *   transaction's mini-batch (MINIBLOCK_MS), on anvil the receipt of the block (0.25 s). Targets:
 *   p50 ≤ 30 ms, p99 ≤ 100 ms on mosaic. A send answered with EIP-7966's nonce-gap error (an
 *   earlier nonce of its sender overtaken on the way) waits in the pool: it counts when the
 *   poller sees it in a block, and its sender goes on.
 *
 * Inclusion is when a poller (every ~20 ms: `eth_blockNumber`, then each new block) first sees a
 * transaction in a block. Per workload and node: included tx/s (included / (last inclusion −
 * first send)), p50/p90/p99 submit→inclusion, node CPU ms per included tx (utime + stime over the
 * node's whole process tree: devnet includes its anvil; for mosaic, its main thread's alone too),
 * peak RSS (summed VmRSS of the tree, sampled every 250 ms) and peak PSS (summed proportional set
 * size: pages the tree's processes share, such as the `node` binary the devnet and its verifier
 * both map, counted once), mean interval between blocks as first seen, refused sends and retries,
 * and `send ms`: the mean round trip of a send request (its first attempt). In the closed-loop
 * workloads a sender waits for that answer before it sends again, so with the node's CPU to spare
 * tx/s ≈ 64 senders × transactions per request / `send ms` (Little's law): the figure that says
 * whether a node is bound by its CPU or by how long it takes to answer.
 * Ratios: sequencer/anvil and devnet/anvil of tx/s, p50, CPU per tx, peak RSS and peak PSS (and p99 for `preconf-300`).
 *
 * The nodes take turns workload by workload (anvil, then each mosaic node, on `transfers-single`;
 * then all of them on the next workload), so the runs a ratio compares are minutes apart at most.
 * This machine is shared: a slow patch of a minute or two moved single runs' ratios by ±15%
 * (sequencer/anvil on `transfers-single` 0.76× and 0.93× in two runs an hour apart). `--rounds N`
 * repeats the whole sequence N times; each figure is then the median over the rounds and each
 * ratio the median of the rounds' own ratios (every round's ratios are printed as they come).
 * `--perf DIR` runs Linux perf on each mosaic node over its timed run and prints where the CPU
 * went, by thread and on the main thread (`perf.ts`; `--profile` is node's `--cpu-prof`, which
 * on two cores charges a thread for the time it waits preempted). perf shares the cores it
 * measures: take the table's figures from a run without it.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { hexToBytes } from '@ethereumjs/util'
import { encodeDeployData, encodeFunctionData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../contracts/artifacts.ts'
import {
  addressFromLabel,
  addressOf,
  createAddress,
  type Hex,
  InclusionPoller,
  keyFromLabel,
  ProcessTree,
  RpcClient,
  type RpcResponse,
  type SignedTx,
  signEip1559,
} from './e2e-client.ts'
import { type NodeHandle, problems, sleep, startAnvilNode, startMosaicNode, tail } from './nodes.ts'
import { checkPerf, formatPerfSummary, recordPerf, summarizePerf } from './perf.ts'
import { checkNames, createReport, median, medianByKey, parseBenchArgs, printReport, ratiosOf, takeIntegerOption, takeOption, writeReport, type BenchRatio, type BenchRow } from './report.ts'

/** `sequencer-history-off` (HISTORY_BLOCKS=0) and `sequencer-parallel` (EXECUTOR=parallel): variants of the sequencer, run only when named in --only. */
const NODES = ['anvil', 'sequencer', 'devnet', 'sequencer-history-off', 'sequencer-parallel'] as const
const VARIANT_ENV: Partial<Record<(typeof NODES)[number], Record<string, string>>> = { 'sequencer-history-off': { HISTORY_BLOCKS: '0' }, 'sequencer-parallel': { EXECUTOR: 'parallel' } }
const DEFAULT_NODES: readonly string[] = ['anvil', 'sequencer', 'devnet']
const WORKLOADS = ['transfers-single', 'transfers-batch', 'rate-300', 'erc20', 'preconf-300'] as const
type WorkloadName = (typeof WORKLOADS)[number]

const CHAIN_ID = 901n
const SENDERS = 64
/** Most transactions of one sender sent but not yet seen included (closed-loop workloads). */
const WINDOW = 64
const BATCH = 20
const RATE = 300
const MAX_FEE = 500n * 10n ** 9n // generous: anvil's base fee climbs ~6% a block while blocks are over half full
const TIP = 10n ** 9n
const TRANSFER_GAS = 21_000n
/** MosaicToken.transfer to a fresh holder uses ~52k. */
const ERC20_GAS = 80_000n
const DEPLOY_GAS = 3_000_000n
const MINT_GAS = 150_000n
const ETHER = 10n ** 18n
/** Dev account 0 of the test mnemonic: funded on anvil and in both mosaic geneses. */
const DEV_KEY_HEX = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const DEV_KEY = hexToBytes(DEV_KEY_HEX)
const DEV_ADDRESS = addressOf(DEV_KEY)
const DEPLOYER_KEY = keyFromLabel('mosaic-e2e/deployer')
const DEPLOYER = addressOf(DEPLOYER_KEY)
/** The deployer's first transaction creates the token: the same address on every node. */
const TOKEN = createAddress(DEPLOYER, 0n)
/**
 * Retries of one send refused for a while only: a full pool, the RPC over its concurrency, a
 * dropped connection, or a nonce ahead of the pool's window (an earlier one being retried).
 */
const MAX_RETRIES = 50
const RETRYABLE = /txpool is full|pool is full|account limit|limit exceeded|too many|busy|try again|rate limit|nonce too high|ECONNRESET|socket hang up|EPIPE/i

const token = loadArtifact('MosaicToken')

// ---------------------------------------------------------------------------------------------
// Arguments: the shared ones, plus --gas-limit N (both nodes' block gas limit), --rounds N and
// --perf DIR (Linux perf on each mosaic node over its timed run: `perf.ts`).

const gasOption = takeIntegerOption(process.argv.slice(2), 'gas-limit', 21_000, Number.MAX_SAFE_INTEGER, 30_000_000)
const gasLimit = BigInt(gasOption.value)
const roundsOption = takeIntegerOption(gasOption.rest, 'rounds', 1, 20, 1)
const rounds = roundsOption.value
const { value: perfOption, rest } = takeOption(roundsOption.rest, 'perf')
const perfDir = perfOption === undefined ? undefined : resolve(perfOption)
if (perfDir !== undefined) {
  checkPerf('--perf')
  mkdirSync(perfDir, { recursive: true })
}
const args = parseBenchArgs('e2e', rest)
checkNames('--only', args.only, NODES)
checkNames('--workloads', args.workloads, WORKLOADS)
const nodes = NODES.filter((n) => (args.only === undefined ? DEFAULT_NODES.includes(n) : args.only.includes(n)))
const workloads = WORKLOADS.filter((w) => args.workloads === undefined || args.workloads.includes(w))

// ---------------------------------------------------------------------------------------------
// Plans: every timed transaction signed before any node starts.

type Sender = { readonly key: Uint8Array; readonly address: Hex }

type Plan = {
  readonly name: WorkloadName | 'warmup' | 'warmup-erc20'
  /** closed: each sender keeps at most WINDOW unincluded; open: sends on a fixed schedule. */
  readonly mode: 'closed' | 'open'
  /** Transactions per HTTP request (closed loop). */
  readonly batch: number
  readonly senders: readonly Sender[]
  /** Per sender, in nonce order from 0. */
  readonly txs: readonly (readonly SignedTx[])[]
  readonly gas: bigint
  readonly total: number
  /** Give up after this long (from the first send), reporting what was included. */
  readonly timeoutMs: number
  /** Sent with eth_sendRawTransactionSync: a transaction counts once its answer carries its receipt. */
  readonly sync: boolean
}

function sendersOf(name: string): Sender[] {
  return Array.from({ length: SENDERS }, (_, i) => {
    const key = keyFromLabel(`mosaic-e2e/${name}/sender/${i}`)
    return { key, address: addressOf(key) }
  })
}

function buildPlan(name: Plan['name'], total: number, options: { mode?: Plan['mode']; batch?: number; erc20?: boolean; sync?: boolean; timeoutMs: number }): Plan {
  const senders = sendersOf(name)
  const erc20 = options.erc20 ?? false
  const gas = erc20 ? ERC20_GAS : TRANSFER_GAS
  const txs: SignedTx[][] = senders.map(() => [])
  for (let j = 0; j < total; j++) {
    const s = j % SENDERS
    const to = addressFromLabel(`mosaic-e2e/${name}/to/${j}`)
    const fields = {
      chainId: CHAIN_ID,
      nonce: BigInt(txs[s]!.length),
      maxPriorityFeePerGas: TIP,
      maxFeePerGas: MAX_FEE,
      gas,
      to: erc20 ? TOKEN : to,
      value: erc20 ? 0n : 1n,
      data: erc20 ? hexToBytes(encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [to, 1n] })) : new Uint8Array(),
    }
    txs[s]!.push(signEip1559(fields, senders[s]!.key))
  }
  return { name, mode: options.mode ?? 'closed', batch: options.batch ?? 1, senders, txs, gas, total, timeoutMs: options.timeoutMs, sync: options.sync ?? false }
}

/** Our signer agrees with viem's byte for byte (a transfer and a contract call). */
async function checkSigner(): Promise<void> {
  const account = privateKeyToAccount(DEV_KEY_HEX)
  for (const data of ['0x', '0xa9059cbb00'] as const) {
    const fields = { chainId: CHAIN_ID, nonce: 7n, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: 50_000n, to: TOKEN, value: 3n, data: hexToBytes(data) }
    const ours = signEip1559(fields, DEV_KEY)
    const theirs = await account.signTransaction({ type: 'eip1559', chainId: 901, nonce: 7, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: 50_000n, to: TOKEN, value: 3n, data })
    if (ours.raw !== theirs) throw new Error(`signEip1559 disagrees with viem:\n${ours.raw}\n${theirs}`)
  }
}

const timeoutMs = args.quick ? 60_000 : 120_000
const sizes: Record<WorkloadName, number> = args.quick
  ? { 'transfers-single': 3_000, 'transfers-batch': 6_000, 'rate-300': 8 * RATE, erc20: 2_000, 'preconf-300': 8 * RATE }
  : { 'transfers-single': 20_000, 'transfers-batch': 40_000, 'rate-300': 30 * RATE, erc20: 10_000, 'preconf-300': 30 * RATE }

await checkSigner()
let started = performance.now()
// The warm-up runs the kind of transaction its workload times: transfers take mosaic's value-transfer
// path, ERC-20 calls the EVM, and each must be compiled by the JIT before it is timed (BENCHMARKS.md).
// Traced with --trace-opt, erc20's timed window held 1.3 s of TurboFan compilation after 2,000
// transfers of warm-up, 0.54 s after 6,000 ERC-20 calls: what runs once per block (block assembly,
// the witness, the state delta) is compiled only after some tens of blocks.
const warmupSize = args.quick ? 500 : 6_000
const warmupTransfers = buildPlan('warmup', warmupSize, { timeoutMs })
const warmupErc20 = workloads.includes('erc20') ? buildPlan('warmup-erc20', warmupSize, { erc20: true, timeoutMs }) : undefined
const warmupOf = (plan: Plan): Plan => (plan.gas === ERC20_GAS ? warmupErc20! : warmupTransfers)
const plans: Plan[] = workloads.map((name) => {
  switch (name) {
    case 'transfers-single':
      return buildPlan(name, sizes[name], { timeoutMs })
    case 'transfers-batch':
      return buildPlan(name, sizes[name], { batch: BATCH, timeoutMs })
    case 'preconf-300':
      return buildPlan(name, sizes[name], { mode: 'open', sync: true, timeoutMs: (sizes[name] / RATE) * 1000 + (args.quick ? 20_000 : 30_000) })
    case 'rate-300':
      // Offered for total / RATE seconds, then time to include what was sent.
      return buildPlan(name, sizes[name], { mode: 'open', timeoutMs: (sizes[name] / RATE) * 1000 + (args.quick ? 20_000 : 30_000) })
    case 'erc20':
      return buildPlan(name, sizes[name], { erc20: true, timeoutMs })
  }
})
console.log(
  `bench:e2e${args.quick ? ' (quick)' : ''} — nodes ${nodes.join(', ')}; workloads ${plans.map((p) => `${p.name} (${p.total})`).join(', ')}; ` +
    `block gas limit ${gasLimit}; ${SENDERS} senders, W = ${WINDOW}; signed ${[warmupTransfers, ...(warmupErc20 === undefined ? [] : [warmupErc20]), ...plans].reduce((n, p) => n + p.total, 0)} txs in ${((performance.now() - started) / 1000).toFixed(1)} s`,
)

// ---------------------------------------------------------------------------------------------
// Inclusion: the poller reports every transaction of every new block; whoever waits for a hash
// registers here.

const watched = new Map<string, (seenAt: number) => void>()
const onTx = (hash: string, seenAt: number) => {
  const callback = watched.get(hash)
  if (callback !== undefined) {
    watched.delete(hash)
    callback(seenAt)
  }
}

/** Sends signed transactions in JSON-RPC batches and waits until the poller has seen each. */
async function sendAndWait(client: RpcClient, txs: readonly SignedTx[], what: string, timeout = 60_000): Promise<void> {
  let left = txs.length
  let done: () => void = () => {}
  const all = new Promise<void>((resolve) => (done = resolve))
  for (const tx of txs) watched.set(tx.hash, () => --left === 0 && done())
  // Refusals for a full pool (a small MEMPOOL_MAX_PER_SENDER, say) are sent again a little later.
  let pending = txs
  for (let round = 0; pending.length > 0; round++) {
    const again: SignedTx[] = []
    for (let i = 0; i < pending.length; i += 50) {
      const chunk = pending.slice(i, i + 50)
      const answers = await client.batch(chunk.map((tx) => ({ method: 'eth_sendRawTransaction', params: [tx.raw] })))
      for (const [j, answer] of answers.entries()) {
        const message = answer.error?.message
        if (message === undefined || /already known/i.test(message) || (round > 0 && /nonce too low/i.test(message))) continue
        if (round < 200 && RETRYABLE.test(message)) again.push(chunk[j]!)
        else throw new Error(`${what}: ${message}`)
      }
    }
    pending = again
    if (pending.length > 0) await sleep(300)
  }
  const timer = sleep(timeout).then(() => 'timeout' as const)
  if ((await Promise.race([all, timer])) === 'timeout') throw new Error(`${what}: ${left} of ${txs.length} not included in ${timeout / 1000} s`)
}

/** Untimed, on a fresh node: fund the warm-up's and the plan's senders from dev account 0; for ERC-20, deploy the token and mint to its senders. */
async function setup(client: RpcClient, plan: Plan): Promise<void> {
  const needToken = plan.gas === ERC20_GAS
  const warmup = warmupOf(plan)
  const funding: { to: Hex; value: bigint }[] = []
  if (needToken) funding.push({ to: DEPLOYER, value: 10n * ETHER })
  for (const funded of [warmup, plan]) {
    for (const [i, sender] of funded.senders.entries()) {
      const count = BigInt(funded.txs[i]!.length)
      funding.push({ to: sender.address, value: count * (funded.gas * MAX_FEE + 1n) + ETHER })
    }
  }
  let nonce = BigInt(await client.call<string>('eth_getTransactionCount', [DEV_ADDRESS, 'latest']))
  const signed = funding.map(({ to, value }) =>
    signEip1559({ chainId: CHAIN_ID, nonce: nonce++, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: TRANSFER_GAS, to, value, data: new Uint8Array() }, DEV_KEY),
  )
  // At most 200 of one sender in the pool at once (mosaic's default limit is 256 per sender).
  for (let i = 0; i < signed.length; i += 200) await sendAndWait(client, signed.slice(i, i + 200), 'funding')
  const checks: SignedTx[] = []
  if (needToken) {
    const deployer = BigInt(await client.call<string>('eth_getTransactionCount', [DEPLOYER, 'latest']))
    if (deployer !== 0n) throw new Error(`the deployer has nonce ${deployer}: the token would not be at ${TOKEN}`)
    const deploy = encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 0n] })
    const txs = [signEip1559({ chainId: CHAIN_ID, nonce: 0n, maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: DEPLOY_GAS, to: undefined, value: 0n, data: hexToBytes(deploy) }, DEPLOYER_KEY)]
    const holders = [...warmup.senders, ...plan.senders]
    for (const holder of holders) {
      const data = encodeFunctionData({ abi: token.abi, functionName: 'mint', args: [holder.address, 10n ** 24n] })
      txs.push(signEip1559({ chainId: CHAIN_ID, nonce: BigInt(txs.length), maxPriorityFeePerGas: TIP, maxFeePerGas: MAX_FEE, gas: MINT_GAS, to: TOKEN, value: 0n, data: hexToBytes(data) }, DEPLOYER_KEY))
    }
    await sendAndWait(client, txs, 'token deployment')
    checks.push(...txs)
  }
  const receipts = await client.batch(checks.map((tx) => ({ method: 'eth_getTransactionReceipt', params: [tx.hash] })))
  const bad = receipts.find((r) => (r.result as { status?: string } | null)?.status !== '0x1')
  if (bad !== undefined) throw new Error(`setup transaction failed: ${JSON.stringify(bad)}`)
  // Every sender starts its workload at nonce 0, as the signed transactions expect.
  const nonces = await client.batch([warmup, plan].flatMap((p) => p.senders.map((s) => ({ method: 'eth_getTransactionCount', params: [s.address, 'latest'] }))))
  if (nonces.some((r) => r.result !== '0x0')) throw new Error('a sender does not start at nonce 0')
}

// ---------------------------------------------------------------------------------------------
// One workload on one node.

type SenderRun = {
  readonly txs: readonly SignedTx[]
  readonly records: TxRecord[]
  next: number
  /** Sent and neither included nor given up. */
  inflight: number
  included: number
  /** Transactions that can be included: all, or those before the first refused one. */
  target: number
  wake: (() => void) | undefined
}

type TxRecord = {
  readonly sender: SenderRun
  readonly index: number
  readonly tx: SignedTx
  state: 'unsent' | 'sent' | 'included' | 'dead'
  sentAt: number
  includedAt: number
  /**
   * eth_sendRawTransactionSync answered that it is pooled behind a missing nonce (EIP-7966's
   * nonce-gap error): an earlier nonce of its sender was still on its way (two requests
   * overtake each other while the node is busy). It is included once the gap fills: the poller
   * sees it in a block, as a client would poll for its receipt.
   */
  awaitingBlock?: boolean
}

type Result = {
  included: number
  refused: number
  retries: number
  /** Sync sends answered with the nonce-gap error, then seen in a block (`awaitingBlock`). */
  gapped: number
  timedOut: boolean
  txPerSecond: number
  latenciesMs: number[]
  /** Round trip of each send request (first attempts): a closed-loop sender waits for it before sending again. */
  sendMs: number[]
  cpuMs: number
  /** CPU of the node's main thread (mosaic's sequencing thread; anvil's is its npm launcher's). */
  mainThreadCpuMs: number
  /** The root process's CPU by thread group (`threadGroupsCpuMs`): which thread the CPU goes to. */
  threadsCpuMs: Record<string, number>
  peakRssMb: number
  peakPssMb: number
  blockIntervalMs: number | undefined
  blocks: number
  clientCpuMs: number
  wallMs: number
  processes: number
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

async function runWorkload(node: NodeHandle, client: RpcClient, poller: InclusionPoller, plan: Plan, syncClient: RpcClient = client): Promise<Result> {
  let included = 0
  let refused = 0
  let retries = 0
  let gapped = 0
  const sendMs: number[] = []
  let firstSend = Infinity
  let lastInclusion = 0
  let sendingDone = false
  let stopped = false
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const senders: SenderRun[] = plan.txs.map((txs) => ({ txs, records: [], next: 0, inflight: 0, included: 0, target: txs.length, wake: undefined }))
  const complete = () => sendingDone && senders.every((s) => s.included >= s.target)
  const records = new Map<string, (seenAt: number) => void>()

  for (const sender of senders) {
    for (const [index, tx] of sender.txs.entries()) {
      const record: TxRecord = { sender, index, tx, state: 'unsent', sentAt: NaN, includedAt: NaN }
      sender.records.push(record)
      const seen = (seenAt: number) => {
        if (record.state === 'included') return
        if (record.state === 'sent') sender.inflight--
        record.state = 'included'
        record.includedAt = seenAt
        sender.included++
        included++
        lastInclusion = seenAt
        const wake = sender.wake
        sender.wake = undefined
        wake?.()
        if (complete()) finish()
      }
      records.set(tx.hash, seen)
      // With eth_sendRawTransactionSync the answer, not the poller, says when it is there
      // (unless it was pooled behind a nonce gap).
      watched.set(tx.hash, plan.sync ? (seenAt) => record.awaitingBlock === true && seen(seenAt) : seen)
    }
  }

  /** Nothing after a refused nonce can be included: the sender stops there. */
  function refuse(record: TxRecord, message: string): void {
    refused++
    if (refused <= 3) console.log(`  ${node.name} ${plan.name}: refused: ${message}`)
    const sender = record.sender
    if (record.index >= sender.target) return
    sender.target = record.index
    for (const r of sender.records.slice(record.index)) {
      if (r.state === 'sent') sender.inflight--
      if (r.state !== 'included') r.state = 'dead'
    }
  }

  /** Sends transactions `from … from + count − 1` of a sender in one request; retries refusals that say "full" a while. */
  async function send(sender: SenderRun, from: number, count: number): Promise<void> {
    let pending = sender.records.slice(from, from + count).filter((r) => r.state === 'unsent')
    const now = performance.now()
    if (now < firstSend) firstSend = now
    // Submit time is the first attempt: a retried transaction's latency includes its retries.
    for (const record of pending) {
      record.sentAt = now
      record.state = 'sent'
    }
    sender.inflight += pending.length
    for (let attempt = 0; pending.length > 0; attempt++) {
      let answers: RpcResponse[]
      try {
        const body =
          plan.batch === 1
            ? JSON.stringify({ jsonrpc: '2.0', id: 0, method: plan.sync ? 'eth_sendRawTransactionSync' : 'eth_sendRawTransaction', params: [pending[0]!.tx.raw] })
            : JSON.stringify(pending.map((r, id) => ({ jsonrpc: '2.0', id, method: 'eth_sendRawTransaction', params: [r.tx.raw] })))
        const posted = performance.now()
        const answer = await (plan.sync ? syncClient : client).post(body)
        if (attempt === 0) sendMs.push(performance.now() - posted)
        if (plan.sync && !Array.isArray(answer) && (answer.result as { transactionHash?: string } | null)?.transactionHash !== undefined) records.get(pending[0]!.tx.hash)?.(performance.now())
        // A batch refused as a whole (HTTP 429, too large) answers one error object.
        answers = Array.isArray(answer)
          ? pending.map((_, id) => answer.find((a) => a.id === id) ?? { error: { code: 0, message: 'missing from the batch answer' } })
          : pending.map(() => answer)
      } catch (error) {
        answers = pending.map(() => ({ error: { code: 0, message: (error as Error).message } }))
      }
      const again: TxRecord[] = []
      for (const [i, answer] of answers.entries()) {
        const record = pending[i]!
        if (answer.error === undefined || record.state !== 'sent') continue
        const message = answer.error.message
        if (/already known|already imported/i.test(message)) continue
        if (plan.sync && /missing nonce/i.test(message)) {
          record.awaitingBlock = true
          gapped++
          continue
        }
        if (attempt > 0 && /nonce too low/i.test(message)) continue // taken by an earlier attempt
        if (!stopped && attempt < MAX_RETRIES && (RETRYABLE.test(message) || answer.error.code === -32005)) again.push(record)
        else refuse(record, message)
      }
      if (again.length === 0) break
      retries += again.length
      pending = again
      await sleep(Math.min(500, 50 * (attempt + 1)))
    }
    if (complete()) finish()
  }

  async function closedLoop(sender: SenderRun): Promise<void> {
    while (!stopped && sender.next < sender.target) {
      const count = Math.min(plan.batch, sender.target - sender.next)
      while (!stopped && sender.inflight + count > WINDOW) await new Promise<void>((resolve) => (sender.wake = resolve))
      if (stopped || sender.next >= sender.target) break
      const from = sender.next
      sender.next += count
      await send(sender, from, count)
    }
  }

  async function openLoop(): Promise<void> {
    const sends: Promise<void>[] = []
    const begin = performance.now()
    for (let j = 0; j < plan.total && !stopped; ) {
      const due = Math.min(plan.total, Math.floor(((performance.now() - begin) * RATE) / 1000) + 1)
      for (; j < due; j++) {
        const sender = senders[j % SENDERS]!
        const index = Math.floor(j / SENDERS)
        if (index < sender.target) sends.push(send(sender, index, 1))
      }
      await sleep(2)
    }
    await Promise.all(sends)
  }

  const tree = new ProcessTree(node.pid)
  const client0 = process.cpuUsage()
  tree.begin()
  const begun = performance.now()
  const timer = setTimeout(() => {
    stopped = true
    finish()
  }, plan.timeoutMs)
  const sending = (plan.mode === 'open' ? openLoop() : Promise.all(senders.map(closedLoop))).then(() => {
    sendingDone = true
    if (complete()) finish()
  })
  await finished
  const measured = tree.end()
  const wallMs = performance.now() - begun
  const clientCpu = process.cpuUsage(client0)
  clearTimeout(timer)
  const timedOut = stopped
  stopped = true
  for (const sender of senders) {
    const wake = sender.wake
    sender.wake = undefined
    wake?.()
  }
  await Promise.race([sending, sleep(10_000)])
  for (const sender of senders) for (const tx of sender.txs) watched.delete(tx.hash)

  // Included is not enough: a sample of the included transactions must have succeeded (an ERC-20
  // transfer short of gas would be included, and reverted).
  const sample = senders.map((s) => s.records.filter((r) => r.state === 'included').at(-1)).filter((r) => r !== undefined).slice(0, 8)
  const receipts = await client.batch(sample.map((r) => ({ method: 'eth_getTransactionReceipt', params: [r.tx.hash] })))
  const failed = receipts.filter((r) => (r.result as { status?: string } | null)?.status !== '0x1')
  if (failed.length > 0) problems.push(`${node.name} ${plan.name}: ${failed.length} of ${sample.length} sampled receipts not successful: ${JSON.stringify(failed[0]).slice(0, 300)}`)

  const latenciesMs = senders
    .flatMap((s) => s.records)
    .filter((r) => r.includedAt >= 0 && r.sentAt >= 0)
    .map((r) => r.includedAt - r.sentAt)
    .sort((a, b) => a - b)
  const blocks = poller.blocks.filter((b) => b.seenAt >= firstSend && b.seenAt <= lastInclusion)
  return {
    included,
    refused,
    retries,
    gapped,
    timedOut,
    txPerSecond: included === 0 ? 0 : included / ((lastInclusion - firstSend) / 1000),
    latenciesMs,
    sendMs,
    cpuMs: measured.cpuMs,
    mainThreadCpuMs: measured.mainThreadCpuMs,
    threadsCpuMs: measured.threadsCpuMs,
    peakRssMb: measured.peakRssMb,
    peakPssMb: measured.peakPssMb,
    blockIntervalMs: blocks.length >= 2 ? (blocks.at(-1)!.seenAt - blocks[0]!.seenAt) / (blocks.length - 1) : undefined,
    blocks: blocks.length,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
    wallMs,
    processes: measured.processes,
  }
}

// ---------------------------------------------------------------------------------------------
// The run.

/** Each round's rows, in the order they were measured. */
const roundRows: BenchRow[][] = []

for (let round = 1; round <= rounds; round++) {
  const rows: BenchRow[] = []
  roundRows.push(rows)
  if (rounds > 1) console.log(`\n=== round ${round} of ${rounds}`)
  // Each workload gets a node of its own, set up and warmed up afresh: anvil keeps its whole chain
  // in memory and slows as it grows (its eth_sendRawTransactionSync took 18 ms of CPU per
  // transaction after the four workloads before it, 0.6 ms on a fresh anvil), so no workload's
  // figures depend on the ones that ran before it.
  for (const plan of plans) {
    for (const name of nodes) {
      started = performance.now()
      const options = { chainId: CHAIN_ID, gasLimit, profile: args.profile }
      const perf = perfDir !== undefined && name !== 'anvil'
      const node =
        name === 'anvil'
          ? await startAnvilNode(options)
          : await startMosaicNode(name === 'devnet' ? 'devnet' : 'sequencer', { ...options, env: VARIANT_ENV[name] ?? {}, nodeArgs: perf ? ['--perf-basic-prof'] : [] })
      console.log(`\n${name} for ${plan.name}: up on ${node.url} in ${((performance.now() - started) / 1000).toFixed(1)} s${node.log === undefined ? '' : ` (log ${node.log})`}`)
      const client = new RpcClient(node.url, SENDERS)
      // eth_sendRawTransactionSync holds a connection until its receipt: at 300 tx/s and a 0.25 s
      // block that is ~75 at once, so the sync workload gets sockets enough not to queue in the client.
      const syncClient = new RpcClient(node.url, 512)
      const head = Number(BigInt(await client.call<string>('eth_blockNumber')))
      const poller = new InclusionPoller(node.url, head + 1, onTx)
      poller.start()
      try {
        started = performance.now()
        await setup(client, plan)
        const warmup = warmupOf(plan)
        const warm = await runWorkload(node, client, poller, warmup)
        console.log(`${name}: setup and warm-up (${warm.included}/${warmup.total} included) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
        await sleep(1000) // let the node settle (blocks still being sealed, roots, batches)
        const perfData = perf ? join(perfDir!, `${name}-${plan.name}${rounds > 1 ? `-round${round}` : ''}.data`) : undefined
        const recording = perfData === undefined ? undefined : recordPerf(node.pid, perfData)
        const r = await runWorkload(node, client, poller, plan, syncClient)
        if (recording !== undefined) {
          await recording.stop()
          const text = formatPerfSummary(await summarizePerf(perfData!, node.pid), r.included)
          writeFileSync(perfData!.replace(/\.data$/, '.txt'), `${text}\n`)
          // The JIT's symbol map (--perf-basic-prof) is read by the summary; nothing else needs it.
          rmSync(`/tmp/perf-${node.pid}.map`, { force: true })
          console.log(`  perf (${perfData!.replace(/\.data$/, '.txt')}):\n${text.split('\n').slice(0, 24).map((l) => `    ${l}`).join('\n')}`)
        }
        const add = (metric: string, value: number | undefined) => {
          if (value !== undefined && Number.isFinite(value)) rows.push({ workload: plan.name, variant: name, metric, value })
        }
        if (r.included > 0) {
          add('tx_per_s', r.txPerSecond)
          add('p50_ms', percentile(r.latenciesMs, 50))
          add('p90_ms', percentile(r.latenciesMs, 90))
          add('p99_ms', percentile(r.latenciesMs, 99))
          add('cpu_ms_per_tx', r.cpuMs / r.included)
          // anvil's root process is the npm package's launcher: its main thread says nothing.
          if (name !== 'anvil') add('main_thread_cpu_ms_per_tx', r.mainThreadCpuMs / r.included)
        }
        if (r.sendMs.length > 0) add('send_ms', r.sendMs.reduce((a, b) => a + b, 0) / r.sendMs.length)
        add('peak_rss_mb', r.peakRssMb)
        add('peak_pss_mb', r.peakPssMb)
        add('block_interval_ms', r.blockIntervalMs)
        add('included', r.included)
        add('refused', r.refused)
        add('retries', r.retries)
        const line =
          `${name} ${plan.name}: ${r.included}/${plan.total} included in ${(r.wallMs / 1000).toFixed(1)} s${r.timedOut ? ' (TIMED OUT)' : ''}, ` +
          `${r.txPerSecond.toFixed(0)} tx/s, node CPU ${(r.cpuMs / 1000).toFixed(1)} s` +
          (name === 'anvil' ? '' : ` (main thread ${(r.mainThreadCpuMs / 1000).toFixed(1)} s, busy ${((100 * r.mainThreadCpuMs) / r.wallMs).toFixed(0)}% of the run)`) +
          `, client CPU ${(r.clientCpuMs / 1000).toFixed(1)} s ` +
          `(${(r.clientCpuMs / Math.max(1, r.included)).toFixed(3)} ms/tx), ${r.processes} node processes, ${r.blocks} blocks, ${r.refused} refused, ${r.retries} retries${r.gapped > 0 ? `, ${r.gapped} pooled behind a nonce gap (then seen in a block)` : ''}`
        console.log(line)
        if (name !== 'anvil' && r.included > 0) {
          const groups = Object.entries(r.threadsCpuMs).sort(([a], [b]) => (a === 'main' ? -1 : b === 'main' ? 1 : a.localeCompare(b)))
          console.log(`  CPU ms/tx by thread: ${groups.map(([group, ms]) => `${group} ${(ms / r.included).toFixed(3)}`).join(', ')}`)
        }
        if (r.timedOut || r.refused > 0) problems.push(line)
        if (poller.errors > 0) problems.push(`${name} ${plan.name}: ${poller.errors} failed polls`)
      } catch (error) {
        if (node.log !== undefined) console.error(`${name} log:\n${tail(node.log)}`)
        throw error
      } finally {
        await poller.stop()
        client.close()
        syncClient.close()
        started = performance.now()
        await node.stop()
        console.log(`${name}: stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`)
      }
    }
    if (rounds > 1) {
      // This workload's ratios in this round, as they come: the spread the medians are taken over.
      for (const r of ratiosFor(rows.filter((row) => row.workload === plan.name))) console.log(`round ${round} ${r.workload} ${r.name}: ${r.value.toFixed(3)}×`)
    }
  }
}

function ratiosFor(rows: readonly BenchRow[]): BenchRatio[] {
  const ratios: BenchRatio[] = []
  for (const variant of ['sequencer', 'devnet']) {
    ratios.push(...ratiosOf(rows, 'tx_per_s', variant, 'anvil'))
    ratios.push(...ratiosOf(rows, 'p50_ms', variant, 'anvil', { metricInName: true }))
    ratios.push(...ratiosOf(rows, 'cpu_ms_per_tx', variant, 'anvil', { metricInName: true }))
    ratios.push(...ratiosOf(rows, 'peak_rss_mb', variant, 'anvil', { metricInName: true }))
    ratios.push(...ratiosOf(rows, 'peak_pss_mb', variant, 'anvil', { metricInName: true }))
  }
  // Preconfirmed receipts: the tail too (targets p50 ≤ 30 ms, p99 ≤ 100 ms).
  for (const variant of ['sequencer', 'devnet']) ratios.push(...ratiosOf(rows, 'p99_ms', variant, 'anvil', { metricInName: true }).filter((r) => r.workload === 'preconf-300'))
  // What keeping state at past blocks costs the head (target ≥ 0.95).
  ratios.push(...ratiosOf(rows, 'tx_per_s', 'sequencer', 'sequencer-history-off'))
  // What the parallel executor brings end to end (issue 13's target ≥ 1.1), and its preconfirmation latency.
  ratios.push(...ratiosOf(rows, 'tx_per_s', 'sequencer-parallel', 'sequencer'))
  ratios.push(...ratiosOf(rows, 'p99_ms', 'sequencer-parallel', 'sequencer', { metricInName: true }).filter((r) => r.workload === 'preconf-300'))
  return ratios
}

// Display order: workloads, then nodes, as the table has always read.
const rows = medianByKey(roundRows, (r) => `${r.workload}\u0000${r.variant}\u0000${r.metric}`).sort((a, b) => nodes.indexOf(a.variant as (typeof nodes)[number]) - nodes.indexOf(b.variant as (typeof nodes)[number]))
const ORDER = [...WORKLOADS] as string[]
const ratios = medianByKey(roundRows.map(ratiosFor), (r) => `${r.workload}\u0000${r.name}`)
ratios.sort((a, b) => ORDER.indexOf(a.workload) - ORDER.indexOf(b.workload))
if (rounds > 1) console.log(`\n${rounds} rounds: each figure below is the median over the rounds, each ratio the median of the rounds' ratios`)
const report = createReport({ bench: 'e2e', quick: args.quick, rows, ratios })
printReport(report, {
  tx_per_s: 'tx/s',
  p50_ms: 'p50 ms',
  p90_ms: 'p90 ms',
  p99_ms: 'p99 ms',
  cpu_ms_per_tx: 'CPU ms/tx',
  main_thread_cpu_ms_per_tx: 'main thread CPU ms/tx',
  peak_rss_mb: 'peak RSS MB',
  peak_pss_mb: 'peak PSS MB',
  block_interval_ms: 'block ms',
  send_ms: 'send ms',
})
writeReport(report, args.out)
if (args.profile !== undefined) console.log(`CPU profiles of the mosaic processes in ${args.profile}/<node>/`)
if (perfDir !== undefined) console.log(`perf recordings of the mosaic processes, and their summaries, in ${perfDir}/`)
if (problems.length > 0) console.log(`\nproblems:\n${problems.join('\n')}`)
process.exit(0)
