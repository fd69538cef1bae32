/**
 * Stateless verification (issue 5): chains from the differential generator (transfers, ERC-20,
 * AMM swaps, CREATE/CREATE2 collisions, SELFDESTRUCT, BLOCKHASH, precompiles, fee-recipient
 * reads …) are executed, committed and witnessed as the sequencer does; a verifier holding only
 * each block and its witness accepts every honest block in both commitment modes, and rejects
 * every mutation of a sample — saying what failed.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Block, createBlock, createBlockHeader } from '@ethereumjs/block'
import { bytesToHex } from '@ethereumjs/util'
import { createChainCommon } from '../../src/chain/common.ts'
import { layoutOf, type Layout } from '../../src/commitment/layout.ts'
import { CommitmentPipeline } from '../../src/commitment/pipeline.ts'
import { createSequentialExecutor } from '../../src/execution/sequential-executor.ts'
import { assembleBlock } from '../../src/execution/assemble.ts'
import { decodeStateDelta, encodeStateDelta } from '../../src/state/delta-codec.ts'
import { FlatState } from '../../src/state/flat-state.ts'
import type { StateDelta } from '../../src/state/types.ts'
import { createRandom } from '../../src/utils/random.ts'
import { verifyBlock } from '../../src/verifier/verify.ts'
import { witnessExtras } from '../../src/witness/inputs.ts'
import { type BlockWitness, decodeWitness, encodeWitness, witnessBody } from '../../src/witness/witness.ts'
import { CHAIN_ID, createChainWorkload, type WorkloadProfile } from '../differential/generator.ts'

const common = createChainCommon({ chainId: CHAIN_ID, hardfork: 'prague' })

type Produced = { block: Block; witness: BlockWitness; postStateRoot: Uint8Array; delta: StateDelta }

/** Execute, commit and witness a generated chain the way the sequencer does. */
async function produce(seed: number, blocks: number, profile: WorkloadProfile, layout: Layout): Promise<Produced[]> {
  const workload = createChainWorkload({ seed, blocks, common, profile })
  const pre = workload.preState
  const state = new FlatState({ readAccount: (a) => pre.accounts.get(a) ?? undefined, readStorage: (a, s) => pre.storage.get(a)?.get(s), readCode: (h) => pre.code.get(h) })
  const pipeline = await CommitmentPipeline.open({ layout, threads: 2 })
  const executor = await createSequentialExecutor({ common })
  try {
    pipeline.submit(0n, pre)
    const genesis = createBlock({ header: { number: 0n, gasLimit: 100_000_000n, baseFeePerGas: 7n } }, { common, setHardfork: false })
    const chain: Block[] = [genesis]
    const deltas: StateDelta[] = []
    for (const generated of workload.blocks()) {
      const parent = chain[chain.length - 1]!
      const template = createBlockHeader({ ...generated.header.toJSON(), parentHash: parent.hash() }, { common, setHardfork: false })
      const execution = await executor.executeBlock({
        header: template,
        transactions: generated.txs.map((t) => t.tx),
        state,
        blockHash: (n) => chain[Number(n)]?.hash(),
      })
      const { block } = assembleBlock(template, execution.executed, execution.gasUsed, new Uint8Array(32))
      const extras = witnessExtras(execution.reads, state, generated.number - 1n, (n) => chain[Number(n)]?.header.serialize())
      pipeline.submit(generated.number, execution.delta, { reads: execution.reads, ...extras })
      state.apply(execution.delta)
      chain.push(block)
      deltas.push(execution.delta)
    }
    const produced: Produced[] = []
    for (const [i, delta] of deltas.entries()) {
      const number = BigInt(i + 1)
      const encoded = await pipeline.witnessOf(number)
      assert.ok(encoded !== undefined, `witness of block ${number}`)
      produced.push({ block: chain[i + 1]!, witness: decodeWitness(encoded), postStateRoot: await pipeline.rootOf(number), delta })
    }
    return produced
  } finally {
    await pipeline.close()
    await executor.close()
  }
}

async function verify(layout: Layout, p: Produced) {
  return verifyBlock({ common, layout, block: p.block, witness: p.witness, postStateRoot: p.postStateRoot, delta: p.delta })
}

