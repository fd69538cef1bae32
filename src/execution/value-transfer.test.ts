import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type Block, createBlock } from '@ethereumjs/block'
import { createFeeMarket1559Tx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToUnprefixedHex, KECCAK256_NULL, privateToAddress } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { decodeTransaction } from '../chain/transaction.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { AccountRecord } from '../state/types.ts'
import { runValueTransfer } from './value-transfer.ts'
import { createExecutionVM, type ExecutionVM } from './vm.ts'

const KEY = keccak256(Uint8Array.of(7))
const SENDER = bytesToUnprefixedHex(privateToAddress(KEY))
const RECIPIENT = '00000000000000000000000000000000000000aa'
const CONTRACT = '00000000000000000000000000000000000000cc'
const COINBASE = '00000000000000000000000000000000000c0ffe'
const BASE_FEE = 7n
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })

async function setUp(): Promise<{ execution: ExecutionVM; state: JournaledStateManager; block: Block }> {
  const accounts = new Map<string, AccountRecord>([
    [SENDER, { nonce: 3n, balance: 10n ** 20n, codeHash: KECCAK256_NULL }],
    [CONTRACT, { nonce: 1n, balance: 0n, codeHash: keccak256(Uint8Array.of(0x00)) }],
  ])
  const state = new JournaledStateManager({ getAccount: (key) => accounts.get(key), getStorage: () => new Uint8Array(), getCode: () => Uint8Array.of(0x00) })
  const execution = await createExecutionVM(common, state)
  const block = createBlock(
    { header: { number: 1n, gasLimit: 30_000_000n, baseFeePerGas: BASE_FEE, timestamp: 1_700_000_000n, coinbase: new Address(Buffer.from(COINBASE, 'hex')) } },
    { common: execution.vm.common, setHardfork: false },
  )
  return { execution, state, block }
}

function transfer(fields: { to: string; nonce?: bigint; value?: bigint; gasLimit?: bigint }): TypedTransaction {
  const tx = createFeeMarket1559Tx(
    { chainId: 901n, nonce: fields.nonce ?? 3n, gasLimit: fields.gasLimit ?? 21_000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 2n, to: `0x${fields.to}`, value: fields.value ?? 5n },
    { common },
  ).sign(KEY)
  return decodeTransaction(tx.serialize(), common)
}

describe('runValueTransfer', () => {
  it('behavior: applies a transfer as runTx would: gas, fee to the recipient of fees, nonce, value, receipt', async () => {
    const { execution, state, block } = await setUp()
    const result = runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT, gasLimit: 30_000n }), block, 100n)
    assert.ok(result !== undefined)
    assert.equal(result.totalGasSpent, 21_000n)
    assert.equal(result.receipt.cumulativeBlockGasUsed, 21_100n)
    assert.equal(result.minerValue, 21_000n * 2n)
    assert.equal(state.readAccount(RECIPIENT)?.balance, 5n)
    assert.equal(state.readAccount(COINBASE)?.balance, 42_000n)
    // The sender paid 21,000 gas at 9 (base fee 7 + tip 2) and the value; unused gas came back.
    assert.deepEqual(state.readAccount(SENDER), { nonce: 4n, balance: 10n ** 20n - 21_000n * 9n - 5n, codeHash: KECCAK256_NULL })
  })

  it('behavior: hands back, having written nothing, what runTx must run: code, a precompile, a wrong nonce, short funds or gas, a watched VM', async () => {
    const { execution, state, block } = await setUp()
    const cases: [string, TypedTransaction][] = [
      ['to a contract', transfer({ to: CONTRACT })],
      ['to a precompile', transfer({ to: '0000000000000000000000000000000000000001' })],
      ['nonce too high', transfer({ to: RECIPIENT, nonce: 4n })],
      ['value beyond the balance', transfer({ to: RECIPIENT, value: 10n ** 21n })],
      ['gas below the intrinsic cost', transfer({ to: RECIPIENT, gasLimit: 20_999n })],
    ]
    for (const [what, tx] of cases) {
      assert.equal(runValueTransfer(execution.vm, state, tx, block, 0n), undefined, what)
      assert.equal(state.delta().accounts.size, 0, `${what}: wrote something`)
    }
    const listener = () => {}
    execution.vm.events.on('afterTx', listener)
    assert.equal(runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT }), block, 0n), undefined, 'a VM with an afterTx listener')
    execution.vm.events.off('afterTx', listener)
    assert.equal(state.delta().accounts.size, 0)
    assert.ok(runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT }), block, 0n) !== undefined, 'the same transfer, unwatched')
  })

  it("behavior: a caller's own afterMessage listener is told where the top-level message ends: after the value, before the fee", async () => {
    const { execution, state, block } = await setUp()
    const ownListener = () => {}
    execution.vm.evm.events!.on('afterMessage', ownListener)
    const seen: { recipient: bigint | undefined; coinbase: bigint | undefined }[] = []
    const messageEnded = () => seen.push({ recipient: state.readAccount(RECIPIENT)?.balance, coinbase: state.readAccount(COINBASE)?.balance })
    assert.equal(runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT }), block, 0n), undefined, 'a listener not declared as the caller\'s own keeps the transfer on runTx')
    assert.ok(runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT }), block, 0n, { messageEnded }) !== undefined)
    assert.deepEqual(seen, [{ recipient: 5n, coinbase: undefined }])
    assert.equal(state.readAccount(COINBASE)?.balance, 42_000n)
    // A second listener is somebody else's (a tracer): runTx again.
    execution.vm.evm.events!.on('afterMessage', () => {})
    assert.equal(runValueTransfer(execution.vm, state, transfer({ to: RECIPIENT, nonce: 4n }), block, 0n, { messageEnded }), undefined)
    assert.equal(seen.length, 1)
  })

  it('behavior: a transfer of 0 to an absent account deletes it again (EIP-161), as runTx does', async () => {
    const { execution, state, block } = await setUp()
    const absent = '00000000000000000000000000000000000000ee'
    assert.ok(runValueTransfer(execution.vm, state, transfer({ to: absent, value: 0n }), block, 0n) !== undefined)
    assert.equal(state.delta().accounts.get(absent), null)
    assert.ok(state.delta().storageCleared.has(absent))
  })
})
