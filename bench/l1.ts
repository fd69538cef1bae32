/**
 * `npm run bench:l1 [-- --quick]`: what posting a batch costs on the L1, per transaction, for
 * each workload of BENCHMARKS.md — calldata vs blobs (EIP-4844), deflate-compressed vs raw batch
 * data (`l1/batch-data.ts`).
 *
 * Each workload (100,000 funded accounts, 8,000 transactions; quick: 2,000 and 1,600) is executed
 * once by mosaic's sequential executor in blocks of 200 and assembled by the sequencer's own
 * `assembleBlock`, so the batch data holds the real block RLP the sequencer would store: signed
 * transactions, parent hashes, transaction and receipt roots, blooms. The post-state roots and
 * witness hashes — in the batch data and in each header's lagged `stateRoot` (STATE_ROOT_LAG) —
 * are random 32-byte values: they are hashes, incompressible either way, so only their count
 * matters, and computing them would add minutes without changing a byte count.
 *
 * Each variant then posts the same blocks for real, on one anvil, to an inbox of its own, through
 * the production path: a `Poster` (planner, in-memory job queue, `post`) and an `L1Sender` fed by
 * a `BatchSource` over the executed blocks. Batches are `BATCH_BLOCKS` = 8 blocks (1,600
 * transactions: full mode posts 5 batches per variant, quick mode 1), calldata frames FRAME_BYTES
 * at most (default), blobs one frame each and up to BLOBS_PER_TX per L1 transaction. Every figure
 * comes from the receipts (`gasUsed`, `blobGasUsed`) and the poster's own job results (batch data
 * bytes), and is deterministic: the same run twice gives the same numbers, so there is no median.
 *
 * Rows (per L2 transaction): batch data bytes; L1 bytes — the batch data itself in calldata, the
 * whole blobs for blobs (131,072 bytes each, used or not); L1 execution gas (frame transactions +
 * `submitBatch`, as the receipts say: EIP-7623's calldata floor included); blob gas; and for blobs
 * the share of the blob bytes the data fills (at most 31/32 less one byte: viem's blob encoding
 * carries 31 bytes per 32-byte field element, `BLOB_FRAME_BYTES`). Ratios: `calldata-deflate/calldata-raw` of batch data bytes (what
 * compression saves), `blobs-deflate/blobs-raw` of L1 bytes (the blob space it saves, whole blobs),
 * and `blobs-deflate/calldata-deflate`, `blobs-raw/calldata-raw` of L1 execution gas.
 *
 * KZG commitments and proofs are pure JS (~2 s per blob), which is what the run time is spent on.
 */
import { availableParallelism } from 'node:os'
import { type Block, createBlock, createBlockHeader } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { createPublicClient, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createChainCommon } from '../src/chain/common.ts'
import { decodeTransaction } from '../src/chain/transaction.ts'
import { defaults } from '../src/config/config.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { startAnvil } from '../src/l1/anvil.ts'
import type { BatchEncoding } from '../src/l1/batch-data.ts'
import { deployInbox } from '../src/l1/deploy.ts'
import { InboxReader } from '../src/l1/inbox.ts'
import { type BatchSource, type DAMode, Poster, type PostJob, type PostResult } from '../src/l1/poster.ts'
import { L1Sender } from '../src/l1/sender.ts'
import { createMemoryQueues } from '../src/queue/memory.ts'
import { assembleBlock } from '../src/execution/assemble.ts'
import { FlatState } from '../src/state/flat-state.ts'
import { createStateDelta } from '../src/state/types.ts'
import { createRandom } from '../src/utils/random.ts'
import { checkNames, createReport, type BenchRatio, type BenchRow, parseBenchArgs, printReport, ratiosOf, writeReport } from './report.ts'
import { createWorkload, WORKLOAD_NAMES, type WorkloadName } from './workloads.ts'

const args = parseBenchArgs('l1')
checkNames('--workloads', args.workloads, WORKLOAD_NAMES)
const VARIANTS: readonly { name: string; daMode: DAMode; encoding: BatchEncoding }[] = [
  { name: 'calldata-deflate', daMode: 'calldata', encoding: 'deflate' },
  { name: 'calldata-raw', daMode: 'calldata', encoding: 'raw' },
  { name: 'blobs-deflate', daMode: 'blobs', encoding: 'deflate' },
  { name: 'blobs-raw', daMode: 'blobs', encoding: 'raw' },
]
checkNames('--only', args.only, VARIANTS.map((v) => v.name))
const BLOCK_SIZE = 200
/**
 * Blocks per batch: what the poster's defaults close a batch at under full load — a batch is
 * posted once its first block is BATCH_MAX_AGE_MS old, i.e. after 2,000 / 250 = 8 blocks
 * (BATCH_MAX_BLOCKS and BATCH_MAX_BYTES are not reached first).
 */
