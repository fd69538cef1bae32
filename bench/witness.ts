/**
 * `npm run bench:witness [-- --quick]`: witness size and stateless verification time, per
 * workload of BENCHMARKS.md, in both commitment modes.
 *
 * Each workload (100,000 funded accounts; quick: 2,000) is executed once by mosaic's sequential
 * executor in blocks of 200 — timed: `execute` — and every block's delta and read set go through
 * a commitment pipeline in `mpt` and in `sharded` mode (k = 3), which records the witnesses. Then
 * every block is verified from its witness alone — timed: `verify` (mpt) and `verify-sharded`:
 * decoding the block from its RLP as a verifier receives it (`decodeForeignBlock`), then
 * `verifyBlock` (signatures recovered, re-execution, roots).
 *
 * Rows: witness bytes per block and per touched key, compressed (the binary form) and raw (its
 * RLP body), for `mpt` and `sharded`; ms per block for `execute`, `verify`, `verify-sharded`.
 * `checks`: the header and transaction-type checks a verifier runs around re-execution (issue 12),
 * ms per block, and the ratio `checks/verify` (the target: ≤ 0.05).
 * `compress-brotli` and `compress-deflate`: ms per block to write an `mpt` witness's binary form
 * in the format nodes write (version 2, brotli at quality 1) and in the one they wrote before
 * (version 1, deflate-raw at level 6), and its bytes; `decompress-*`: ms per block to read it back.
 * Ratios: `verify/execute` (≤ 1 means a verifier on one thread keeps up with the sequencer),
 * `sharded/mpt` (witness bytes per block), and brotli/deflate for each of those three.
 */
import { availableParallelism } from 'node:os'
import { type Block, createBlock } from '@ethereumjs/block'
import type { Address } from '@ethereumjs/util'
import { childHeaderTemplate, type HeaderRules, validateChildHeader } from '../src/chain/header-rules.ts'
import { notAdmitted } from '../src/mempool/validate.ts'
import type { TypedTransaction } from '@ethereumjs/tx'
import { decodeForeignBlock, serializeBlock } from '../src/chain/block.ts'
import { createChainCommon } from '../src/chain/common.ts'
import { decodeTransaction } from '../src/chain/transaction.ts'
import { layoutOf, type Layout } from '../src/commitment/layout.ts'
import { CommitmentPipeline } from '../src/commitment/pipeline.ts'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { assembleBlock } from '../src/execution/assemble.ts'
import { FlatState } from '../src/state/flat-state.ts'
import type { ReadSet } from '../src/state/read-set.ts'
import { createStateDelta, type StateDelta } from '../src/state/types.ts'
import { verifyBlock } from '../src/verifier/verify.ts'
import { type WitnessExtras, witnessExtras } from '../src/witness/inputs.ts'
import { compressWitnessBody, decodeWitness, decompressBounded, witnessBody } from '../src/witness/witness.ts'
import { checkNames, createReport, type BenchRow, type BenchRatio, parseBenchArgs, printReport, ratiosOf, writeReport } from './report.ts'
import { createWorkload, WORKLOAD_NAMES, type WorkloadName } from './workloads.ts'

const args = parseBenchArgs('witness')
checkNames('--workloads', args.workloads, WORKLOAD_NAMES)
const sizes = args.quick ? { accounts: 2_000, txs: 1_000 } : { accounts: 100_000, txs: 4_000 }
const BLOCK_SIZE = 200
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const genesis = createBlock({ header: { number: 0n, gasLimit: 1_000_000_000n, baseFeePerGas: 7n } }, { common, setHardfork: false })
const rulesFor = (coinbase: Address): HeaderRules => ({ common, gasLimit: 1_000_000_000n, feeRecipient: coinbase, baseFeeFloor: 7n, stateRootLag: 0 })
const MODES: readonly [string, Layout][] = [
  ['mpt', layoutOf('mpt', 1)],
  ['sharded', layoutOf('sharded', 3)],
]
console.log(`bench:witness — ${sizes.txs} txs per workload over ${sizes.accounts} accounts, blocks of ${BLOCK_SIZE}, ${availableParallelism()} cpus`)

type Executed = { block: Block; delta: StateDelta; reads: ReadSet; extras: WitnessExtras; ms: number }

/** Execute the workload once, as the sequencer would, keeping what the witnesses need. */
async function execute(name: WorkloadName): Promise<{ pre: StateDelta; blocks: Executed[] }> {
  const workload = createWorkload({ name, seed: 21, accountCount: sizes.accounts, txCount: sizes.txs, blockSize: BLOCK_SIZE, common })
  const pre = createStateDelta()
  for (const [address, record] of workload.preState.accounts) pre.accounts.set(address, record)
  for (const [address, slots] of workload.preState.storage) pre.storage.set(address, new Map(slots))
  for (const [hash, code] of workload.preState.code) pre.code.set(hash, code)
  const state = new FlatState({ readAccount: (a) => pre.accounts.get(a) ?? undefined, readStorage: (a, s) => pre.storage.get(a)?.get(s), readCode: (h) => pre.code.get(h) })
  const executor = await createSequentialExecutor({ common })
  const chain: Block[] = [genesis]
  const blocks: Executed[] = []
  const txs: TypedTransaction[][] = workload.blocks.map((b) => b.map((tx) => decodeTransaction(tx.serialize(), common)))
  for (const [i, transactions] of txs.entries()) {
    const number = BigInt(i + 1)
    const parent = chain[i]!
    // Headers by the chain's rules, as the sequencer makes them (the verifier checks them).
    const header = childHeaderTemplate({ header: parent.header, hash: parent.hash() }, rulesFor(workload.coinbase), 1_700_000_000n + number)
    const started = performance.now()
    const execution = await executor.executeBlock({ header, transactions, state, blockHash: (n) => chain[Number(n)]?.hash() })
    const ms = performance.now() - started
    const { block } = assembleBlock(header, execution.executed, execution.gasUsed, new Uint8Array(32))
    const extras = witnessExtras(execution.reads, state, number - 1n, (n) => chain[Number(n)]?.header.serialize())
    state.apply(execution.delta)
    chain.push(block)
    blocks.push({ block, delta: execution.delta, reads: execution.reads, extras, ms })
  }
  return { pre, blocks }
}

