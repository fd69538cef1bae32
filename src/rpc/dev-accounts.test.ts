/**
 * The dev-account handlers without a node: how a transaction is filled (against a fake base fee
 * and pool), that concurrent sends from one account take consecutive nonces, and who is refused.
 * Tools against a real devnet and anvil: `test/integration/dev-accounts.test.ts`.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import type { BlockHeader } from '@ethereumjs/block'
import { createChainCommon } from '../chain/common.ts'
import { deriveDevAccounts } from '../chain/dev-accounts.ts'
import type { Mode } from '../config/config.ts'
import { createDevAccountMethods } from './dev-accounts.ts'
import type { RpcError } from './errors.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const accounts = deriveDevAccounts(3)
const [alice, bob] = [accounts[0]!.address, accounts[1]!.address]
const context = { admin: false }
const BASE_FEE = 1_000n
const TIP = 7n

/** The handlers over a pool that counts what it was sent; `delay` makes each send take a while. */
function setup({ mode = 'devnet', genesisFile, delay = 0 }: { mode?: Mode; genesisFile?: string | undefined; delay?: number } = {}) {
  const sent: TypedTransaction[] = []
  const methods = createDevAccountMethods({
    config: { mode, genesisFile },
    devAccounts: accounts,
    common,
    mempool: { pendingNonce: (key) => BigInt(sent.filter((tx) => tx.getSenderAddress().toString().slice(2) === key).length) },
    sequencer: { nextHeader: () => ({ baseFeePerGas: BASE_FEE }) as BlockHeader },
    suggestedTip: TIP,
    // Like eth_estimateGas, a listed address costs its EIP-2930 2,400 gas: the estimate must be asked with the list.
    estimateGas: async (params) => `0x${(21_000 + 2_400 * (((params[0] as { accessList?: unknown[] }).accessList ?? []).length)).toString(16)}`,
    sendRawTransaction: async (params) => {
      const tx = createTxFromRLP(hexToBytes(params[0] as `0x${string}`), { common })
      await new Promise((resolve) => setTimeout(resolve, delay))
      sent.push(tx)
      return bytesToHex(tx.hash())
    },
  })
  return { methods, sent }
}