const BATCH_BLOCKS = Math.floor(defaults.batchMaxAgeMs / defaults.blockTimeMs)
const sizes = args.quick ? { accounts: 2_000, txs: BATCH_BLOCKS * BLOCK_SIZE } : { accounts: 100_000, txs: 5 * BATCH_BLOCKS * BLOCK_SIZE }
/** EIP-4844: bytes (and blob gas) of one blob. */
const BLOB_BYTES = 131_072
/** anvil's first dev account: the inbox's sequencer. */
const L1_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
console.log(
  `bench:l1 — ${sizes.txs} txs per workload over ${sizes.accounts} accounts, blocks of ${BLOCK_SIZE}, batches of ${BATCH_BLOCKS} blocks, ` +
    `calldata frames ≤ ${defaults.frameBytes} bytes, ${availableParallelism()} cpus`,
)

/** The chain a workload makes: its blocks' RLP, post-state roots and witness hashes (block n at n - 1). */
type Chain = { blocks: Uint8Array[]; stateRoots: Uint8Array[]; witnessHashes: Uint8Array[]; genesisRoot: Uint8Array; txs: number }

/** Execute the workload once, as the sequencer would, and keep the blocks it would store. */
async function execute(name: WorkloadName): Promise<Chain> {
  const workload = createWorkload({ name, seed: 21, accountCount: sizes.accounts, txCount: sizes.txs, blockSize: BLOCK_SIZE, common })
  const pre = createStateDelta()
  for (const [address, record] of workload.preState.accounts) pre.accounts.set(address, record)
  for (const [address, slots] of workload.preState.storage) pre.storage.set(address, new Map(slots))
  for (const [hash, code] of workload.preState.code) pre.code.set(hash, code)
  const state = new FlatState({ readAccount: (a) => pre.accounts.get(a) ?? undefined, readStorage: (a, s) => pre.storage.get(a)?.get(s), readCode: (h) => pre.code.get(h) })
  const executor = await createSequentialExecutor({ common })
  // Roots and witness hashes are hashes: random bytes stand in for them (see the header comment).
  const random = createRandom(0x6c31) // "l1"
  const genesisRoot = random.bytes(32)
  const stateRoots = workload.blocks.map(() => random.bytes(32))
  const witnessHashes = workload.blocks.map(() => random.bytes(32))
  const chain: Block[] = [createBlock({ header: { number: 0n, gasLimit: 1_000_000_000n, baseFeePerGas: 7n, stateRoot: genesisRoot } }, { common, setHardfork: false })]
  const blocks: Uint8Array[] = []
  const txs: TypedTransaction[][] = workload.blocks.map((b) => b.map((tx) => decodeTransaction(tx.serialize(), common)))
  for (const [i, transactions] of txs.entries()) {
    const number = BigInt(i + 1)
    const parent = chain[i]!
    const header = createBlockHeader(
      { number, parentHash: parent.hash(), gasLimit: 1_000_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n + number, coinbase: workload.coinbase },
      { common, setHardfork: false },
    )
    const execution = await executor.executeBlock({ header, transactions, state, blockHash: (n) => chain[Number(n)]?.hash() })
    // The header carries the root of block n - STATE_ROOT_LAG, as the sequencer's does.
    const lagged = i - defaults.stateRootLag
    const { block } = assembleBlock(header, execution.executed, execution.gasUsed, lagged < 0 ? genesisRoot : stateRoots[lagged]!)
    state.apply(execution.delta)
    chain.push(block)
    blocks.push(block.serialize())
  }
  return { blocks, stateRoots, witnessHashes, genesisRoot, txs: workload.txCount }
}

type Posted = { batches: number; dataBytes: number; l1Txs: number; gasUsed: bigint; blobGasUsed: bigint }

