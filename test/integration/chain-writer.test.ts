/**
 * The one commit sequence (`chain/chain-writer.ts`) and what the end-to-end path relies on:
 * durable before visible, inclusion waiters, decoded blocks on the shared transaction Common
 * within the cache's byte budget, and overload refused at once.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { bytesToUnprefixedHex, hexToBytes } from '@ethereumjs/util'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { blockCommonFor, txCommonFor } from '../../src/chain/common.ts'
import type { ChainBlock } from '../../src/chain/chain.ts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'

function signed(keyIndex: number, nonce: number, value = 1n): Promise<Hex> {
  return privateKeyToAccount(DEV_KEYS[keyIndex]!).signTransaction({
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

describe('ChainWriter: the commit sequence', () => {
  let t: TestNode
  before(async () => {
    // Blocks (and mini-batches) only when a test seals one.
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000', '--chain-cache-bytes', '150000'])
  })
  after(() => t.stop())

  it('behavior: inclusion waiters resolve for their own transaction only, and time out otherwise', async () => {
    const { node } = t
    const included = hexToBytes((await t.rpc('eth_sendRawTransaction', [await signed(1, 0)])).result as Hex)
    const other = hexToBytes(`0x${'ab'.repeat(32)}`)
    const waitIncluded = node.writer.waitForInclusion(included, 10_000)
    const waitOther = node.writer.waitForInclusion(other, 300)
    await node.sequencer.seal()
    assert.deepEqual(await waitIncluded, { status: 'included' })
    assert.deepEqual(await waitOther, { status: 'timeout' })
  })

  it('behavior: decoded blocks share the transaction and block Commons, and the block cache stays within its byte budget', async () => {
    const { node } = t
    const sealed: ChainBlock[] = []
    for (let block = 0; block < 6; block++) {
      for (let i = 0; i < 20; i++) await t.rpc('eth_sendRawTransaction', [await signed(2, block * 20 + i)])
      sealed.push((await node.sequencer.seal())!)
    }
    // Read every block back: old ones come from the store, decoded again.
    for (let n = 0n; n <= node.chain.head; n++) assert.ok(node.chain.getBlock(n))
    const stats = node.chain.cacheStats()
    assert.ok(stats.bytes <= stats.budget, `cache holds ${stats.bytes} bytes, budget ${stats.budget}`)
    assert.ok(stats.blocks < Number(node.chain.head) + 1, 'some blocks were evicted')
    // A header or a hash alone, of cached and of evicted blocks, as sealed.
    for (const { block } of sealed) {
      const hash = bytesToUnprefixedHex(block.hash())
      assert.equal(bytesToUnprefixedHex(node.chain.getHeader(block.header.number)!.hash()), hash)
      assert.equal(bytesToUnprefixedHex(node.chain.getBlockHash(block.header.number)!), hash)
    }
    const first = node.chain.getBlock(3n)!.block.transactions[0]!
    assert.equal(first.common, txCommonFor(node.common), 'a decoded transaction has no Common of its own')
    // Nor has a header, sealed or decoded from the store.
    assert.equal(node.chain.getBlock(3n)!.block.header.common, blockCommonFor(node.common), 'a decoded header has no Common of its own')
    for (const { block } of sealed) assert.equal(block.header.common, blockCommonFor(node.common), 'a sealed header has no Common of its own')
    // Its sender comes from the store, not from a signature recovery.
    assert.equal(first.getSenderAddress().toString(), privateKeyToAccount(DEV_KEYS[2]!).address.toLowerCase())
  })
})

describe('a block that cannot be made durable', () => {
  let t: TestNode
  before(async () => {
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000'])
  })
  after(() => t.stop())

  it('behavior: is never visible — head, state, receipt and mempool unchanged — and block production stops with the reason', async () => {
    const { node } = t
    const sink = bytesToUnprefixedHex(hexToBytes(SINK)).toLowerCase()
    // Control: a block that is written becomes visible.
    const first = (await t.rpc('eth_sendRawTransaction', [await signed(0, 0, 5n)])).result as Hex
    await node.sequencer.seal()
    assert.equal(node.chain.head, 1n)
    assert.equal(node.state.getAccount(sink)?.balance, 5n)
    assert.equal(((await t.rpc('eth_getTransactionReceipt', [first])).result as { status: Hex }).status, '0x1')
    assert.equal(node.mempool.size, 0)
    // A lone transaction's sender is recovered on the main thread: waking the recovery worker
    // (RECOVERY_THREADS=1 by default) for one costs more than the recovery.
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    assert.match(metrics, /mosaic_main_thread_sender_recoveries 1\n/)
    assert.match(metrics, /mosaic_worker_sender_recoveries 0\n/)
    assert.match(metrics, /mosaic_worker_sender_recovery_shipments 0\n/)

    const hash = (await t.rpc('eth_sendRawTransaction', [await signed(0, 1, 7n)])).result as Hex
    const write = node.store.writeBlock.bind(node.store)
    node.store.writeBlock = async () => {
      throw new Error('disk full (test)')
    }
    try {
      await assert.rejects(node.sequencer.seal(), /disk full/)
    } finally {
      node.store.writeBlock = write
    }
    assert.equal(node.chain.head, 1n)
    assert.equal(node.state.getAccount(sink)?.balance, 5n)
    assert.equal((await t.rpc('eth_getTransactionReceipt', [hash])).result, null)
    assert.equal(node.mempool.size, 1)
    // Its delta is in the commitment pipeline: no other block may follow it in this process.
    await assert.rejects(node.sequencer.seal(), /block production stopped: disk full \(test\); restart the node/)
    const health = await fetch(`${t.url}/health`)
    assert.equal(health.status, 503)
    assert.match(((await health.json()) as { reason: string }).reason, /disk full/)
  })
})

describe('a mini-batch that cannot be made durable', () => {
  let t: TestNode
  before(async () => {
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000'])
  })
  after(() => t.stop())

  it('behavior: is never visible — no receipt, pending state unchanged, the waiter not answered — and block production stops', async () => {
    const { node } = t
    const raw = await signed(1, 0, 9n)
    const hash = hexToBytes((await t.rpc('eth_sendRawTransaction', [raw])).result as Hex)
    const waiting = node.writer.waitForInclusion(hash, 300)
    const write = node.store.writeMiniBatch.bind(node.store)
    node.store.writeMiniBatch = async () => {
      throw new Error('disk full (mini-batch test)')
    }
    try {
      await assert.rejects(node.sequencer.runMiniBatch(), /disk full \(mini-batch test\)/)
    } finally {
      node.store.writeMiniBatch = write
    }
    assert.deepEqual(await waiting, { status: 'timeout' })
    assert.equal((await t.rpc('eth_getTransactionReceipt', [`0x${bytesToUnprefixedHex(hash)}`])).result, null)
    assert.equal((await t.rpc('eth_getBalance', [SINK, 'pending'])).result, '0x0')
    assert.equal(node.chain.head, 0n)
    assert.equal(node.preconfirmations.block, undefined)
    await assert.rejects(node.sequencer.seal(), /block production stopped: disk full \(mini-batch test\)/)
  })
})

describe('overload', () => {
  let t: TestNode
  before(async () => {
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000', '--rpc-max-concurrent', '2'])
  })
  after(() => t.stop())

  it('behavior: past RPC_MAX_CONCURRENT requests in flight, the next is refused at once with HTTP 429 and -32005', async () => {
    // Two requests held open: eth_sendRawTransactionSync waits for a block that does not come.
    const held = [0, 1].map(async (i) => t.rpc('eth_sendRawTransactionSync', [await signed(i, 0), 1500]))
    await new Promise((resolve) => setTimeout(resolve, 200))
    const response = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' })
    assert.equal(response.status, 429)
    const body = (await response.json()) as { error: { code: number; message: string } }
    assert.equal(body.error.code, -32005)
    assert.match(body.error.message, /RPC_MAX_CONCURRENT/)
    // Those two end (timeout, code 4) and the server answers again.
    for (const r of await Promise.all(held)) assert.equal(r.error?.code, 4)
    assert.equal((await t.rpc('eth_chainId')).result, '0x385')
  })
})
