/**
 * Preconfirmations (`sequencer/sequencer.ts`, `sequencer/preconfirmations.ts`): a block cut into
 * mini-batches is the sequential execution of its transactions in that order; a preconfirmed
 * transaction lands in its block at its position with the receipt it was preconfirmed with; the
 * `pending` tag and receipt lookups show preconfirmed transactions until the block is sealed, and
 * state reads at `latest` show them too (viem deploys, then writes to the contract, on preconfirmed
 * receipts alone);
 * `eth_subscribe("miniBatches")` streams them over WebSocket (viem); and after kill -9 between
 * a preconfirmation and the seal, the restarted node seals them where they were promised.
 *
 * Blocks and mini-batches are cut by the test (`runMiniBatch`, `seal`) with both timers an hour
 * long, so nothing depends on timing; the viem flow runs the 20 ms mini-batch timer and polls.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { type Hex, webSocket } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { decodeBlock } from '../../src/chain/block.ts'
import { encodeStateDelta } from '../../src/state/delta-codec.ts'
import { assembleBlock } from '../../src/execution/assemble.ts'
import { createSequentialExecutor } from '../../src/execution/sequential-executor.ts'
import { HistoricalState } from '../../src/state/historical-state.ts'
import type { MosaicNode } from '../../src/node/node.ts'
import { LmdbStore } from '../../src/storage/lmdb-store.ts'
import { DEV_KEYS, killChildren, mosaicChain, rawRpc, spawnNode, type SpawnedNode, startNode, tempDataDir, type TestNode } from './harness.ts'
import { eventually, within } from './ws-client.ts'
import { normalizeDelta } from '../differential/normalize.ts'

const SINK = '0x000000000000000000000000000000000000dEaD'
const ZERO_HASH = `0x${'00'.repeat(32)}`
/**
 * Runtime: slot 0 += calldata word 0, then LOG0 of the new value — every call reads what the
 * previous one wrote, so the order of execution shows in storage, logs and gas.
 */
const RUNTIME = '600035600054018060005560005260206000a000'
const INIT = `0x6014600c60003960146000f3${RUNTIME}` as Hex

type Receipt = { transactionHash: Hex; transactionIndex: Hex; blockHash: Hex; blockNumber: Hex; status: Hex; gasUsed: Hex; cumulativeGasUsed: Hex; contractAddress: Hex | null; logs: { blockHash: Hex; logIndex: Hex; data: Hex }[] }

function sign(keyIndex: number, nonce: number, fields: { to?: Hex; value?: bigint; data?: Hex; gas?: bigint } = {}): Promise<Hex> {
  return privateKeyToAccount(DEV_KEYS[keyIndex]!).signTransaction({
    chainId: 901,
    type: 'eip1559',
    nonce,
    ...(fields.to === undefined ? {} : { to: fields.to }),
    value: fields.value ?? 0n,
    ...(fields.data === undefined ? {} : { data: fields.data }),
    gas: fields.gas ?? 100_000n,
    maxFeePerGas: 10n ** 10n,
    maxPriorityFeePerGas: 1n,
  })
}

/** Pools a transfer to SINK straight into the mempool (not through the RPC, which may seal early); its hash. */
async function pool(node: MosaicNode, keyIndex: number, nonce: number, gas: bigint): Promise<Hex> {
  return bytesToHex((await node.mempool.add(hexToBytes(await sign(keyIndex, nonce, { to: SINK, value: 1n, gas })))).hash) as Hex
}

