/**
 * The base fee falls to transactions it priced out. Only blocks lower it (EIP-1559: 12.5% per
 * empty block), so with `EMPTY_BLOCKS` off a pooled transaction whose fee cap is below the base
 * fee gets empty blocks sealed on the schedule until it fits — as geth and anvil, which seal
 * every block time, would include it. Without them, the chain stalls for good once full blocks
 * raise the base fee past every pooled fee cap (seen in `bench:soak` at 110% of capacity: 10,000
 * pooled transfers, no block for minutes).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const [name, flags] of [['whole blocks', []], ['mini-batches', ['--miniblock-ms', '10']]] as const) describe(`base fee (${name})`, () => {
  let t: TestNode
  before(async () => {
    t = await startNode([...flags])
  })
  after(async () => {
    await t.stop()
  })

  it('behavior: a transaction priced out by the base fee is included once empty blocks lower it, and no empty block follows', async () => {
    const head = await t.publicClient.getBlock()
    const baseFee = head.baseFeePerGas!
    // The next block's base fee is at most 12.5% above the head's; half the head's is below it.
    const maxFeePerGas = baseFee / 2n
    assert.ok(maxFeePerGas > 1_000_000n, `fee cap ${maxFeePerGas} must clear the base fee floor`)
    // Signed here: viem's sendTransaction refuses a fee cap below the base fee before sending.
    const account = privateKeyToAccount(DEV_KEYS[0])
    const nonce = await t.publicClient.getTransactionCount({ address: account.address })
    const raw = await account.signTransaction({ type: 'eip1559', chainId: await t.publicClient.getChainId(), nonce, to: SINK, value: parseEther('0.001'), gas: 21_000n, maxFeePerGas, maxPriorityFeePerGas: 0n })
    const hash = await t.publicClient.sendRawTransaction({ serializedTransaction: raw })
    const first = await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
    // With mini-batches the first receipt may be preconfirmed: wait for its block to be sealed.
    for (let waited = 0; (await t.publicClient.getBlockNumber({ cacheTime: 0 })) < first.blockNumber; waited += 20) {
      assert.ok(waited < 5_000, `block ${first.blockNumber} was not sealed`)
      await sleep(20)
    }
    const receipt = await t.publicClient.getTransactionReceipt({ hash })
    assert.equal(receipt.blockNumber, first.blockNumber)
    assert.equal(receipt.status, 'success')
    const block = await t.publicClient.getBlock({ blockNumber: receipt.blockNumber })
    assert.ok(block.baseFeePerGas! <= maxFeePerGas, `included at base fee ${block.baseFeePerGas}, above its fee cap ${maxFeePerGas}`)
    // The blocks between lowered the base fee: sealed with nothing in them.
    assert.ok(receipt.blockNumber - head.number >= 2n, `included in block ${receipt.blockNumber}, right after the head ${head.number}: nothing was priced out`)
    for (let n = head.number + 1n; n < receipt.blockNumber; n++) {
      assert.equal((await t.publicClient.getBlock({ blockNumber: n })).transactions.length, 0)
    }
    // Nothing waits any more: no empty block is sealed (EMPTY_BLOCKS is off).
    const settled = await t.publicClient.getBlockNumber({ cacheTime: 0 })
    await sleep(500) // ten block times
    assert.equal(await t.publicClient.getBlockNumber({ cacheTime: 0 }), settled)
  })
})
