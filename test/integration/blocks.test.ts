import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, startNode } from './harness.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function transfer(key: Hex, nonce: number): Promise<Hex> {
  return privateKeyToAccount(key).signTransaction({
    chainId: 901, type: 'eip1559', nonce, to: SINK, value: 1n, gas: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n,
  })
}

describe('block production', () => {
  it('default: an interval without transactions produces no block', async () => {
    const t = await startNode(['--block-time-ms', '30'])
    try {
      await sleep(200)
      assert.equal(await t.publicClient.getBlockNumber(), 0n)
      await t.rpc('eth_sendRawTransaction', [await transfer(DEV_KEYS[0], 0)])
      await sleep(200)
      assert.equal(await t.publicClient.getBlockNumber(), 1n)
    } finally {
      await t.stop()
    }
  })

  it('behavior: --empty-blocks seals a block every interval', async () => {
    const t = await startNode(['--block-time-ms', '30', '--empty-blocks'])
    try {
      await sleep(300)
      const head = await t.publicClient.getBlock()
      assert.ok(head.number >= 3n, `only ${head.number} blocks`)
      assert.equal(head.transactions.length, 0)
    } finally {
      await t.stop()
    }
  })

  it('behavior: a full pool is sealed at once, without waiting for the block time', async () => {
    // Room for two transfers per block; the block time is far away.
    const t = await startNode(['--block-time-ms', '100000', '--block-gas-limit', '42000'])
    try {
      await t.rpc('eth_sendRawTransaction', [await transfer(DEV_KEYS[0], 0)])
      await sleep(100)
      assert.equal(await t.publicClient.getBlockNumber(), 0n)
      await t.rpc('eth_sendRawTransaction', [await transfer(DEV_KEYS[1], 0)])
      for (let i = 0; i < 50 && (await t.publicClient.getBlockNumber()) === 0n; i++) await sleep(20)
      const block = await t.publicClient.getBlock({ blockNumber: 1n })
      assert.equal(block.transactions.length, 2)
      assert.equal(block.gasUsed, 42000n)
    } finally {
      await t.stop()
    }
  })

  it('behavior: the base fee follows EIP-1559 and never drops below the floor', async () => {
    const t = await startNode(['--block-time-ms', '20', '--empty-blocks', '--base-fee-floor', '900000000'])
    try {
      await sleep(400)
      const head = await t.publicClient.getBlockNumber()
      let previous = (await t.publicClient.getBlock({ blockNumber: 0n })).baseFeePerGas!
      for (let n = 1n; n <= head; n++) {
        const block = await t.publicClient.getBlock({ blockNumber: n })
        // Empty parent: −1/8 per block, floored.
        const expected = previous - previous / 8n
        assert.equal(block.baseFeePerGas, expected < 900_000_000n ? 900_000_000n : expected)
        previous = block.baseFeePerGas!
      }
      assert.equal(previous, 900_000_000n)
    } finally {
      await t.stop()
    }
  })
})
