import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'

async function signed(key: Hex, nonce: number, value = 1n): Promise<Hex> {
  return privateKeyToAccount(key).signTransaction({
    chainId: 901,
    type: 'eip1559',
    nonce,
    to: SINK,
    value,
    gas: 21000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
  })
}

describe('eth_sendRawTransactionSync (EIP-7966)', () => {
  describe('with blocks every 50 ms', () => {
    let t: TestNode
    before(async () => {
      t = await startNode(['--miniblock-ms', '20'])
    })
    after(() => t.stop())

    it('default: returns the preconfirmed receipt, which the sealed block keeps but for its hash', async () => {
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[0], 0)])
      const receipt = response.result as { status: Hex; blockHash: Hex; blockNumber: Hex; transactionHash: Hex }
      assert.equal(receipt.status, '0x1')
      // Preconfirmed (its mini-batch is durable): the block's hash is not known yet (Base's
      // flashblocks: zero) — unless the block timer sealed it before a mini-batch ran.
      const preconfirmed = receipt.blockHash === `0x${'00'.repeat(32)}`
      let stored: { blockHash: Hex; blockNumber: Hex } | undefined
      while (true) {
        stored = (await t.rpc('eth_getTransactionReceipt', [receipt.transactionHash])).result as typeof stored
        if (stored !== undefined && (!preconfirmed || stored.blockHash !== receipt.blockHash)) break
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const block = (await t.rpc('eth_getBlockByNumber', [receipt.blockNumber, false])).result as { hash: Hex }
      assert.deepEqual(stored, { ...receipt, blockHash: block.hash })
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
      // Nonce 0 of this sender is preconfirmed or sealed: another transaction with it is refused.
      const response = await t.rpc('eth_sendRawTransactionSync', [await signed(DEV_KEYS[0], 0, 2n)])
      assert.equal(response.error?.code, -32000)
      assert.match(response.error!.message, /^nonce too low/)
    })
  })

  describe('when no block is sealed in time', () => {
    let t: TestNode
    before(async () => {
      t = await startNode(['--block-time-ms', '100000', '--miniblock-ms', '100000', '--rpc-sync-timeout-ms', '300'])
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
