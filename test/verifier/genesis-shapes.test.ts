/**
 * Block 1's witness verifies for any genesis (issue 12, item 2: on a one-account genesis, block 1
 * failed with "witness node … is not reachable from the pre-state root"). Genesis states of 1, a
 * few, 10 and 10,000 accounts — with storage and code — in both commitment modes: blocks 1–3 are
 * executed, committed and witnessed the way the sequencer does, and `verifyBlock`, holding only
 * each block and its witness, accepts every one and recomputes the pipeline's root. Then the same
 * through a real `mosaic sequencer` started on a one-account genesis file, block 1 fetched over RPC.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { type Block, createBlock, createBlockHeader } from '@ethereumjs/block'
import { createFeeMarket1559Tx, type TypedTransaction } from '@ethereumjs/tx'
import { bigIntToHex, bytesToHex, hexToBytes, privateToAddress, utf8ToBytes } from '@ethereumjs/util'
import { parseEther } from 'viem'
import { nextBaseFee } from '../../src/chain/base-fee.ts'
import { createChainCommon } from '../../src/chain/common.ts'
import { type GenesisAlloc, parseGenesis } from '../../src/chain/genesis.ts'
import { decodeTransaction } from '../../src/chain/transaction.ts'
import { layoutOf, type Layout } from '../../src/commitment/layout.ts'
import { CommitmentPipeline } from '../../src/commitment/pipeline.ts'
import { computeStateRoot } from '../../src/commitment/root.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { createSequentialExecutor } from '../../src/execution/sequential-executor.ts'
import { assembleBlock } from '../../src/execution/assemble.ts'
import { FlatState } from '../../src/state/flat-state.ts'
import type { StateDelta } from '../../src/state/types.ts'
import { RpcSource } from '../../src/rpc/client.ts'
import { verifyBlock } from '../../src/verifier/verify.ts'
import { witnessExtras } from '../../src/witness/inputs.ts'
import { type BlockWitness, decodeWitness } from '../../src/witness/witness.ts'
import { DEV_KEYS, startNode, tempDataDir } from '../integration/harness.ts'

const CHAIN_ID = 901
const common = createChainCommon({ chainId: CHAIN_ID, hardfork: 'prague' })
const LAYOUTS = [layoutOf('mpt', 1), layoutOf('sharded', 3)] as const
/** The sequencer's defaults: lag, gas limit, base-fee floor, genesis base fee. */
const STATE_ROOT_LAG = 2n
const GAS_LIMIT = 30_000_000n
const BASE_FEE_FLOOR = 1_000_000n
const GENESIS_BASE_FEE = 1_000_000_000n
const COINBASE = hexToBytes('0x4200000000000000000000000000000000000011')

const FUNDED_KEY = keccak256(utf8ToBytes('mosaic-genesis-shapes/funded'))
const FUNDED = bytesToHex(privateToAddress(FUNDED_KEY))

function addressOf(label: string, i: number): `0x${string}` {
  return bytesToHex(keccak256(utf8ToBytes(`mosaic-genesis-shapes/${label}/${i}`)).subarray(12))
}

/**
 * Runtime code of a counter: slot 0 += 1, slot 1 read (a slot only read), then STOP.
 * PUSH1 0 SLOAD PUSH1 1 ADD PUSH1 0 SSTORE PUSH1 1 SLOAD POP STOP
 */
const COUNTER_CODE = '0x6000546001016000556001545000'

function storage(slots: number): Record<string, string> {
  const out: Record<string, string> = {}
  const word = (value: number) => `0x${value.toString(16).padStart(64, '0')}`
  for (let s = 0; s < slots; s++) out[word(s)] = word(s * 7 + 5)
  return out
}

const ETH = { balance: bigIntToHex(10n ** 24n) }

type Shape = {
  readonly name: string
  readonly alloc: GenesisAlloc
  /** An account of the genesis the transfers also go to (the funded one itself when it is alone). */
  readonly existing: `0x${string}`
  /** A contract with storage that each block calls. */
  readonly contract?: `0x${string}`
}

/** Accounts whose keccak(address) starts with the same byte as the funded account's: one `mpt` sub-trie holds them all. */
function sameFirstByte(count: number): `0x${string}`[] {
  const first = keccak256(hexToBytes(FUNDED))[0]
  const out: `0x${string}`[] = []
  for (let i = 0; out.length < count; i++) {
    const address = addressOf('same-byte', i)
    if (keccak256(hexToBytes(address))[0] === first) out.push(address)
  }
  return out
}