const rows: BenchRow[] = []
const ratios: BenchRatio[] = []
for (const name of WORKLOAD_NAMES) {
  if (args.workloads !== undefined && !args.workloads.includes(name)) continue
  const { pre, blocks } = await execute(name)
  const record = (variant: string, metric: string, value: number) => rows.push({ workload: name, variant, metric, value })
  record('execute', 'ms_per_block', blocks.reduce((sum, b) => sum + b.ms, 0) / blocks.length)
  for (const [mode, layout] of MODES) {
    const pipeline = await CommitmentPipeline.open({ layout, threads: 2 })
    pipeline.submit(0n, pre)
    blocks.forEach((b, i) => pipeline.submit(BigInt(i + 1), b.delta, { reads: b.reads, ...b.extras }))
    let compressed = 0
    let raw = 0
    let keys = 0
    let verifyMs = 0
    let checksMs = 0
    const formats = { brotli: { encodeMs: 0, decodeMs: 0, bytes: 0 }, deflate: { encodeMs: 0, decodeMs: 0, bytes: 0 } }
    for (const [i, b] of blocks.entries()) {
      const number = BigInt(i + 1)
      const encoded = (await pipeline.witnessOf(number))!
      const witness = decodeWitness(encoded)
      compressed += encoded.length
      raw += witnessBody(witness).length
      keys += witness.keys.length
      if (mode === 'mpt') {
        // The binary form in each format a node writes or wrote: compressing it (the sequencer,
        // once per block) and reading it back (each verifier).
        // Only the compression is timed (the body is the same bytes for both), in turn order.
        const body = witnessBody(witness)
        for (const format of i % 2 === 0 ? (['brotli', 'deflate'] as const) : (['deflate', 'brotli'] as const)) {
          const started = performance.now()
          const compressedBody = compressWitnessBody(body, format)
          const compressedAt = performance.now()
          decompressBounded(format, compressedBody, body.length, 'witness')
          const codec = formats[format]
          codec.encodeMs += compressedAt - started
          codec.decodeMs += performance.now() - compressedAt
          codec.bytes += 1 + compressedBody.length
        }
        // The checks issue 12 added around re-execution: the header against its parent and the
        // chain's rules, and each transaction against the types the chain admits.
        const checked = performance.now()
        validateChildHeader(b.block.header, { header: (i === 0 ? genesis : blocks[i - 1]!.block).header, hash: (i === 0 ? genesis : blocks[i - 1]!.block).hash() }, rulesFor(b.block.header.coinbase))
        for (const tx of b.block.transactions) notAdmitted(tx, common)
        checksMs += performance.now() - checked
      }
      const postStateRoot = await pipeline.rootOf(number)
      const rlp = serializeBlock(b.block)
      const started = performance.now()
      await verifyBlock({ common, layout, block: decodeForeignBlock(rlp, common), witness, postStateRoot, delta: b.delta })
      verifyMs += performance.now() - started
    }
    await pipeline.close()
    record(mode, 'witness_bytes_per_block', compressed / blocks.length)
    record(mode, 'raw_bytes_per_block', raw / blocks.length)
    record(mode, 'bytes_per_key', compressed / keys)
    record(mode, 'raw_bytes_per_key', raw / keys)
    record(mode === 'mpt' ? 'verify' : 'verify-sharded', 'ms_per_block', verifyMs / blocks.length)
    if (mode === 'mpt') {
      record('checks', 'ms_per_block', checksMs / blocks.length)
      for (const [format, codec] of Object.entries(formats)) {
        record(`compress-${format}`, 'ms_per_block', codec.encodeMs / blocks.length)
        record(`compress-${format}`, 'witness_bytes_per_block', codec.bytes / blocks.length)
        record(`decompress-${format}`, 'ms_per_block', codec.decodeMs / blocks.length)
      }
    }
  }
  console.log(`${name}: ${blocks.length} blocks done`)
}
ratios.push(...ratiosOf(rows, 'ms_per_block', 'checks', 'verify'), ...ratiosOf(rows, 'ms_per_block', 'verify', 'execute'), ...ratiosOf(rows, 'ms_per_block', 'verify-sharded', 'execute'), ...ratiosOf(rows, 'witness_bytes_per_block', 'sharded', 'mpt'),
  ...ratiosOf(rows, 'ms_per_block', 'compress-brotli', 'compress-deflate', { metricInName: true }),
  ...ratiosOf(rows, 'witness_bytes_per_block', 'compress-brotli', 'compress-deflate', { metricInName: true }),
  ...ratiosOf(rows, 'ms_per_block', 'decompress-brotli', 'decompress-deflate'),
)
const report = createReport({ bench: 'witness', quick: args.quick, rows, ratios })
printReport(report, { ms_per_block: 'ms/block', witness_bytes_per_block: 'bytes/block', raw_bytes_per_block: 'raw bytes/block', bytes_per_key: 'bytes/key', raw_bytes_per_key: 'raw bytes/key' })
writeReport(report, args.out)
