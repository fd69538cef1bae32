import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { createBlockHeader } from '@ethereumjs/block'
import { createCustomCommon, Mainnet } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, bytesToUnprefixedHex, concatBytes, hexToBytes, KECCAK256_NULL, privateToAddress } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { decodeTransaction } from '../chain/transaction.ts'
import { customCrypto, keccak256 } from '../crypto/crypto.ts'
import { kzgLoaded } from '../crypto/kzg.ts'
import { FlatState } from '../state/flat-state.ts'
import { mergeDelta } from '../state/delta.ts'
import { encodeStateDelta } from '../state/delta-codec.ts'
import { createStateDelta } from '../state/types.ts'
import type { BlockExecution } from './types.ts'
import type { AccountRecord } from '../state/types.ts'
import { createSequentialExecutor } from './sequential-executor.ts'

const KEY = keccak256(Uint8Array.of(42))
const SENDER = bytesToUnprefixedHex(privateToAddress(KEY))
const POINT_EVALUATION = `0x${'00'.repeat(19)}0a` as const

function state(): FlatState {
  const accounts = new Map<string, AccountRecord>([[SENDER, { nonce: 0n, balance: 10n ** 20n, codeHash: KECCAK256_NULL }]])
  return new FlatState({ readAccount: (a) => accounts.get(a), readStorage: () => undefined, readCode: () => undefined })
}

/** A valid point-evaluation input: the zero polynomial (commitment and proof the identity point), p(1) = 0. */
function pointEvaluationInput(y: number): Uint8Array {
  const identity = hexToBytes(`0xc0${'00'.repeat(47)}`)
  const versionedHash = new Uint8Array(createHash('sha256').update(identity).digest())
  versionedHash[0] = 1
  const z = new Uint8Array(32)
  z[31] = 1
  const value = new Uint8Array(32)
  value[31] = y
  return concatBytes(versionedHash, z, value, identity, identity)
}

async function run(common: ReturnType<typeof createChainCommon>, calls: { data: Uint8Array; gasLimit: bigint }[]) {
  const executor = await createSequentialExecutor({ common })
  const txs = calls.map(({ data, gasLimit }, nonce) =>
    decodeTransaction(
      createFeeMarket1559Tx({ nonce: BigInt(nonce), gasLimit, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, to: POINT_EVALUATION, value: 1n, data, chainId: 901n }, { common }).sign(KEY).serialize(),
      common,
    ),
  )
  const header = createBlockHeader({ number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n }, { common, setHardfork: false })
  return executor.executeBlock({ header, transactions: txs, state: state(), blockHash: () => undefined })
}

describe('SequentialExecutor', () => {
  it('behavior: the point-evaluation precompile (0x0a) verifies KZG proofs: a valid one succeeds, a wrong value or length fails the call; KZG loads at its first proof', async () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    // An executor built, a block executed, 0x0a called with an input it refuses by its length: no KZG yet.
    const refused = await run(common, [{ data: new Uint8Array(), gasLimit: 100_000n }])
    assert.deepEqual(refused.executed.map((e) => ('status' in e.receipt ? e.receipt.status : 1)), [0])
    assert.equal(kzgLoaded(), false, 'nothing before a proof to verify loads KZG')
    const result = await run(common, [
      { data: pointEvaluationInput(0), gasLimit: 100_000n },
      { data: pointEvaluationInput(1), gasLimit: 100_000n },
      { data: new Uint8Array(), gasLimit: 100_000n },
    ])
    assert.equal(result.rejected.length, 0)
    assert.deepEqual(
      result.executed.map((e) => ('status' in e.receipt ? e.receipt.status : 1)),
      [1, 0, 0],
    )
    assert.equal(kzgLoaded(), true)
  })

  it('behavior: an exception escaping the EVM drops that transaction with state as before it, and the block goes on', async () => {
    // A chain without KZG: ethereumjs throws out of the precompile instead of failing the call.
    const common = createCustomCommon({ chainId: 901, name: 'no-kzg' }, Mainnet, { hardfork: 'prague', customCrypto })
    const result = await run(common, [
      { data: new Uint8Array(), gasLimit: 100_000n },
      { data: new Uint8Array(), gasLimit: 100_000n },
    ])
    // The first tx is dropped; the second (nonce 1) is then invalid at its position, and is dropped too — without corrupting state.
    assert.equal(result.executed.length, 0)
    assert.equal(result.rejected.length, 2)
    assert.match(result.rejected[0]!.reason, /kzg not initialized/)
    assert.match(result.rejected[1]!.reason, /nonce/)
    assert.equal(result.delta.accounts.has(SENDER), false, 'the dropped transaction left no trace')
  })

  it('behavior: an open block executed in mini-batches is the whole block — receipts, gas, delta, reads — and its mini-batches\' changes merge into the delta', async () => {
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    const txs = (n: number) =>
      Array.from({ length: n }, (_, nonce) =>
        decodeTransaction(
          createFeeMarket1559Tx({ nonce: BigInt(nonce), gasLimit: 100_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, to: POINT_EVALUATION, value: BigInt(nonce + 1), data: pointEvaluationInput(nonce % 2), chainId: 901n }, { common }).sign(KEY).serialize(),
          common,
        ),
      )
    const all = txs(5)
    const header = createBlockHeader({ number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n }, { common, setHardfork: false })
    const executor = await createSequentialExecutor({ common })
    const whole = await executor.executeBlock({ header, transactions: all, state: state(), blockHash: () => undefined })
    const open = await executor.openBlock({ header, state: state(), blockHash: () => undefined })
    const merged = createStateDelta()
    for (const cut of [all.slice(0, 2), all.slice(2, 3), [], all.slice(3)]) mergeDelta(merged, (await open.execute(cut)).changes)
    const parts = open.finish()
    const shape = (e: BlockExecution) => ({
      receipts: e.executed.map((x) => [('status' in x.receipt ? x.receipt.status : 1), x.receipt.cumulativeBlockGasUsed, x.gasUsed]),
      gasUsed: e.gasUsed,
      delta: bytesToHex(encodeStateDelta(e.delta)),
      reads: [...e.reads.accounts].sort(),
    })
    assert.deepEqual(shape(parts), shape(whole))
    assert.deepEqual(shape(whole).receipts.map((r) => r[0]), [1, 0, 1, 0, 1])
    assert.equal(bytesToHex(encodeStateDelta(merged)), bytesToHex(encodeStateDelta(parts.delta)))
    // Control: another order is another block.
    const swapped = await executor.executeBlock({ header, transactions: [all[0]!, all[2]!, all[1]!, all[3]!, all[4]!], state: state(), blockHash: () => undefined })
    assert.notDeepEqual(shape(swapped), shape(whole))
    // The executor is free again, and a finished block runs nothing more.
    await assert.rejects(open.execute(all), /finished/)
  })
})
