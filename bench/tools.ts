/**
 * `npm run bench:tools [-- --quick] [-- --profile <dir>]`: the latency of the methods tools call
 * (issue 15: tracing, overridden calls, access lists, eth_simulateV1), mosaic against anvil in one
 * run on the same machine (BENCHMARKS.md's conventions).
 *
 * anvil from npm (`--chain-id 901 --hardfork prague --steps-tracing`, automine) in its own process;
 * a mosaic devnet node in this process (`openNode` + `startRpcServer`, LMDB in a temp dir, as
 * test/integration/harness.ts `startNode()`). The same key funds and deploys `Tracee` at the same
 * nonce on both (so every address is equal), then sends the same transactions to both —
 * `run(5)`, `spawn(9)`, a plain transfer — and waits for their receipts.
 *
 * Then, over HTTP with the same keep-alive client, one request at a time, the two nodes
 * alternating request by request (which goes first swaps every repetition), N repetitions each
 * after a warm-up, wall-clock ms of (p50 is the median, p99 the nearest rank):
 *  1. `debug_traceTransaction` of the run(5) transaction, default struct logger;
 *  2. the same with `callTracer`;
 *  3. the same with `prestateTracer` in `diffMode`;
 *  4. `debug_traceCall` of run(5) at `latest` with `callTracer`;
 *  5. `eth_call` of `total()` with a state override (`stateDiff` on Tracee's slot 0);
 *  6. `eth_createAccessList` of run(5) from the sender, gas 0x100000;
 *  7. `eth_simulateV1`, one block of three calls (run(3), total(), a 0x10-wei transfer), with
 *     `traceTransfers`.
 * Each answer must carry no `error` (else the bench stops and says which); the size of each
 * node's answer is reported too. The time includes the client's JSON parse of the answer, as a
 * tool's would. `--profile <dir>`: after timing, one more untimed pass of each method against
 * mosaic alone under the CPU profiler, `<dir>/tools-<method>.cpuprofile` (summarize with
 * bench/profile-summary.ts).
 *
 * Sizes: 200 repetitions per method and node; `--quick` 30.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeFunctionData, type Hex, numberToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../contracts/artifacts.ts'
import { loadConfig } from '../src/config/config.ts'
import { type Anvil, startAnvil } from '../src/l1/anvil.ts'
import { openNode } from '../src/node/node.ts'
import { startRpcServer } from '../src/rpc/server.ts'
import { RpcClient, type RpcResponse } from './e2e-client.ts'
import { createSectionProfiler } from './profile.ts'
import { type BenchRatio, type BenchRow, createReport, median, parseBenchArgs, printReport, writeReport } from './report.ts'

const args = parseBenchArgs('tools')
const REPS = args.quick ? 30 : 200
const WARMUP = args.quick ? 5 : 20
const CHAIN_ID = 901
const GAS_PRICE = 20_000_000_000n
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
const OTHER: Hex = '0x00000000000000000000000000000000000beef1'
/** The third dev key of test/integration/harness.ts (funded on the devnet), as the differential tests use. */
const sender = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a')
const tracee = loadArtifact('Tracee')

type Endpoint = { name: 'anvil' | 'mosaic'; url: string; client: RpcClient }

function fail(message: string): never {
  console.error(`\nbench:tools: ${message}`)
  process.exit(1)
}

/** One call; stops the bench on an error answer. */
async function call<T = unknown>(node: Endpoint, method: string, params: unknown[]): Promise<T> {
  const answer = (await node.client.post(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))) as RpcResponse
  if (answer.error !== undefined) fail(`${node.name} answered ${method} with error ${answer.error.code}: ${answer.error.message}`)
  return answer.result as T
}

// ---------------------------------------------------------------------------------------------
// The two nodes.

const dataDir = mkdtempSync(join(tmpdir(), 'mosaic-tools-'))
let anvil: Anvil | undefined
process.on('exit', () => {
  rmSync(dataDir, { recursive: true, force: true })
  anvil?.process.stdin?.destroy() // its watchdog stops anvil at EOF
})
const config = loadConfig({
  argv: ['--data-dir', dataDir, '--rpc-port', '0', '--block-time-ms', '50'],
  env: {},
  cwd: process.cwd(),
  mode: 'devnet',
})
const [node, anvilNode] = await Promise.all([openNode(config), startAnvil(['--chain-id', String(CHAIN_ID), '--hardfork', 'prague', '--steps-tracing'])])
anvil = anvilNode
const server = await startRpcServer(node)
node.sequencer.start()
const mosaic: Endpoint = { name: 'mosaic', url: server.url, client: new RpcClient(server.url, 1) }
const anvilEndpoint: Endpoint = { name: 'anvil', url: anvil.url, client: new RpcClient(anvil.url, 1) }
const nodes = [anvilEndpoint, mosaic] as const

