/**
 * `npm run bench:history [-- --quick]`: what keeping state at every block costs and gives
 * (issue 14; BENCHMARKS.md's conventions).
 *
 * A real node (`openNode`, sequencer mode, LMDB in a temp dir) from a genesis of 200 funded
 * senders and MosaicToken (every sender holds tokens). Three such nodes build a long chain from
 * the same pre-signed blocks: one with history on (`HISTORY_BLOCKS=all`), one with it off
 * (`HISTORY_BLOCKS=0`), and a second history-off node as a control, whose ratio to the first is
 * the run's noise floor. Each block holds 100 transactions, half ETH transfers and half token
 * transfers, each to one of 10,000 recipients; it is sealed as soon as its transactions are
 * pooled (no mini-batches: `MINIBLOCK_MS` above the block time), so the build's tx/s is the
 * head's throughput (no RPC; `bench:e2e` has the RPC path).
 *
 * Figures:
 * - `build`: tx/s with history on and off over the whole build, and the ratio the target
 *   (≥ 0.95) is checked against: the median over blocks of each block's time with history off
 *   over its time with history on. Each block is built by the three nodes back to back, in a random
 *   order, so a burst of machine noise (a shared 2-core machine) moves one block's ratio, not
 *   the ratio of two totals;
 * - `disk`: bytes of the change-set tables and their indexes (LMDB pages) per block and per tx;
 * - `reads`: p50/p99 over JSON-RPC (the node's own HTTP server, one request at a time) of
 *   `eth_getBalance` and of `eth_call` (`balanceOf`) at uniformly random past blocks, of random
 *   recipients, against the same reads at `latest`.
 *
 * Sizes: 2,000 blocks (200,000 txs); `--quick` 300 blocks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { encodeFunctionData } from 'viem'
import { loadArtifact } from '../contracts/artifacts.ts'
import { loadConfig } from '../src/config/config.ts'
import { keccak256 } from '../src/crypto/crypto.ts'
import { openNode } from '../src/node/node.ts'
import { startRpcServer } from '../src/rpc/server.ts'
import { createRandom } from '../src/utils/random.ts'
import { addressOf, type Hex, keyFromLabel, RpcClient, signEip1559, type SignedTx } from './e2e-client.ts'
import { createReport, type BenchRow, parseBenchArgs, printReport, type BenchRatio, writeReport } from './report.ts'

const args = parseBenchArgs('history')
const BLOCKS = args.quick ? 300 : 2_000
const BLOCK_TXS = 100
const SENDERS = 200
const RECIPIENTS = 10_000
const READS = args.quick ? 500 : 2_000
const CHAIN_ID = 901n
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
const TOKEN = '0x00000000000000000000000000000000000070c0' as Hex
const token = loadArtifact('MosaicToken')

const senders = Array.from({ length: SENDERS }, (_, i) => keyFromLabel(`mosaic-history/sender/${i}`))
const recipient = (i: number): Hex => bytesToHex(keccak256(new Uint8Array(new Uint32Array([i, 0x4157]).buffer)).subarray(12)) as Hex

function pad32(value: bigint | Hex): string {
  return (typeof value === 'bigint' ? value.toString(16) : value.slice(2)).padStart(64, '0')
}

function genesis(dir: string): string {
  const alloc: Record<string, unknown> = {}
  const storage: Record<string, string> = { [`0x${pad32(2n)}`]: `0x${pad32(10n ** 30n)}` }
  for (const key of senders) {
    const address = addressOf(key)
    alloc[address] = { balance: `0x${(10n ** 24n).toString(16)}` }
    // balanceOf is mapping slot 3: keccak(address ‖ 3).
    storage[bytesToHex(keccak256(hexToBytes(`0x${pad32(address)}${pad32(3n)}`)))] = `0x${pad32(10n ** 24n)}`
  }
  alloc[TOKEN] = { balance: '0x0', code: token.deployedBytecode, storage }
  const path = join(dir, 'genesis.json')
  writeFileSync(path, JSON.stringify({ config: { chainId: Number(CHAIN_ID) }, alloc }))
  return path
}

/** Every block's transactions, signed once for both builds. */
function plan(): SignedTx[][] {
  const random = createRandom(14)
  const blocks: SignedTx[][] = []
  for (let b = 0; b < BLOCKS; b++) {
    blocks.push(
      Array.from({ length: BLOCK_TXS }, (_, j) => {
        const s = (b * BLOCK_TXS + j) % SENDERS
        const nonce = BigInt(Math.floor((b * BLOCK_TXS + j) / SENDERS))
        const to = recipient(random.int(RECIPIENTS))
        const base = { chainId: CHAIN_ID, nonce, maxPriorityFeePerGas: 1n, maxFeePerGas: 10n ** 10n }
        return j % 2 === 0
          ? signEip1559({ ...base, gas: 21_000n, to, value: 1n, data: new Uint8Array() }, senders[s]!)
          : signEip1559({ ...base, gas: 80_000n, to: TOKEN, value: 0n, data: hexToBytes(encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [to, 1n] })) }, senders[s]!)
      }),
    )
  }
  return blocks
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!
}

async function timedReads(client: RpcClient, requests: { method: string; params: unknown[] }[]): Promise<number[]> {
  const ms: number[] = []
  for (const request of requests) {
    const started = performance.now()
    const answer = await client.batch([request])
    ms.push(performance.now() - started)
    if (answer[0]?.error !== undefined) throw new Error(`${request.method}: ${answer[0].error.message}`)
  }
  return ms.sort((a, b) => a - b)
}

const rows: BenchRow[] = []
const blocks = plan()
const add = (workload: string, variant: string, metric: string, value: number) => rows.push({ workload, variant, metric, value })