function shapes(): Shape[] {
  const ten = Array.from({ length: 7 }, (_, i) => addressOf('ten', i))
  const counter = addressOf('counter', 0)
  const many = Array.from({ length: 9_996 }, (_, i) => addressOf('many', i))
  const counters = [1, 2, 3].map((i) => addressOf('counter', i))
  const [a, b] = sameFirstByte(2) as [`0x${string}`, `0x${string}`]
  return [
    { name: '1 account (a funded EOA)', alloc: { [FUNDED]: ETH }, existing: FUNDED },
    {
      // An EOA may have code (an EIP-7702 delegation, here to an address without code) and storage.
      name: '1 account with code and storage',
      alloc: { [FUNDED]: { ...ETH, code: `0xef0100${addressOf('delegate', 0).slice(2)}`, storage: storage(40) } },
      existing: FUNDED,
    },
    { name: '3 accounts in one mpt sub-trie', alloc: { [FUNDED]: ETH, [a]: { balance: '0x1' }, [b]: { balance: '0x2', storage: storage(3) } }, existing: a },
    {
      name: '10 accounts with storage and code',
      alloc: {
        [FUNDED]: ETH,
        ...Object.fromEntries(ten.map((address, i) => [address, { balance: bigIntToHex(BigInt(i + 1)), nonce: i, ...(i === 0 ? { storage: storage(2) } : {}) }])),
        [counter]: { code: COUNTER_CODE, storage: storage(20) },
        [addressOf('code-only', 0)]: { code: COUNTER_CODE },
      },
      existing: ten[3]!,
      contract: counter,
    },
    {
      name: '10,000 accounts with storage and code',
      alloc: {
        [FUNDED]: ETH,
        ...Object.fromEntries(many.map((address, i) => [address, { balance: bigIntToHex(BigInt(i + 1)) }])),
        ...Object.fromEntries(counters.map((address, i) => [address, { code: COUNTER_CODE, storage: storage(10 ** i) }])),
      },
      existing: many[4_321]!,
      contract: counters[2]!,
    },
  ]
}

/** Blocks 1–3: transfers from the funded account to fresh addresses and existing ones, and a call to the contract. */
function transactions(shape: Shape, number: bigint, nonce: bigint): { txs: TypedTransaction[]; nonce: bigint } {
  const calls: { to: `0x${string}`; value: bigint; gasLimit: bigint }[] = [
    { to: addressOf('fresh', Number(number)), value: 10n ** 15n + number, gasLimit: 21_000n },
    { to: shape.existing, value: 10n ** 12n, gasLimit: 21_000n },
  ]
  if (number > 1n) calls.push({ to: addressOf('fresh', 1), value: 1n, gasLimit: 21_000n })
  if (shape.contract !== undefined) calls.push({ to: shape.contract, value: 0n, gasLimit: 100_000n })
  const txs = calls.map(({ to, value, gasLimit }) => {
    const tx = createFeeMarket1559Tx(
      { chainId: BigInt(CHAIN_ID), nonce: nonce++, to, value, gasLimit, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n },
      { common },
    ).sign(FUNDED_KEY)
    // As the mempool leaves it: decoded once, sender recovered and pinned.
    return decodeTransaction(tx.serialize(), common)
  })
  return { txs, nonce }
}

type Produced = { block: Block; witness: BlockWitness; postStateRoot: Uint8Array; delta: StateDelta }

/** Execute, commit and witness blocks 1–3 on `genesis` as the sequencer does (`Sequencer.produce`). */
async function produce(shape: Shape, layout: Layout): Promise<{ genesisRoot: Uint8Array; blocks: Produced[] }> {
  const genesis = parseGenesis({ config: { chainId: CHAIN_ID }, alloc: shape.alloc }, { defaultChainId: CHAIN_ID, defaultGasLimit: GAS_LIMIT, defaultBaseFee: GENESIS_BASE_FEE, source: shape.name })
  const pre = genesis.state
  const state = new FlatState({ readAccount: (a) => pre.accounts.get(a) ?? undefined, readStorage: (a, s) => pre.storage.get(a)?.get(s), readCode: (h) => pre.code.get(h) })
  const genesisRoot = computeStateRoot(pre, layout)
  const pipeline = await CommitmentPipeline.open({ layout, threads: 2 })
  const executor = await createSequentialExecutor({ common })
  try {
    pipeline.submit(0n, pre)
    const header = { number: 0n, gasLimit: genesis.gasLimit, baseFeePerGas: genesis.baseFeePerGas, timestamp: genesis.timestamp, stateRoot: genesisRoot }
    const chain: Block[] = [createBlock({ header, withdrawals: [] }, { common, setHardfork: false })]
    const deltas: StateDelta[] = []
    let nonce = 0n
    for (let number = 1n; number <= 3n; number++) {
      const parent = chain[chain.length - 1]!
      const p = parent.header
      const template = createBlockHeader(
        {
          parentHash: parent.hash(),
          number,
          timestamp: p.timestamp + 1n,
          gasLimit: GAS_LIMIT,
          coinbase: COINBASE,
          baseFeePerGas: nextBaseFee({ gasLimit: p.gasLimit, gasUsed: p.gasUsed, baseFeePerGas: p.baseFeePerGas ?? 0n }, BASE_FEE_FLOOR),
          mixHash: keccak256(parent.hash()),
        },
        { common, setHardfork: false },
      )
      const drawn = transactions(shape, number, nonce)
      nonce = drawn.nonce
      const execution = await executor.executeBlock({ header: template, transactions: drawn.txs, state, blockHash: (n) => chain[Number(n)]?.hash() })
      assert.deepEqual(execution.rejected.map((r) => r.reason), [], `block ${number} of ${shape.name}: every transaction is valid`)
      const extras = witnessExtras(execution.reads, state, number - 1n, (n) => chain[Number(n)]?.header.serialize())
      pipeline.submit(number, execution.delta, { reads: execution.reads, ...extras })
      const lagged = number - STATE_ROOT_LAG
      const { block } = assembleBlock(template, execution.executed, execution.gasUsed, await pipeline.rootOf(lagged < 0n ? 0n : lagged))
      state.apply(execution.delta)
      chain.push(block)
      deltas.push(execution.delta)
    }
    const blocks: Produced[] = []
    for (const [i, delta] of deltas.entries()) {
      const number = BigInt(i + 1)
      const encoded = await pipeline.witnessOf(number)
      assert.ok(encoded !== undefined, `witness of block ${number}`)
      blocks.push({ block: chain[i + 1]!, witness: decodeWitness(encoded), postStateRoot: await pipeline.rootOf(number), delta })
    }
    return { genesisRoot, blocks }
  } finally {
    await pipeline.close()
    await executor.close()
  }
}

