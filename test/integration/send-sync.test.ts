import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'

async function signed(key: Hex, nonce: number): Promise<Hex> {
  return privateKeyToAccount(key).signTransaction({
    chainId: 901,
    type: 'eip1559',
    nonce,
    to: SINK,
    value: 1n,
    gas: 21000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
  })
}

describe('eth_sendRawTransactionSync (EIP-7966)', () => {
  describe('with blocks every 50 ms', () => {
    let t: TestNode
    before(async () => {
      t = await startNode()
    })
    after(() => t.stop())

    it('default: returns the receipt of the sealed block', async () => {
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[0], 0)])
      const receipt = response.result as { status: Hex; blockHash: Hex; transactionHash: Hex }
      assert.equal(receipt.status, '0x1')
      const stored = await t.rpc('eth_getTransactionReceipt', [receipt.transactionHash])
      assert.deepEqual(stored.result, receipt)
    })

    it('behavior: a nonce gap is code 5 with the hash, and the tx stays pooled', async () => {
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[1], 3)])
      assert.equal(response.error?.code, 5)
      assert.match(response.error!.message, /missing nonce: next nonce 0, tx nonce 3/)
      assert.match(String(response.error?.data), /^0x[0-9a-f]{64}$/)
      const pending = await t.rpc('eth_getTransactionByHash', [response.error?.data])
      assert.equal((pending.result as { blockHash: unknown }).blockHash, null)
    })

    it('behavior: a refusal is the eth_sendRawTransaction error', async () => {
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[0], 0)])
      assert.equal(response.error?.code, -32000)
      assert.match(response.error!.message, /^nonce too low/)
    })
  })

  describe('when no block is sealed in time', () => {
    let t: TestNode
    before(async () => {
      t = await startNode(['--block-time-ms', '100000', '--rpc-sync-timeout-ms', '300'])
    })
    after(() => t.stop())

    it('behavior: times out with code 4 and the hash; an invalid timeout uses the default', async () => {
      const started = Date.now()
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[2], 0), 100_000])
      assert.equal(response.error?.code, 4)
      assert.match(response.error!.message, /wasn't processed in 300ms/)
      assert.ok(Date.now() - started >= 290)
      assert.match(String(response.error?.data), /^0x[0-9a-f]{64}$/)
      const short = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[2], 1), '0x32'])
      assert.match(short.error!.message, /wasn't processed in 50ms/)
    })
  })
})