// The same balance and nonce for the sender, the same fee recipient.
const balance = await call<string>(mosaic, 'eth_getBalance', [sender.address, 'latest'])
await call(anvilEndpoint, 'anvil_setBalance', [sender.address, balance])
await call(anvilEndpoint, 'anvil_setCoinbase', [FEE_RECIPIENT])
const nonces = await Promise.all(nodes.map((n) => call<string>(n, 'eth_getTransactionCount', [sender.address, 'latest'])))
if (nonces[0] !== nonces[1]) fail(`the sender's nonce differs: anvil ${nonces[0]}, mosaic ${nonces[1]}`)

type Receipt = { status: string; contractAddress: Hex | null }
/** Sends the same transaction to both nodes; resolves with each node's hash once both receipts are in. */
async function send(name: string, request: { to?: Hex; data: Hex; value?: bigint; gas: bigint }): Promise<{ anvil: Hex; mosaic: Hex; receipt: Receipt }> {
  const hashes: Hex[] = []
  for (const n of nodes) {
    const nonce = await call<string>(n, 'eth_getTransactionCount', [sender.address, 'pending'])
    const signed = await sender.signTransaction({
      type: 'legacy',
      chainId: CHAIN_ID,
      nonce: Number(nonce),
      gasPrice: GAS_PRICE,
      gas: request.gas,
      ...(request.to === undefined ? {} : { to: request.to }),
      value: request.value ?? 0n,
      data: request.data,
    })
    hashes.push(await call<Hex>(n, 'eth_sendRawTransaction', [signed]))
  }
  const receipts: Receipt[] = []
  for (const [i, n] of nodes.entries()) {
    for (let tries = 0; ; tries++) {
      const receipt = await call<Receipt | null>(n, 'eth_getTransactionReceipt', [hashes[i]])
      if (receipt !== null) {
        if (receipt.status !== '0x1') fail(`${name} failed on ${n.name}`)
        receipts.push(receipt)
        break
      }
      if (tries > 400) fail(`${name} was not mined on ${n.name} in 10 s`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  if (receipts[0]!.contractAddress !== receipts[1]!.contractAddress) fail(`${name}: different contract addresses (${receipts[0]!.contractAddress}, ${receipts[1]!.contractAddress})`)
  return { anvil: hashes[0]!, mosaic: hashes[1]!, receipt: receipts[1]! }
}

const deploy = await send('deploy', { data: tracee.bytecode, gas: 2_000_000n })
const TRACEE = deploy.receipt.contractAddress!
const encode = (functionName: 'run' | 'spawn' | 'total', fnArgs: readonly bigint[] = []) => encodeFunctionData({ abi: tracee.abi, functionName, args: fnArgs } as never) as Hex
const runTx = await send('run(5)', { to: TRACEE, data: encode('run', [5n]), gas: 1_000_000n })
await send('spawn(9)', { to: TRACEE, data: encode('spawn', [9n]), gas: 1_000_000n })
await send('transfer', { to: OTHER, data: '0x', value: 12_345n, gas: 21_000n })
console.log(`Tracee at ${TRACEE}; run(5) is ${runTx.mosaic}; ${REPS} repetitions per method and node (${WARMUP} warm-up)`)

// ---------------------------------------------------------------------------------------------
// The methods.

const run5 = { from: sender.address, to: TRACEE, data: encode('run', [5n]), gas: '0x100000' }
const slot0 = numberToHex(0, { size: 32 })
type Method = { label: string; method: string; params: (node: Endpoint) => unknown[]; check?: (result: unknown) => string | undefined }
const methods: Method[] = [
  { label: 'debug_traceTransaction struct logger', method: 'debug_traceTransaction', params: (n) => [runTx[n.name], {}] },
  { label: 'debug_traceTransaction callTracer', method: 'debug_traceTransaction', params: (n) => [runTx[n.name], { tracer: 'callTracer' }] },
  { label: 'debug_traceTransaction prestateTracer diffMode', method: 'debug_traceTransaction', params: (n) => [runTx[n.name], { tracer: 'prestateTracer', tracerConfig: { diffMode: true } }] },
  { label: 'debug_traceCall callTracer', method: 'debug_traceCall', params: () => [run5, 'latest', { tracer: 'callTracer' }] },
  {
    label: 'eth_call stateDiff',
    method: 'eth_call',
    params: () => [{ to: TRACEE, data: encode('total') }, 'latest', { [TRACEE]: { stateDiff: { [slot0]: numberToHex(77, { size: 32 }) } } }],
    check: (result) => (BigInt(result as string) === 77n ? undefined : `total() with slot 0 overridden to 77 returned ${String(result)}`),
  },
  { label: 'eth_createAccessList', method: 'eth_createAccessList', params: () => [run5, 'latest'] },
  {
    label: 'eth_simulateV1 traceTransfers',
    method: 'eth_simulateV1',
    params: () => [
      {
        blockStateCalls: [
          {
            calls: [
              { from: sender.address, to: TRACEE, data: encode('run', [3n]) },
              { from: sender.address, to: TRACEE, data: encode('total') },
              { from: sender.address, to: OTHER, value: '0x10' },
            ],
          },
        ],
        traceTransfers: true,
      },
      'latest',
    ],
    check: (result) => {
      const calls = (result as { calls: { status: string }[] }[])[0]?.calls ?? []
      return calls.length === 3 && calls.every((c) => c.status === '0x1') ? undefined : `expected three successful calls, got ${JSON.stringify(calls.map((c) => c.status))}`
    },
  },
]

/** One request, timed from serialising it to having parsed the answer; stops the bench on an error. */
async function timed(node: Endpoint, m: Method, body: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now()
  const answer = (await node.client.post(body)) as RpcResponse
  const ms = performance.now() - started
  if (answer.error !== undefined) fail(`${node.name} answered ${m.label} with error ${answer.error.code}: ${answer.error.message}`)
  if (answer.result === undefined || answer.result === null) fail(`${node.name} answered ${m.label} without a result`)
  const problem = m.check?.(answer.result)
  if (problem !== undefined) fail(`${node.name}, ${m.label}: ${problem}`)
  return { ms, bytes: JSON.stringify(answer.result).length }
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((sorted.length * p) / 100) - 1)]!
}

const rows: BenchRow[] = []
const ratios: BenchRatio[] = []
const wide: string[][] = []
for (const m of methods) {
  const bodies = new Map(nodes.map((n) => [n.name, JSON.stringify({ jsonrpc: '2.0', id: 1, method: m.method, params: m.params(n) })]))
  const times = new Map(nodes.map((n) => [n.name, [] as number[]]))
  const bytes = new Map<string, number>()
  for (let i = 0; i < WARMUP + REPS; i++) {
    for (const n of i % 2 === 0 ? nodes : [...nodes].reverse()) {
      const { ms, bytes: size } = await timed(n, m, bodies.get(n.name)!)
      if (i >= WARMUP) times.get(n.name)!.push(ms)
      bytes.set(n.name, size)
    }
  }
  const p: Record<string, { p50: number; p99: number }> = {}
  for (const n of nodes) {
    const sorted = times.get(n.name)!.sort((a, b) => a - b)
    p[n.name] = { p50: median(sorted), p99: percentile(sorted, 99) }
    rows.push({ workload: m.label, variant: n.name, metric: 'p50_ms', value: p[n.name]!.p50 })
    rows.push({ workload: m.label, variant: n.name, metric: 'p99_ms', value: p[n.name]!.p99 })
    rows.push({ workload: m.label, variant: n.name, metric: 'response_kb', value: bytes.get(n.name)! / 1024 })
  }
  const ratio = p.mosaic!.p50 / p.anvil!.p50
  ratios.push({ workload: m.label, name: 'mosaic/anvil p50', value: ratio })
  wide.push([m.label, p.anvil!.p50.toFixed(2), p.anvil!.p99.toFixed(2), p.mosaic!.p50.toFixed(2), p.mosaic!.p99.toFixed(2), `${ratio.toFixed(2)}×`])
  console.log(`  ${m.label}: anvil ${p.anvil!.p50.toFixed(2)} ms, mosaic ${p.mosaic!.p50.toFixed(2)} ms`)
}

if (args.profile !== undefined) {
  const profiler = await createSectionProfiler(args.profile)
  for (const m of methods) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: m.method, params: m.params(mosaic) })
    await profiler.start()
    for (let i = 0; i < REPS; i++) await timed(mosaic, m, body)
    console.log(`profile: ${await profiler.stop(`tools-${m.label.replaceAll(/[^A-Za-z0-9_]+/g, '-')}`)}`)
  }
}

for (const n of nodes) n.client.close()
await server.close()
await node.close()
await anvil.stop()

const report = createReport({ bench: 'tools', quick: args.quick, rows, ratios })
printReport(report, { p50_ms: 'p50 ms', p99_ms: 'p99 ms', response_kb: 'answer KB' })
// The same figures side by side, one row per method.
const header = ['method', 'anvil p50 ms', 'anvil p99 ms', 'mosaic p50 ms', 'mosaic p99 ms', 'mosaic p50 / anvil p50']
const widths = header.map((h, i) => Math.max(h.length, ...wide.map((r) => r[i]!.length)))
console.log('')
for (const line of [header, widths.map((w) => '-'.repeat(w)), ...wide]) console.log(line.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | '))
writeReport(report, args.out)
process.exit(0)
