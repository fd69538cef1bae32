/**
 * The L1 sender on a real anvil with mining switched off, so transactions can be left stuck:
 * a stuck transaction is replaced with the same nonce and higher fees until one version is
 * mined; a transaction left pending by an earlier run is replaced, not queued behind; a
 * transaction dropped by a reorg before its confirmations is an error.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, encodeFunctionData, type Hex, hexToBytes, http, keccak256, type PublicClient, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { type Anvil, startAnvil } from './anvil.ts'
import { deployInbox } from './deploy.ts'
import { inboxArtifact } from './inbox.ts'
import { createChainCommon, txCommonFor } from '../chain/common.ts'
import { L1Sender, signFeeMarketTx } from './sender.ts'

const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const ACCOUNT = privateKeyToAccount(KEY)

describe('L1Sender on anvil', { timeout: 60_000 }, () => {
  let anvil: Anvil
  let client: PublicClient
  let inbox: Hex
  const rpc = async (method: string, params: unknown[] = []) => client.request({ method, params } as never) as Promise<unknown>
  const frame = (i: number) => encodeFunctionData({ abi: inboxArtifact().abi, functionName: 'postFrame', args: [0n, keccak256('0x01'), i, false, '0x1234'] })
  const sender = (options: { confirmations?: number; resendAfterMs?: number } = {}) =>
    new L1Sender({ client, privateKey: KEY, chainId: 31337, confirmations: options.confirmations ?? 1, resendAfterMs: options.resendAfterMs ?? 300 })

  before(async () => {
    anvil = await startAnvil()
    client = createPublicClient({ transport: http(anvil.url), pollingInterval: 50 }) as PublicClient
    inbox = await deployInbox({ client, url: anvil.url, account: ACCOUNT, sequencer: ACCOUNT.address, firstBlock: 1n, startStateRoot: keccak256('0x00') })
  })
  after(async () => {
    await anvil?.stop()
  })

  it('behavior: a transaction not mined in time is replaced at higher fees with the same nonce; the mined version is returned', async () => {
    await rpc('evm_setAutomine', [false])
    const nonce = await client.getTransactionCount({ address: ACCOUNT.address })
    const s = sender()
    const sending = s.send({ to: inbox, data: frame(0) }, 'test frame')
    // Let it be replaced a few times, then mine.
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    const pool = (await rpc('txpool_content')) as { pending: Record<string, Record<string, { maxFeePerGas: Hex; nonce: Hex }>> }
    const ours = Object.entries(pool.pending).find(([address]) => address.toLowerCase() === ACCOUNT.address.toLowerCase())?.[1] ?? {}
    assert.deepEqual(Object.keys(ours).map(Number), [nonce], 'one pending transaction: the replacements took its place')
    await rpc('evm_mine')
    const receipt = await sending
    assert.equal(receipt.status, 'success')
    assert.ok(s.stats.replaced >= 2, `replaced ${s.stats.replaced} times`)
    const mined = await client.getTransaction({ hash: receipt.transactionHash })
    assert.equal(mined.nonce, nonce)
    const first = await client.estimateFeesPerGas()
    assert.ok(mined.maxFeePerGas! > first.maxFeePerGas, 'the mined version pays more than the first one offered')
    await rpc('evm_setAutomine', [true])
  })

  it('behavior: a transaction left pending by an earlier run is replaced, not queued behind', async () => {
    await rpc('evm_setAutomine', [false])
    const nonce = await client.getTransactionCount({ address: ACCOUNT.address })
    // The "earlier run": sent and never mined.
    const earlier = sender({ resendAfterMs: 60_000 })
    void earlier.send({ to: inbox, data: frame(1) }, 'earlier run').catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 300))
    const s = sender()
    const sending = s.send({ to: inbox, data: frame(2) }, 'this run')
    await new Promise((resolve) => setTimeout(resolve, 800))
    await rpc('evm_mine')
    const receipt = await sending
    const mined = await client.getTransaction({ hash: receipt.transactionHash })
    assert.equal(mined.nonce, nonce, 'took the stuck nonce')
    assert.equal(mined.input, frame(2))
    await rpc('evm_setAutomine', [true])
  })

  it('behavior: a transaction a reorg drops before its confirmations is an error, not a success', async () => {
    const snapshot = await rpc('evm_snapshot')
    const s = sender({ confirmations: 3, resendAfterMs: 2_000 })
    const sending = s.send({ to: inbox, data: frame(3) }, 'reorged')
    // Mined at once (automine); revert the block before the 2 further confirmations arrive.
    await new Promise((resolve) => setTimeout(resolve, 300))
    await rpc('evm_revert', [snapshot])
    await rpc('evm_setAutomine', [false])
    await rpc('anvil_dropAllTransactions')
    await rpc('anvil_mine', ['0x3'])
    await assert.rejects(sending, /dropped by an L1 reorg before 3 confirmation/)
    await rpc('evm_setAutomine', [true])
  })
})

describe('L1 transaction signing', () => {
  it('behavior: the fast signer makes the bytes viem\'s signTransaction makes, for a frame of calldata', async () => {
    const common = txCommonFor(createChainCommon({ chainId: 31337, hardfork: 'prague' }))
    const data = toHex(Uint8Array.from({ length: 120_000 }, (_, i) => (i * 7919) % 256))
    const fields = { nonce: 7, to: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as const, data, gas: 2_500_000n, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n }
    const ours = signFeeMarketTx(common, hexToBytes(KEY), fields)
    const viems = await ACCOUNT.signTransaction({ chainId: 31337, type: 'eip1559', ...fields })
    assert.equal(ours, viems)
    // Control: another nonce is another transaction.
    assert.notEqual(signFeeMarketTx(common, hexToBytes(KEY), { ...fields, nonce: 8 }), viems)
  })
})