/** Post the whole chain to a fresh inbox through a real `Poster`; resolves once the inbox holds every block. */
async function post(client: PublicClient, url: string, chain: Chain, daMode: DAMode, encoding: BatchEncoding, label: string): Promise<Posted> {
  const account = privateKeyToAccount(L1_KEY)
  const inbox = await deployInbox({ client, url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: bytesToHex(chain.genesisRoot) })
  const reader = new InboxReader(client, inbox, url)
  const sender = new L1Sender({ client, privateKey: L1_KEY, chainId: await client.getChainId(), confirmations: 1, resendAfterMs: 60_000 })
  const head = BigInt(chain.blocks.length)
  const at = (n: bigint) => Number(n) - 1
  const source: BatchSource = {
    rootedHead: () => head,
    blockRlp: (n) => chain.blocks[at(n)]!,
    stateRoot: (n) => chain.stateRoots[at(n)]!,
    witnessHash: async (n) => chain.witnessHashes[at(n)]!,
  }
  const queues = createMemoryQueues()
  const queue = queues.queue<PostJob, PostResult>('post', { attempts: 3, backoffMs: 500 })
  const poster = new Poster({
    source,
    inbox: reader,
    sender,
    queue,
    daMode,
    encoding,
    maxBlocks: BATCH_BLOCKS,
    maxBytes: defaults.batchMaxBytes,
    maxAgeMs: 100,
    frameBytes: defaults.frameBytes,
    pollMs: 50,
    log: (message) => console.log(`  ${label}: ${message}`),
  })
  poster.start()
  try {
    for (;;) {
      if ((await reader.state()).nextBlock > head) break
      const [failed] = await queue.failed(1)
      if (failed !== undefined) throw new Error(`${label}: ${failed.id} failed: ${failed.reason}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await queue.drained(60_000)
    const results = (await queue.completed(10_000)).map((job) => job.result).filter((r) => r.status === 'posted')
    // The data read back from the L1 is the sequencer's: the first batch decodes to its blocks.
    const { content } = await reader.readBatch(0n)
    if (bytesToHex(content.blocks[0]!) !== bytesToHex(chain.blocks[0]!)) throw new Error(`${label}: batch 0 read back from the L1 does not hold block 1`)
    return {
      batches: results.length,
      dataBytes: results.reduce((sum, r) => sum + (r.dataBytes ?? 0), 0),
      l1Txs: sender.stats.mined,
      gasUsed: sender.stats.gasUsed,
      blobGasUsed: sender.stats.blobGasUsed,
    }
  } finally {
    await poster.stop()
    await queues.close()
  }
}

const started = performance.now()
const anvil = await startAnvil()
const client = createPublicClient({ transport: http(anvil.url, { retryCount: 0 }), pollingInterval: 100 }) as PublicClient
const rows: BenchRow[] = []
const ratios: BenchRatio[] = []
try {
  for (const name of WORKLOAD_NAMES) {
    if (args.workloads !== undefined && !args.workloads.includes(name)) continue
    const chain = await execute(name)
    console.log(`${name}: ${chain.blocks.length} blocks executed (${chain.blocks.reduce((sum, b) => sum + b.length, 0)} bytes of block RLP)`)
    for (const { name: variant, daMode, encoding } of VARIANTS) {
      if (args.only !== undefined && !args.only.includes(variant)) continue
      const t = performance.now()
      const posted = await post(client, anvil.url, chain, daMode, encoding, `${name} ${variant}`)
      const record = (metric: string, value: number) => rows.push({ workload: name, variant, metric, value })
      const blobs = Number(posted.blobGasUsed) / BLOB_BYTES
      record('data_bytes_per_tx', posted.dataBytes / chain.txs)
      record('l1_bytes_per_tx', (daMode === 'blobs' ? blobs * BLOB_BYTES : posted.dataBytes) / chain.txs)
      record('l1_gas_per_tx', Number(posted.gasUsed) / chain.txs)
      record('blob_gas_per_tx', Number(posted.blobGasUsed) / chain.txs)
      if (daMode === 'blobs') record('blob_fill', posted.dataBytes / (blobs * BLOB_BYTES))
      console.log(
        `${name} ${variant}: ${posted.batches} batches, ${posted.dataBytes} data bytes, ${posted.l1Txs} L1 txs, ${blobs} blobs, ` +
          `${posted.gasUsed} gas, ${((performance.now() - t) / 1000).toFixed(1)} s`,
      )
    }
  }
} finally {
  await anvil.stop()
}
// One metric per ratio name (see the header comment).
ratios.push(
  ...ratiosOf(rows, 'data_bytes_per_tx', 'calldata-deflate', 'calldata-raw'),
  ...ratiosOf(rows, 'l1_bytes_per_tx', 'blobs-deflate', 'blobs-raw'),
  ...ratiosOf(rows, 'l1_gas_per_tx', 'blobs-deflate', 'calldata-deflate'),
  ...ratiosOf(rows, 'l1_gas_per_tx', 'blobs-raw', 'calldata-raw'),
)
const report = createReport({ bench: 'l1', quick: args.quick, rows, ratios })
printReport(report, {
  data_bytes_per_tx: 'data bytes/tx',
  l1_bytes_per_tx: 'L1 bytes/tx',
  l1_gas_per_tx: 'L1 gas/tx',
  blob_gas_per_tx: 'blob gas/tx',
  blob_fill: 'blob fill',
})
console.log(`\ntook ${((performance.now() - started) / 1000).toFixed(0)} s`)
writeReport(report, args.out)