// `off-control` is a second history-off node: its ratio to `off` is the noise floor of the run.
const VARIANTS = ['on', 'off', 'off-control'] as const
const dirs = VARIANTS.map((history) => mkdtempSync(join(tmpdir(), `mosaic-history-${history}-`)))
process.on('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
const variants = await Promise.all(
  VARIANTS.map(async (history, i) => {
    const dir = dirs[i]!
    const config = loadConfig({
      argv: ['--data-dir', join(dir, 'data'), '--genesis-file', genesis(dir), '--fee-recipient', FEE_RECIPIENT, '--block-time-ms', '3600000', '--rpc-port', '0', '--history-blocks', history === 'on' ? 'all' : '0', '--miniblock-ms', '3600000'],
      env: {},
      cwd: dir,
      mode: 'sequencer',
    })
    const node = await openNode(config)
    node.sequencer.start()
    return { history, node, ms: 0, included: 0, blockMs: [] as number[] }
  }),
)
// The nodes in one process, block by block, in a random order per block: the same JIT, the same
// machine noise, for all.
const order = createRandom(31)
for (const [b, txs] of blocks.entries()) {
  const turn = [...variants]
  for (let i = turn.length - 1; i > 0; i--) {
    const j = order.int(i + 1)
    ;[turn[i], turn[j]] = [turn[j]!, turn[i]!]
  }
  for (const variant of turn) {
    const started = performance.now()
    for (const tx of txs) await variant.node.mempool.add(hexToBytes(tx.raw as Hex))
    const block = await variant.node.sequencer.seal()
    const ms = performance.now() - started
    variant.ms += ms
    variant.blockMs.push(ms)
    variant.included += block?.block.transactions.length ?? 0
  }
  if ((b + 1) % 500 === 0) console.log(`  ${b + 1} blocks`)
}
for (const variant of variants) {
  const started = performance.now()
  await variant.node.commitment.flush()
  variant.ms += performance.now() - started
  if (variant.included !== BLOCKS * BLOCK_TXS) throw new Error(`history ${variant.history}: only ${variant.included} of ${BLOCKS * BLOCK_TXS} transactions were included`)
  console.log(`history ${variant.history}: ${BLOCKS} blocks, ${variant.included} txs in ${(variant.ms / 1000).toFixed(1)} s`)
  add('build', `history-${variant.history}`, 'tx_per_s', variant.included / (variant.ms / 1000))
}
await variants[1]!.node.close()
await variants[2]!.node.close()

const node = variants[0]!.node
const bytes = node.store.historyBytes()
const total = bytes.changeSets + bytes.index
add('disk', 'change sets', 'bytes_per_block', total / BLOCKS)
add('disk', 'change sets', 'bytes_per_tx', total / (BLOCKS * BLOCK_TXS))
console.log(`change sets and indexes, bytes: ${JSON.stringify(bytes)}`)

const server = await startRpcServer(node)
const client = new RpcClient(server.url, 1)
const random = createRandom(99)
const head = node.chain.head
const pastBlock = () => `0x${(1 + random.int(Number(head) - 1)).toString(16)}`
const balanceOf = (to: Hex) => ({ to: TOKEN, data: encodeFunctionData({ abi: token.abi, functionName: 'balanceOf', args: [to] }) })
const reads = {
  getBalance: (at: () => string) => Array.from({ length: READS }, () => ({ method: 'eth_getBalance', params: [recipient(random.int(RECIPIENTS)), at()] })),
  call: (at: () => string) => Array.from({ length: READS }, () => ({ method: 'eth_call', params: [balanceOf(recipient(random.int(RECIPIENTS))), at()] })),
}
for (const [method, build] of Object.entries(reads)) {
  await timedReads(client, build(() => 'latest').slice(0, 200)) // warm-up
  for (const [variant, at] of [['latest', () => 'latest'], ['past block', pastBlock]] as const) {
    const ms = await timedReads(client, build(at))
    add(`eth_${method}`, variant, 'p50_ms', percentile(ms, 50))
    add(`eth_${method}`, variant, 'p99_ms', percentile(ms, 99))
  }
}
client.close()
await server.close()
await node.close()

const value = (workload: string, variant: string, metric: string) => rows.find((r) => r.workload === workload && r.variant === variant && r.metric === metric)!.value
/** The median over blocks of `b`'s block time over `a`'s: `a`'s speed relative to `b`'s. */
const medianBlockRatio = (a: (typeof variants)[0], b: (typeof variants)[0]) => percentile(a.blockMs.map((ms, i) => b.blockMs[i]! / ms).sort((x, y) => x - y), 50)
const [on, off, control] = variants as [(typeof variants)[0], (typeof variants)[0], (typeof variants)[0]]
const ratios: BenchRatio[] = [
  { workload: 'build', name: 'tx/s history on / off, whole build', value: value('build', 'history-on', 'tx_per_s') / value('build', 'history-off', 'tx_per_s') },
  { workload: 'build', name: 'tx/s history on / off, median block', value: medianBlockRatio(on, off) },
  { workload: 'build', name: 'control: off / off, median block', value: medianBlockRatio(control, off) },
  { workload: 'eth_getBalance', name: 'p50 past / latest', value: value('eth_getBalance', 'past block', 'p50_ms') / value('eth_getBalance', 'latest', 'p50_ms') },
  { workload: 'eth_call', name: 'p50 past / latest', value: value('eth_call', 'past block', 'p50_ms') / value('eth_call', 'latest', 'p50_ms') },
]
const report = createReport({ bench: 'history', quick: args.quick, rows, ratios })
printReport(report, { tx_per_s: 'tx/s', bytes_per_block: 'bytes/block', bytes_per_tx: 'bytes/tx', p50_ms: 'p50 ms', p99_ms: 'p99 ms' })
writeReport(report, args.out)
process.exit(0)