describe('dev accounts', () => {
  it('default: a transfer is filled as geth fills it — pending nonce, estimated gas, tip = suggested, fee cap = 2 × base fee + tip — and signed by the sender', async () => {
    const { methods, sent } = setup()
    const hash = await methods.eth_sendTransaction!([{ from: alice.toLowerCase(), to: bob, value: '0x9' }], context)
    const [tx] = sent
    assert.equal(hash, bytesToHex(tx!.hash()))
    assert.equal(tx!.getSenderAddress().toString(), alice.toLowerCase())
    assert.equal(tx!.type, 2)
    assert.equal(tx!.nonce, 0n)
    assert.equal(tx!.gasLimit, 21_000n)
    assert.equal(tx!.value, 9n)
    assert.equal('maxPriorityFeePerGas' in tx! && tx.maxPriorityFeePerGas, TIP)
    assert.equal('maxFeePerGas' in tx! && tx.maxFeePerGas, 2n * BASE_FEE + TIP)
    assert.equal(tx!.common.chainId(), 901n)
  })

  it('behavior: gasPrice gives a legacy transaction (EIP-2930 with an access list), a legacy type without gasPrice pays base fee + tip, a fee cap below the suggested tip lowers the tip, given fields are kept', async () => {
    const { methods, sent } = setup()
    await methods.eth_sendTransaction!([{ from: alice, to: bob, gasPrice: '0x64' }], context)
    await methods.eth_sendTransaction!([{ from: alice, to: bob, gasPrice: '0x64', accessList: [{ address: bob, storageKeys: [] }] }], context)
    await methods.eth_sendTransaction!([{ from: alice, to: bob, type: '0x0' }], context)
    await methods.eth_sendTransaction!([{ from: alice, to: bob, maxFeePerGas: '0x3' }], context)
    await methods.eth_sendTransaction!([{ from: alice, to: bob, nonce: '0x9', gas: '0x7530', data: '0xabcd' }], context)
    const [legacy, eip2930, typed, lowCap, given] = sent
    assert.deepEqual([legacy!.type, eip2930!.type, typed!.type, lowCap!.type, given!.type], [0, 1, 0, 2, 2])
    assert.equal('gasPrice' in legacy! && legacy.gasPrice, 100n)
    // Estimated with the access list: 21,000 + 2,400 for the listed address (EIP-2930).
    assert.equal(eip2930!.gasLimit, 23_400n)
    assert.equal('gasPrice' in typed! && typed.gasPrice, BASE_FEE + TIP)
    assert.deepEqual('maxFeePerGas' in lowCap! && [lowCap.maxFeePerGas, lowCap.maxPriorityFeePerGas], [3n, 3n])
    assert.deepEqual([given!.nonce, given!.gasLimit, bytesToHex(given!.data)], [9n, 30_000n, '0xabcd'])
    // The nonces came from the pool, one after another.
    assert.deepEqual(sent.slice(0, 4).map((tx) => tx.nonce), [0n, 1n, 2n, 3n])
  })

  it('behavior: concurrent sends from one account take consecutive nonces (a send holds the account until its transaction is pooled)', async () => {
    const { methods, sent } = setup({ delay: 20 })
    await Promise.all(Array.from({ length: 5 }, () => methods.eth_sendTransaction!([{ from: alice, to: bob }], context)))
    await methods.eth_sendTransaction!([{ from: bob, to: alice }], context)
    assert.deepEqual(sent.filter((tx) => tx.getSenderAddress().toString() === alice.toLowerCase()).map((tx) => tx.nonce).sort(), [0n, 1n, 2n, 3n, 4n])
    assert.equal(sent.at(-1)!.nonce, 0n)
  })

  it('behavior: without from, the first dev account sends (as anvil)', async () => {
    const { methods, sent } = setup()
    await methods.eth_sendTransaction!([{ to: bob }], context)
    assert.equal(sent[0]!.getSenderAddress().toString(), alice.toLowerCase())
  })

  it('behavior: a replica, a sequencer and a devnet started from a GENESIS_FILE list no accounts and refuse to sign, saying why', async () => {
    for (const [mode, genesisFile, why] of [
      ['replica', undefined, /this node holds no keys — dev accounts exist only on the devnet/],
      ['sequencer', '/g.json', /this node holds no keys — dev accounts exist only on the devnet/],
    ] as const) {
      const { methods, sent } = setup({ mode, genesisFile })
      assert.deepEqual(await methods.eth_accounts!([], context), [])
      for (const [method, params] of [
        ['eth_sendTransaction', [{ from: alice, to: bob }]],
        ['eth_sign', [alice, '0x00']],
        ['personal_sign', ['0x00', alice]],
        ['eth_signTypedData_v4', [alice, '{}']],
      ] as const) {
        await assert.rejects(async () => methods[method]!(params, context), (e: RpcError) => e.code === -32000 && why.test(e.message) && e.message.startsWith(`${method}: `))
      }
      assert.equal(sent.length, 0)
    }
    const custom = createDevAccountMethods({ ...setupDeps(), config: { mode: 'devnet', genesisFile: '/my/genesis.json' }, devAccounts: [] })
    assert.deepEqual(await custom.eth_accounts!([], context), [])
    await assert.rejects(async () => custom.eth_sign!([alice, '0x00'], context), /this devnet has no dev accounts — it was started with a GENESIS_FILE \(\/my\/genesis.json\)/)
  })
})

function setupDeps() {
  return {
    common,
    mempool: { pendingNonce: () => 0n },
    sequencer: { nextHeader: () => ({ baseFeePerGas: BASE_FEE }) as BlockHeader },
    suggestedTip: TIP,
    estimateGas: async () => '0x5208',
    sendRawTransaction: async () => '0x',
  }
}