describe('block 1 verifies for any genesis', { timeout: 120_000 }, () => {
  for (const shape of shapes()) {
    for (const layout of LAYOUTS) {
      const mode = layout.mode === 'mpt' ? 'mpt' : `sharded:${layout.splitNibbles}`
      it(`behavior: ${mode} — ${shape.name}: blocks 1–3 verify from their witnesses`, async (context) => {
        const started = performance.now()
        const { genesisRoot, blocks } = await produce(shape, layout)
        assert.equal(bytesToHex(blocks[0]!.witness.preStateRoot), bytesToHex(genesisRoot), "block 1's witness starts from the genesis root")
        for (const p of blocks) {
          const verdict = await verifyBlock({ common, layout, block: p.block, witness: p.witness, postStateRoot: p.postStateRoot, delta: p.delta })
          assert.equal(bytesToHex(verdict.postStateRoot), bytesToHex(p.postStateRoot), `block ${p.block.header.number}`)
          assert.ok(verdict.transactions >= 2)
          if (shape.contract !== undefined) assert.ok(p.delta.storage.has(shape.contract.slice(2)), 'the call wrote the contract’s storage')
        }
        context.diagnostic(`${(performance.now() - started).toFixed(0)} ms`)
      })
    }
  }
})

describe('regression: mosaic sequencer on a one-account genesis file', { timeout: 120_000 }, () => {
  for (const layout of LAYOUTS) {
    const flags = layout.mode === 'mpt' ? ['--state-commitment', 'mpt'] : ['--state-commitment', 'sharded', '--shard-nibbles', String(layout.splitNibbles)]
    it(`behavior: ${flags.join(' ')} — block 1, fetched over RPC, verifies`, async () => {
      const genesisDir = tempDataDir()
      const genesisFile = join(genesisDir, 'genesis.json')
      const funded = bytesToHex(privateToAddress(hexToBytes(DEV_KEYS[0])))
      writeFileSync(genesisFile, JSON.stringify({ config: { chainId: CHAIN_ID }, alloc: { [funded]: { balance: bigIntToHex(parseEther('100')) } } }))
      const t = await startNode(['--genesis-file', genesisFile, '--fee-recipient', bytesToHex(COINBASE), ...flags], { mode: 'sequencer' })
      try {
        const hash = await t.wallet(0).sendTransaction({ to: addressOf('fresh', 0), value: parseEther('1'), chain: null } as never)
        const receipt = await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
        assert.equal(receipt.blockNumber, 1n)
        const source = new RpcSource(t.url, common)
        const { block, witness, delta } = await source.fetch(1n)
        const postStateRoot = await source.stateRoot(1n)
        assert.equal(bytesToHex(witness.preStateRoot), bytesToHex(await source.stateRoot(0n)), "block 1's witness starts from the genesis root")
        const verdict = await verifyBlock({ common, layout, block, witness, postStateRoot, delta })
        assert.equal(bytesToHex(verdict.postStateRoot), bytesToHex(postStateRoot))
        assert.equal(verdict.transactions, 1)
      } finally {
        await t.stop()
        rmSync(genesisDir, { recursive: true, force: true })
      }
    })
  }
})