describe('stateless verification from witnesses', { timeout: 300_000 }, () => {
  for (const [mode, k] of [['mpt', 1], ['sharded', 3]] as const) {
    const layout = layoutOf(mode, k)
    it(`behavior: ${mode} — the verifier accepts every honest block of generated chains and recomputes the sequencer's roots`, async (context) => {
      let blocks = 0
      let txs = 0
      for (const [seed, profile] of [[101, 'mixed'], [102, 'conflicts']] as const) {
        for (const p of await produce(seed, 12, profile, layout)) {
          const verdict = await verify(layout, p)
          assert.equal(bytesToHex(verdict.postStateRoot), bytesToHex(p.postStateRoot))
          blocks++
          txs += verdict.transactions
        }
      }
      context.diagnostic(`${blocks} blocks, ${txs} transactions verified statelessly`)
    })

    it(`behavior: ${mode} — every mutation of witnesses, deltas, roots and blocks is rejected, saying what failed`, async (context) => {
      const produced = await produce(103, 8, 'mixed', layout)
      const random = createRandom(7)
      let tried = 0
      const expectRejected = async (what: string, run: () => Promise<unknown>, reason: RegExp) => {
        tried++
        await assert.rejects(
          run,
          (error: Error) => {
            assert.match(error.message, reason, `${what}: ${error.message}`)
            return true
          },
          `${what} was accepted`,
        )
      }
      for (const [i, p] of produced.entries()) {
        const { witness } = p
        const flipByte = (bytes: Uint8Array) => {
          const copy = bytes.slice()
          copy[random.int(copy.length)]! ^= 1 << random.int(8)
          return copy
        }
        // A byte flipped in a node, a node dropped.
        for (let m = 0; m < 3; m++) {
          const n = random.int(witness.nodes.length)
          const flipped = witness.nodes.map((node, j) => (j === n ? flipByte(node) : node))
          await expectRejected('flipped node', () => verify(layout, { ...p, witness: { ...witness, nodes: flipped } }), /not reachable|cannot prove|not a trie node|malformed|lacks|missing|differs|root/)
          const dropped = witness.nodes.filter((_, j) => j !== n)
          await expectRejected('dropped node', () => verify(layout, { ...p, witness: { ...witness, nodes: dropped } }), /cannot prove|missing|lacks|not in the store|root/)
        }
        if (witness.codes.length > 0) {
          await expectRejected('dropped code', () => verify(layout, { ...p, witness: { ...witness, codes: witness.codes.slice(1) } }), /lacks the code/)
        }
        // Another block's witness, a wrong claimed root, a changed delta, a changed transaction list.
        const other = produced[(i + 1) % produced.length]!
        await expectRejected('swapped witness', () => verify(layout, { ...p, witness: other.witness }), /the witness is for block/)
        await expectRejected('wrong root', () => verify(layout, { ...p, postStateRoot: flipByte(p.postStateRoot) }), /the sequencer claims/)
        const delta = decodeStateDelta(encodeStateDelta(p.delta))
        const [address, record] = [...delta.accounts].find(([, r]) => r !== null) ?? []
        if (address !== undefined && record) {
          delta.accounts.set(address, { ...record, balance: record.balance + 1n })
          await expectRejected('changed delta', () => verify(layout, { ...p, delta }), /published state delta differs/)
        }
        if (p.block.transactions.length > 1) {
          const fewer = createBlock({ header: p.block.header.toJSON(), transactions: p.block.transactions.slice(0, -1) }, { common, setHardfork: false })
          await expectRejected('dropped transaction', () => verify(layout, { ...p, block: fewer }), /gas used|receipts root|transactions root/)
        }
        // A byte flipped anywhere in the binary forms of the witness and of the delta. (A flip in
        // the deflate stream's padding bits changes no content — only the witness hash, which the
        // L1 commitment checks: such flips are not counted.)
        for (let m = 0; m < 2; m++) {
          const flippedWitness = flipByte(encodeWitness(witness))
          const sameWitness = (() => {
            try {
              return bytesToHex(witnessBody(decodeWitness(flippedWitness))) === bytesToHex(witnessBody(witness))
            } catch {
              return false
            }
          })()
          if (!sameWitness) {
            await expectRejected(
              'flipped witness byte',
              async () => verify(layout, { ...p, witness: decodeWitness(flippedWitness) }),
              /invalid witness|not reachable|cannot prove|not a trie node|malformed|lacks|missing|differs|root|header|is for block|witness keys/,
            )
          }
          await expectRejected(
            'flipped delta byte',
            async () => verify(layout, { ...p, delta: decodeStateDelta(flipByte(encodeStateDelta(p.delta))) }),
            /invalid state delta|published state delta differs/,
          )
        }
        await expectRejected('flipped header', () => verify(layout, { ...p, witness: { ...witness, headers: [flipByte(witness.headers[0]!), ...witness.headers.slice(1)] } }), /witness header 0 hashes to/)
      }
      context.diagnostic(`${tried} mutations tried, ${tried} rejected`)
    })
  }
})