const word = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`

/** The receipt as it is once sealed: the same, with the block's hash in it and its logs. */
function sealedForm(receipt: Receipt, blockHash: Hex): Receipt {
  return { ...receipt, blockHash, logs: receipt.logs.map((log) => ({ ...log, blockHash })) }
}

/**
 * Re-execute block `n` as one sequential run of `order` (its transactions' indexes) from its
 * parent's state, under its header: the block hash (transactions and receipts roots, bloom, gas)
 * and the encoded delta, to compare with what the node sealed from mini-batches.
 */
async function reexecute(node: MosaicNode, n: bigint, order?: readonly number[]): Promise<{ hash: Hex; delta: Hex; changes: Map<string, string> }> {
  const stored = node.store.getBlock(n)!
  const block = decodeBlock(stored.serialized, node.common, node.chain.getBlock(n)!.senders)
  const transactions = (order ?? block.transactions.map((_, i) => i)).map((i) => block.transactions[i]!)
  const executor = await createSequentialExecutor({ common: node.common })
  try {
    const parent = new HistoricalState(node.store, n - 1n)
    const execution = await executor.executeBlock({
      header: block.header,
      transactions,
      state: parent,
      blockHash: (k) => node.chain.getBlockHash(k),
    })
    assert.equal(execution.rejected.length, 0)
    const { chainBlock } = assembleBlock(block.header, execution.executed, execution.gasUsed, block.header.stateRoot)
    return { hash: bytesToHex(chainBlock.hash), delta: bytesToHex(encodeStateDelta(execution.delta)), changes: normalizeDelta(execution.delta, parent) }
  } finally {
    await executor.close()
  }
}

// The executors execute mini-batches their own way (the parallel one in rounds on its workers); the block must not tell.
for (const executor of ['sequential', 'parallel'] as const) describe(`preconfirmations: a block of mini-batches (${executor} executor)`, () => {
  let t: TestNode
  before(async () => {
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000', '--executor', executor, '--executor-threads', '2'])
  })
  after(() => t.stop())

  const result = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await t.rpc(method, params)
    if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
    return response.result as T
  }

  it('default: is sequential execution of its transactions; preconfirmed receipts and pending state hold until and after the seal', async () => {
    const { node } = t
    // Block 1: the contract.
    await result('eth_sendRawTransaction', [await sign(0, 0, { data: INIT, gas: 200_000n })])
    await node.sequencer.seal()
    const contract = ((await result<Receipt>('eth_getTransactionReceipt', [(await result<{ transactions: Hex[] }>('eth_getBlockByNumber', ['0x1', false])).transactions[0]])).contractAddress)!
    assert.ok(contract)

    // Block 2, in three mini-batches: transfers and calls that each read the slot the previous wrote, one out of gas.
    const batches: Hex[][] = [
      [await sign(1, 0, { to: SINK, value: 5n }), await sign(0, 1, { to: contract, data: word(1) }), await sign(2, 0, { to: contract, data: word(2) })],
      [await sign(0, 2, { to: contract, data: word(3) }), await sign(1, 1, { to: SINK, value: 7n }), await sign(2, 1, { to: contract, data: word(4), gas: 21_500n })],
      [await sign(1, 2, { to: contract, data: word(5) }), await sign(0, 3, { to: SINK, value: 11n })],
    ]
    const preconfirmed = new Map<Hex, Receipt>()
    const miniBatches: number[] = []
    node.writer.on('miniBatch', (batch) => miniBatches.push(batch.included.length))
    let position = 0
    for (const [i, batch] of batches.entries()) {
      const hashes: Hex[] = []
      for (const raw of batch) hashes.push(await result<Hex>('eth_sendRawTransaction', [raw]))
      // Not executed yet: no receipt.
      assert.equal(await result('eth_getTransactionReceipt', [hashes[0]]), null)
      await node.sequencer.runMiniBatch()
      for (const hash of hashes) {
        const receipt = await result<Receipt>('eth_getTransactionReceipt', [hash])
        assert.equal(receipt.blockHash, ZERO_HASH, 'preconfirmed: no block hash yet')
        assert.equal(receipt.blockNumber, '0x2')
        assert.equal(receipt.transactionIndex, `0x${(position++).toString(16)}`)
        preconfirmed.set(hash, receipt)
      }
      // The pending block is the open block so far; latest is still block 1.
      const pending = await result<{ number: Hex; hash: Hex; transactions: Hex[]; gasUsed: Hex }>('eth_getBlockByNumber', ['pending', false])
      assert.equal(pending.number, '0x2')
      assert.equal(pending.hash, ZERO_HASH)
      assert.deepEqual(pending.transactions, [...preconfirmed.keys()])
      assert.equal(pending.gasUsed, preconfirmed.get(hashes.at(-1)!)!.cumulativeGasUsed)
      assert.equal(await result('eth_blockNumber'), '0x1', `after mini-batch ${i}`)
    }
    assert.deepEqual(miniBatches, [3, 3, 2])
    const statuses = [...preconfirmed.values()].map((r) => r.status)
    assert.deepEqual(statuses, ['0x1', '0x1', '0x1', '0x1', '0x1', '0x0', '0x1', '0x1'], 'the call with 21,500 gas runs out of gas')
    // State at pending and at latest has the preconfirmed transfers (5 + 7 + 11), nonces and
    // storage; state at the head's number (block 1) is the sealed head's.
    const sender = privateKeyToAccount(DEV_KEYS[1]!).address
    for (const tag of ['pending', 'latest']) {
      assert.equal(await result('eth_getBalance', [SINK, tag]), '0x17', tag)
      assert.equal(await result('eth_getTransactionCount', [sender, tag]), '0x3', tag)
      // slot 0 = 1 + 2 + 3 + 5 (the out-of-gas call wrote nothing).
      assert.equal(await result('eth_getStorageAt', [contract, '0x0', tag]), word(11), tag)
      assert.equal(await result('eth_call', [{ to: contract, data: word(0) }, tag]), '0x', tag)
    }
    // Simulations and traced calls at pending run on the preconfirmed state too, under the open
    // block's number as eth_call does: the contract adds its calldata word to slot 0 (11 so far)
    // and logs the sum.
    const simulated = await result<{ number: Hex; calls: { status: Hex; logs: { data: Hex }[] }[] }[]>('eth_simulateV1', [{ blockStateCalls: [{ calls: [{ to: contract, data: word(1) }] }] }, 'pending'])
    assert.equal(simulated[0]!.number, '0x2')
    assert.equal(simulated[0]!.calls[0]!.status, '0x1')
    assert.equal(simulated[0]!.calls[0]!.logs[0]!.data, word(12))
    const traced = await result<Record<string, { storage?: Record<Hex, Hex> }>>('debug_traceCall', [{ to: contract, data: word(1) }, 'pending', { tracer: 'prestateTracer' }])
    assert.equal(traced[contract.toLowerCase()]!.storage![word(0)], word(11))
    assert.equal(await result('eth_getBalance', [SINK, '0x1']), '0x0')
    assert.equal(await result('eth_getTransactionCount', [sender, '0x1']), '0x0')
    assert.equal(await result('eth_getStorageAt', [contract, '0x0', '0x1']), word(0))
    // eth_getLogs to `pending`: the preconfirmed logs as the preconfirmed receipts carry them
    // (Base's flashblocks); to `latest`, none of them.
    const preconfirmedLogs = [...preconfirmed.values()].flatMap((r) => r.logs)
    assert.equal(preconfirmedLogs.length, 4, 'a log per successful call')
    assert.deepEqual(await result('eth_getLogs', [{ fromBlock: 'pending', toBlock: 'pending' }]), preconfirmedLogs)
    assert.deepEqual(await result('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'pending', address: contract }]), preconfirmedLogs)
    assert.deepEqual(await result('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }]), [])
    const pendingBloom = (await result<{ logsBloom: Hex }>('eth_getBlockByNumber', ['pending', false])).logsBloom
    assert.notEqual(BigInt(pendingBloom), 0n, 'the pending block carries its logs\' bloom')
    // A transaction with a nonce already preconfirmed is refused at admission.
    assert.match((await t.rpc('eth_sendRawTransaction', [await sign(1, 2, { to: SINK, value: 1n })])).error!.message, /^nonce too low/)

    const sealed = (await node.sequencer.seal())!
    assert.equal(sealed.block.header.number, 2n)
    assert.equal(node.sequencer.lastExecution?.mode, executor, 'the block was executed by the executor under test')
    const blockHash = bytesToHex(sealed.hash) as Hex
    // Every preconfirmed transaction is in the block at its position with the receipt it was preconfirmed with.
    assert.deepEqual(sealed.block.transactions.map((tx) => bytesToHex(tx.hash())), [...preconfirmed.keys()])
    for (const [hash, receipt] of preconfirmed) assert.deepEqual(await result('eth_getTransactionReceipt', [hash]), sealedForm(receipt, blockHash))
    assert.equal(await result('eth_getBalance', [SINK, 'latest']), '0x17')
    assert.deepEqual(await result('eth_getLogs', [{ fromBlock: 'pending', toBlock: 'pending' }]), preconfirmedLogs.map((log) => ({ ...log, blockHash })))
    assert.equal((await result<{ logsBloom: Hex }>('eth_getBlockByNumber', ['0x2', false])).logsBloom, pendingBloom)
    // Nothing pending any more: `pending` is the head (Base's fallback).
    assert.equal((await result<{ hash: Hex }>('eth_getBlockByNumber', ['pending', false])).hash, blockHash)
    assert.equal(node.store.readMiniBatches().filter((b) => b.block === 2n).length, 3, 'stale, kept until the next block\'s first mini-batch')

    // The sealed block equals one sequential run of its transactions from its parent's state…
    const again = await reexecute(node, 2n)
    assert.equal(again.hash, blockHash)
    const stored = node.store.getStateDelta(2n)!
    // The same changes; the sequential executor's delta is the same bytes (the parallel one
    // drops writes that leave a value as it was, such as the called contract's account).
    assert.deepEqual(normalizeDelta(stored, new HistoricalState(node.store, 1n)), again.changes)
    if (executor === 'sequential') assert.equal(again.delta, bytesToHex(encodeStateDelta(stored)))
    // …and the comparison can fail: two calls on the same slot swapped give another block.
    const swapped = await reexecute(node, 2n, [0, 2, 1, 3, 4, 5, 6, 7])
    assert.notEqual(swapped.hash, blockHash)
  })

  it('behavior: a block without mini-batches before its seal is the same as one with them (sealed in one go)', async () => {
    const { node } = t
    for (let i = 0; i < 4; i++) await result('eth_sendRawTransaction', [await sign(2, 2 + i, { to: SINK, value: 1n })])
    const sealed = (await node.sequencer.seal())!
    assert.equal(sealed.block.transactions.length, 4)
    assert.equal((await reexecute(node, sealed.block.header.number)).hash, bytesToHex(sealed.hash))
  })

  it('behavior: eth_subscribe("miniBatches") over WebSocket (viem) streams each mini-batch with its receipts and state changes', async () => {
    const { node } = t
    const url = t.url.replace(/^http/, 'ws')
    const transport = webSocket(url, { retryCount: 0, reconnect: false })({ chain: mosaicChain(t.url) })
    const received: { blockNumber: Hex; index: Hex; transactions: Hex[]; receipts: Receipt[]; stateChanges: { accounts: Record<string, { balance: Hex } | null> } }[] = []
    const { unsubscribe } = await transport.value!.subscribe({
      params: ['miniBatches'] as never,
      onData: (data: { result?: unknown }) => {
        if (data.result !== undefined) received.push(data.result as (typeof received)[number])
      },
    })
    try {
      const head = node.chain.head
      const first = await result<Hex>('eth_sendRawTransaction', [await sign(0, 4, { to: SINK, value: 3n })])
      await node.sequencer.runMiniBatch()
      const second = await result<Hex>('eth_sendRawTransaction', [await sign(1, 3, { to: SINK, value: 4n })])
      await node.sequencer.runMiniBatch()
      await eventually(() => received.length >= 2, 'two mini-batches')
      // The first mini-batch of this block dropped the stored mini-batches of sealed blocks.
      assert.deepEqual(
        node.store.readMiniBatches().map((b) => [b.block, b.index]),
        [
          [head + 1n, 0],
          [head + 1n, 1],
        ],
      )
      assert.deepEqual(
        received.map((m) => [m.blockNumber, m.index, m.transactions]),
        [
          [`0x${(head + 1n).toString(16)}`, '0x0', [first]],
          [`0x${(head + 1n).toString(16)}`, '0x1', [second]],
        ],
      )
      assert.deepEqual(received[1]!.receipts[0], await result('eth_getTransactionReceipt', [second]))
      assert.equal(received[1]!.receipts[0]!.transactionIndex, '0x1')
      // The state it changed: the sink's balance after it (0x17 + 4 + 3 + 4 = 0x21).
      assert.equal(received[1]!.stateChanges.accounts[SINK.toLowerCase()]!.balance, await result('eth_getBalance', [SINK, 'pending']))
      await node.sequencer.seal()
    } finally {
      await unsubscribe()
      await transport.value!.getRpcClient().then((c) => c.close())
    }
  })

  it('behavior: bad subscription params get a clear JSON-RPC error', async () => {
    const url = t.url.replace(/^http/, 'ws')
    const transport = webSocket(url, { retryCount: 0, reconnect: false })({ chain: mosaicChain(t.url) })
    await assert.rejects(
      transport.value!.subscribe({ params: ['miniBatches', { nope: 1 }] as never, onData: () => {} }),
      (error: { code?: number; message?: string }) => error.code === -32602 && /^invalid miniBatches subscription: it takes no options/.test(error.message ?? ''),
    )
    await transport.value!.getRpcClient().then((c) => c.close())
  })
})

describe('preconfirmations: what a tool holding a preconfirmed receipt sees', () => {
  let t: TestNode
  before(async () => {
    // Mini-batches every 20 ms, blocks never sealed by time: every receipt here is preconfirmed.
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '20'])
  })
  after(() => t.stop())

  // A client polling eth_getTransactionReceipt (cast does; viem's waitForTransactionReceipt looks
  // when a new block appears, so it gets a preconfirmed receipt when one is sealed meanwhile).
  const receiptOf = async (hash: Hex) => {
    for (;;) {
      const receipt = await t.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)
      if (receipt !== undefined) return receipt
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it('behavior: viem deploys, gets the preconfirmed receipt, then writes to and reads the contract at latest, as against anvil', async () => {
    const token = loadArtifact('MosaicToken')
    const holder = privateKeyToAccount(DEV_KEYS[2]!).address
    const wallet = t.wallet(0)
    const deploy = await wallet.deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
    const deployed = await receiptOf(deploy)
    assert.equal(deployed.blockHash, ZERO_HASH, 'preconfirmed, not sealed')
    const address = deployed.contractAddress!
    // writeContract estimates gas at latest: it must see the contract the receipt says exists.
    const transfer = await wallet.writeContract({ address, abi: token.abi, functionName: 'transfer', args: [holder, 4242n], chain: null } as never)
    const transferred = await receiptOf(transfer)
    assert.equal(transferred.status, 'success')
    assert.equal(await t.publicClient.readContract({ address, abi: token.abi, functionName: 'balanceOf', args: [holder] }), 4242n)
    // Control: the sealed head, read by its number, has no contract yet.
    const head = await t.publicClient.getBlockNumber({ cacheTime: 0 })
    assert.equal(head, 0n)
    await assert.rejects(t.publicClient.readContract({ address, abi: token.abi, functionName: 'balanceOf', args: [holder], blockNumber: head }))
  })

  it('behavior: after many mini-batch intervals with nothing new to execute (the timer at rest), the next transaction still gets its own mini-batch', async () => {
    // 15 intervals of 20 ms with nothing new pooled (what is pooled, the open block has
    // executed): the mini-batch timer has stopped waking the thread.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const raw = await sign(1, 0, { to: SINK, value: 1n, gas: 21_000n })
    // Blocks are sealed hourly here: only a mini-batch can answer within the 10 s asked for.
    const answer = await t.rpc('eth_sendRawTransactionSync', [raw, 10_000])
    assert.equal(answer.error, undefined, JSON.stringify(answer.error))
    const receipt = answer.result as Receipt
    assert.equal(receipt.status, '0x1')
    assert.equal(receipt.blockHash, ZERO_HASH, 'preconfirmed by a mini-batch, not sealed')
  })
})

describe('preconfirmations: a mini-batch is bounded by the gas the block has left', () => {
  let t: TestNode
  before(async () => {
    // Room for two transfers per block; both timers an hour away.
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000', '--block-gas-limit', '42000'])
  })
  after(() => t.stop())

  it('behavior: a mini-batch takes what fits, the full block is sealed at once, and the rest opens the next block', async () => {
    const { node } = t
    const hashes: Hex[] = []
    // Pooled directly: the RPC path would seal early on its own once the pool holds a full block.
    for (let i = 0; i < 3; i++) hashes.push(await pool(node, i, 0, 21_000n))
    await node.sequencer.runMiniBatch()
    // Full: sealed without waiting for the block time, with the two that fit.
    await eventually(() => node.chain.head === 1n, 'block 1')
    assert.deepEqual(node.chain.getBlock(1n)!.block.transactions.map((tx) => bytesToHex(tx.hash())), hashes.slice(0, 2))
    assert.equal(((await t.rpc('eth_getTransactionReceipt', [hashes[2]])).result), null)
    await node.sequencer.runMiniBatch()
    const receipt = (await t.rpc('eth_getTransactionReceipt', [hashes[2]])).result as Receipt
    assert.deepEqual([receipt.blockNumber, receipt.transactionIndex, receipt.blockHash], ['0x2', '0x0', ZERO_HASH])
    assert.match(await (await fetch(`${t.url}/metrics`)).text(), /^mosaic_mini_batches_total 2$/m)
  })
})

describe('preconfirmations: a block is full by the gas it used, not by its transactions\' limits', () => {
  let t: TestNode
  before(async () => {
    // Room for five transfers' 21,000 gas per block, two of their 40,000-gas limits; both timers an hour away.
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000', '--block-gas-limit', '105000'])
  })
  after(() => t.stop())

  it('behavior: calls that use less than their gas limits leave room that the rest of the pool fills before the block is sealed, as in anvil\'s blocks', async () => {
    const { node } = t
    const hashes: Hex[] = []
    for (let i = 0; i < 4; i++) hashes.push(await pool(node, i % 3, Math.floor(i / 3), 40_000n))
    // The mini-batch fits two by their limits (80,000 of 105,000) and they use 42,000; the two
    // still pooled ask for more than the 63,000 left, so the block is sealed at once, and its
    // last mini-batches take them while each fits in what the one before left.
    await node.sequencer.runMiniBatch()
    await eventually(() => node.chain.head === 1n, 'block 1')
    const block = node.chain.getBlock(1n)!.block
    assert.deepEqual(block.transactions.map((tx) => bytesToHex(tx.hash())), hashes)
    assert.equal(block.header.gasUsed, 84_000n)
    assert.equal(node.mempool.size, 0)
  })
})

describe('preconfirmations: the pool fills the open block by what its transactions use', () => {
  let t: TestNode
  before(async () => {
    // Mini-batches on, but their timer ten minutes away: only the test and the pool run them.
    t = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '600000', '--block-gas-limit', '105000'])
  })
  after(() => t.stop())

  it('behavior: arrivals seal the open block once their gas limits, weighed by what its transactions used of theirs, fill what it has left', async () => {
    const { node } = t
    const send = async (keyIndex: number, nonce: number): Promise<Hex> => {
      const answer = await t.rpc('eth_sendRawTransaction', [await sign(keyIndex, nonce, { to: SINK, value: 1n, gas: 40_000n })])
      assert.equal(answer.error, undefined, JSON.stringify(answer.error))
      return answer.result as Hex
    }
    const hashes = [await send(0, 0)]
    await node.sequencer.runMiniBatch()
    // The open block used 21,000 of its transfer's 40,000 and has 84,000 left. Three more pooled
    // ask for 120,000 by their limits (more than the block as a whole, which sealed it before),
    // but weigh 63,000 by use: the block stays open.
    for (const [key, nonce] of [[1, 0], [2, 0], [0, 1]] as const) hashes.push(await send(key, nonce))
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(node.chain.head, 0n)
    // A fifth weighs 84,000 with them: sealed at once, its last mini-batches taking what fits.
    const fifth = await send(1, 1)
    await eventually(() => node.chain.head === 1n, 'block 1')
    const block = node.chain.getBlock(1n)!.block
    assert.deepEqual(block.transactions.map((tx) => bytesToHex(tx.hash())), hashes)
    assert.equal(block.header.gasUsed, 84_000n)
    assert.equal((await t.rpc('eth_getTransactionReceipt', [fifth])).result, null)
  })
})

describe('preconfirmations: the block timer', () => {
  let t: TestNode
  // Mini-batches only when the test runs one; blocks on a 2 s schedule.
  before(async () => {
    t = await startNode(['--block-time-ms', '2000', '--miniblock-ms', '3600000'])
  })
  after(() => t.stop())

  it('behavior: a scheduled seal takes what was pooled after the last mini-batch, in a last one, as anvil takes its whole pool', async () => {
    const { node } = t
    const transfer = (keyIndex: number, nonce: number): Promise<Hex> => pool(node, keyIndex, nonce, 21_000n)
    // Right after a scheduled seal, the next deadline is ~2 s away.
    await transfer(0, 0)
    await node.sequencer.runMiniBatch()
    await eventually(() => node.chain.head === 1n, 'block 1', 5_000)
    const a = await transfer(1, 0)
    await node.sequencer.runMiniBatch()
    const b = await transfer(2, 0)
    // b is pooled, not preconfirmed: only the seal's last mini-batch takes it.
    assert.equal((await t.rpc('eth_getTransactionReceipt', [b])).result, null)
    await eventually(() => node.chain.head === 2n, 'block 2', 5_000)
    assert.deepEqual(node.chain.getBlock(2n)!.block.transactions.map((tx) => bytesToHex(tx.hash())), [a, b])
  })
})

describe('preconfirmations: kill -9 between a preconfirmation and the seal', { timeout: 180_000 }, () => {
  const children: ChildProcess[] = []
  const dataDir = tempDataDir()
  after(async () => {
    await killChildren(children)
    rmSync(dataDir, { recursive: true, force: true })
  })

  async function spawn(flags: string[]): Promise<SpawnedNode> {
    const node = await spawnNode(dataDir, flags)
    children.push(node.child)
    return node
  }

  it('default: every preconfirmed transaction is sealed at its preconfirmed position with its receipt', { timeout: 120_000 }, async () => {
    // Mini-batches every 5 ms, blocks never: whatever is preconfirmed is unsealed when the node dies.
    // On the parallel executor: mini-batches run on its workers, and so does the re-execution at start.
    const flags = ['--block-time-ms', '3600000', '--miniblock-ms', '5', '--executor', 'parallel', '--executor-threads', '2']
    let node = await spawn(flags)
    const call = async <T>(url: string, method: string, params: unknown[]): Promise<T> => {
      const response = await rawRpc(url, method, params)
      if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
      return response.result as T
    }
    const preconfirmed: Receipt[] = []
    for (let i = 0; i < 6; i++) preconfirmed.push(await call<Receipt>(node.url, 'eth_sendRawTransactionSync', [await sign(i % 3, Math.floor(i / 3), { to: SINK, value: BigInt(i + 1) })]))
    for (const receipt of preconfirmed) {
      assert.equal(receipt.blockHash, ZERO_HASH)
      assert.equal(receipt.blockNumber, '0x1')
    }
    assert.deepEqual(preconfirmed.map((r) => r.transactionIndex), ['0x0', '0x1', '0x2', '0x3', '0x4', '0x5'])
    assert.equal(await call(node.url, 'eth_blockNumber', []), '0x0', 'nothing sealed before the kill')

    const exited = once(node.child, 'exit')
    assert.ok(node.child.kill('SIGKILL'))
    await exited
    assert.equal(node.child.signalCode, 'SIGKILL')

    node = await spawn(flags)
    // Sealed at start, before the RPC answered anything.
    assert.equal(await call(node.url, 'eth_blockNumber', []), '0x1')
    const block = await call<{ hash: Hex; transactions: Hex[] }>(node.url, 'eth_getBlockByNumber', ['0x1', false])
    assert.deepEqual(block.transactions, preconfirmed.map((r) => r.transactionHash))
    for (const receipt of preconfirmed) assert.deepEqual(await call(node.url, 'eth_getTransactionReceipt', [receipt.transactionHash]), sealedForm(receipt, block.hash))
    assert.equal(await call(node.url, 'eth_getBalance', [SINK, 'latest']), '0x15')
    // And the chain goes on from it.
    const next = await call<Receipt>(node.url, 'eth_sendRawTransactionSync', [await sign(0, 2, { to: SINK, value: 1n })])
    assert.equal(next.blockNumber, '0x2')
    assert.equal(next.transactionIndex, '0x0')
    await within(
      eventually(async () => (await rawRpc(node.url, 'eth_getBalance', [SINK, 'pending'])).result === '0x16', 'pending balance'),
      'pending balance',
    )
  })
})

describe('preconfirmations: a power cut that loses the last blocks’ writes', () => {
  const dirs: string[] = []
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('behavior: the mini-batches kept until their block’s write is flushed are sealed in turn at the next start', async () => {
    const flags = ['--block-time-ms', '3600000', '--miniblock-ms', '3600000']
    const dataDir = tempDataDir()
    const copy = tempDataDir()
    dirs.push(dataDir, copy)
    const send = async (t: TestNode, raw: Hex) => assert.equal((await t.rpc('eth_sendRawTransaction', [raw])).error, undefined)

    // Block 1: the head the cut goes back to.
    let t = await startNode(flags, { dataDir })
    await send(t, await sign(0, 0, { to: SINK, value: 1n }))
    await t.node.sequencer.runMiniBatch()
    await t.node.sequencer.seal({ lastMiniBatch: false })
    await t.stop({ keepData: true })

    // A copy goes on: block 2 from two mini-batches, block 3 from one. Their records are what a
    // power cut leaves when neither block's write was flushed.
    cpSync(dataDir, copy, { recursive: true })
    t = await startNode(flags, { dataDir: copy })
    await send(t, await sign(0, 1, { to: SINK, value: 2n }))
    await send(t, await sign(1, 0, { to: SINK, value: 3n }))
    await t.node.sequencer.runMiniBatch()
    await send(t, await sign(2, 0, { to: SINK, value: 4n }))
    await t.node.sequencer.runMiniBatch()
    const records = t.node.store.readMiniBatches().filter((r) => r.block === 2n)
    await t.node.sequencer.seal({ lastMiniBatch: false })
    await send(t, await sign(0, 2, { to: SINK, value: 5n }))
    await t.node.sequencer.runMiniBatch()
    records.push(...t.node.store.readMiniBatches().filter((r) => r.block === 3n))
    await t.node.sequencer.seal({ lastMiniBatch: false })
    const hashes = [2n, 3n].map((n) => bytesToHex(t.node.chain.getBlockHash(n)!))
    await t.stop({ keepData: true })
    assert.deepEqual(records.map((r) => [r.block, r.index]), [[2n, 0], [2n, 1], [3n, 0]])

    // The original data dir as the cut leaves it: head 1, the mini-batches of blocks 2 and 3.
    const store = LmdbStore.open(dataDir)
    for (const r of records) await store.writeMiniBatch(r.block, r.index, r.record)
    await store.close()

    t = await startNode(flags, { dataDir })
    try {
      assert.equal(t.node.chain.head, 3n)
      assert.deepEqual([2n, 3n].map((n) => bytesToHex(t.node.chain.getBlockHash(n)!)), hashes)
      assert.equal((await t.rpc('eth_getBalance', [SINK, 'latest'])).result, '0xf')
    } finally {
      await t.stop()
    }
  })
})
