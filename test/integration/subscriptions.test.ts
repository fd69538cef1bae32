/**
 * Filters and WebSocket subscriptions as tools use them, against a real node: viem over `http`
 * (watchers that poll through eth_newFilter / eth_getFilterChanges) and over `webSocket`
 * (eth_subscribe), ethers' JsonRpcProvider (filters) and WebSocketProvider (subscriptions), and
 * raw JSON-RPC for what libraries hide: geth's notification shapes and errors, and the limits —
 * connections, subscriptions, a consumer that stops reading, eth_getFilterLogs' range.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Contract, JsonRpcProvider, WebSocketProvider } from 'ethers'
import { createPublicClient, type Hex, type PublicClient, webSocket } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'
import { connect, eventually, type Message, within } from './ws-client.ts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_KEYS, mosaicChain, startNode, type TestNode } from './harness.ts'

const token = loadArtifact('MosaicToken')
/** ethers' human-readable ABI of the token's event. */
const TRANSFER_ABI = ['event Transfer(address indexed from, address indexed to, uint256 value)']
const bob = privateKeyToAccount(DEV_KEYS[1]).address
const alice = privateKeyToAccount(DEV_KEYS[0]).address

/** How many requests of `method` the node has answered (its /metrics). */
async function served(url: string, method: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const match = new RegExp(`^mosaic_rpc_request_seconds_count\\{method="${method}"\\} (\\d+)$`, 'm').exec(text)
  return match === null ? 0 : Number(match[1])
}

describe('filters and subscriptions', () => {
  let t: TestNode
  let wsUrl: string
  let tokenAddress: Hex

  async function transfer(amount: bigint): Promise<Hex> {
    const hash = await t.wallet(0).writeContract({ address: tokenAddress, abi: token.abi, functionName: 'transfer', args: [bob, amount], chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    return hash
  }

  before(async () => {
    t = await startNode(['--empty-blocks', 'true'])
    wsUrl = t.url.replace('http://', 'ws://')
    const hash = await t.wallet(0).deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
    tokenAddress = (await t.publicClient.waitForTransactionReceipt({ hash })).contractAddress!
  })
  after(async () => {
    await t?.stop()
  })

  it('default: the RPC port upgrades to WebSocket, on any path, and serves the HTTP methods (viem webSocket)', async () => {
    const client = createPublicClient({ chain: mosaicChain(t.url), transport: webSocket(`${wsUrl}/any/path`, { retryCount: 0 }) })
    try {
      const [overWs, overHttp] = [await client.getBlockNumber({ cacheTime: 0 }), await t.publicClient.getBlockNumber({ cacheTime: 0 })]
      assert.ok(overWs > 0n && overHttp - overWs <= 3n, `${overWs} vs ${overHttp}`)
      assert.equal(await client.getBalance({ address: bob }), await t.publicClient.getBalance({ address: bob }))
      assert.equal(await client.readContract({ address: tokenAddress, abi: token.abi, functionName: 'totalSupply' }), 1_000_000n)
    } finally {
      await (await client.transport.getRpcClient()).close()
    }
  })

  it('behavior: viem over http — watchBlocks sees consecutive blocks; watchContractEvent and watchPendingTransactions poll filters', async () => {
    const blocks: bigint[] = []
    const unwatchBlocks = t.publicClient.watchBlocks({ onBlock: (block) => void blocks.push(block.number!), emitMissed: true, pollingInterval: 50 })
    const logs: { transactionHash: Hex; args: unknown }[] = []
    const pending: Hex[] = []
    const filtersBefore = await served(t.url, 'eth_newFilter')
    const pendingBefore = await served(t.url, 'eth_newPendingTransactionFilter')
    const unwatchEvents = t.publicClient.watchContractEvent({ address: tokenAddress, abi: token.abi, eventName: 'Transfer', onLogs: (found) => void logs.push(...(found as never[])), pollingInterval: 50 })
    const unwatchPending = t.publicClient.watchPendingTransactions({ onTransactions: (hashes) => void pending.push(...hashes), pollingInterval: 50 })
    try {
      await eventually(async () => (await served(t.url, 'eth_newFilter')) > filtersBefore && (await served(t.url, 'eth_newPendingTransactionFilter')) > pendingBefore, 'the filters to be installed')
      const hash = await transfer(7n)
      const log = await eventually(() => logs.find((l) => l.transactionHash === hash), 'the Transfer log')
      assert.deepEqual(log.args, { from: alice, to: bob, value: 7n })
      await eventually(() => pending.includes(hash), 'the pending transaction hash')
      assert.ok((await served(t.url, 'eth_getFilterChanges')) > 0)
      await eventually(() => blocks.length >= 3, 'three blocks')
      for (let i = 1; i < blocks.length; i++) assert.equal(blocks[i], blocks[i - 1]! + 1n, `blocks ${blocks.join(',')}`)
    } finally {
      unwatchBlocks()
      unwatchEvents()
      unwatchPending()
    }
  })

  it('behavior: viem over webSocket — watchBlocks and watchContractEvent through eth_subscribe', async () => {
    const client = createPublicClient({ chain: mosaicChain(t.url), transport: webSocket(wsUrl, { retryCount: 0 }) }) as PublicClient
    const subscribed = await served(t.url, 'eth_subscribe')
    const blocks: { number: bigint | null; hash: Hex | null }[] = []
    const logs: { transactionHash: Hex; args: unknown; removed: boolean }[] = []
    const unwatchBlocks = client.watchBlocks({ onBlock: (block) => void blocks.push(block) })
    const unwatchEvents = client.watchContractEvent({ address: tokenAddress, abi: token.abi, eventName: 'Transfer', onLogs: (found) => void logs.push(...(found as never[])) })
    try {
      await eventually(async () => (await served(t.url, 'eth_subscribe')) >= subscribed + 2, 'two subscriptions')
      const hash = await transfer(11n)
      const log = await eventually(() => logs.find((l) => l.transactionHash === hash), 'the Transfer log')
      assert.deepEqual(log.args, { from: alice, to: bob, value: 11n })
      assert.equal(log.removed, false)
      await eventually(() => blocks.length >= 3, 'three heads')
      const last = blocks.at(-1)!
      const block = await t.publicClient.getBlock({ blockNumber: last.number! })
      assert.equal(last.hash, block.hash)
      for (let i = 1; i < blocks.length; i++) assert.equal(blocks[i]!.number, blocks[i - 1]!.number! + 1n)
    } finally {
      unwatchBlocks()
      unwatchEvents()
      await (await client.transport.getRpcClient()).close()
    }
  })

  it('behavior: ethers — WebSocketProvider on("block") and contract.on(Transfer); JsonRpcProvider contract.on through filters', async () => {
    const wsProvider = new WebSocketProvider(wsUrl, 901)
    const httpProvider = new JsonRpcProvider(t.url, 901, { staticNetwork: true, pollingInterval: 50 })
    const blocks: number[] = []
    const overWs: { hash: string; value: bigint }[] = []
    const overHttp: { hash: string; value: bigint }[] = []
    try {
      await wsProvider.on('block', (n: number) => void blocks.push(n))
      await new Contract(tokenAddress, TRANSFER_ABI, wsProvider).on('Transfer', (_from, _to, value: bigint, event: { log: { transactionHash: string } }) => {
        overWs.push({ hash: event.log.transactionHash, value })
      })
      const filters = await served(t.url, 'eth_newFilter')
      await new Contract(tokenAddress, TRANSFER_ABI, httpProvider).on('Transfer', (_from, _to, value: bigint, event: { log: { transactionHash: string } }) => {
        overHttp.push({ hash: event.log.transactionHash, value })
      })
      await eventually(async () => (await served(t.url, 'eth_newFilter')) > filters, 'the ethers filter')
      await eventually(() => blocks.length >= 2, 'two blocks over WebSocket')
      const hash = await transfer(13n)
      assert.deepEqual(await eventually(() => overWs.find((e) => e.hash === hash), 'the Transfer over WebSocket'), { hash, value: 13n })
      assert.deepEqual(await eventually(() => overHttp.find((e) => e.hash === hash), 'the Transfer over HTTP filters'), { hash, value: 13n })
      assert.ok(blocks.at(-1)! > blocks[0]!)
    } finally {
      await wsProvider.destroy()
      httpProvider.destroy()
    }
  })

  it('behavior: newHeads, logs and newPendingTransactions notifications have geth\'s shapes', async () => {
    const c = await connect(wsUrl)
    try {
      const heads = (await c.call('eth_subscribe', ['newHeads'])).result as string
      const hashes = (await c.call('eth_subscribe', ['newPendingTransactions'])).result as string
      const full = (await c.call('eth_subscribe', ['newPendingTransactions', true])).result as string
      const logs = (await c.call('eth_subscribe', ['logs', { address: tokenAddress }])).result as string
      const none = (await c.call('eth_subscribe', ['logs', { address: tokenAddress, topics: [`0x${'00'.repeat(32)}`] }])).result as string
      for (const id of [heads, hashes, full, logs, none]) assert.match(id, /^0x[1-9a-f][0-9a-f]{0,31}$/)
      assert.equal(new Set([heads, hashes, full, logs, none]).size, 5)
      const hash = await transfer(17n)
      await eventually(() => c.notifications(logs).length > 0, 'the log notification')
      const message = c.received.find((m) => m.method === 'eth_subscription' && m.params?.subscription === logs)!
      assert.deepEqual(Object.keys(message).sort(), ['jsonrpc', 'method', 'params'])
      const log = c.notifications(logs)[0] as Record<string, unknown>
      assert.equal(log.transactionHash, hash)
      assert.equal(log.removed, false)
      assert.equal((log.address as string).toLowerCase(), tokenAddress.toLowerCase())
      assert.deepEqual(c.notifications(hashes), [hash])
      const tx = c.notifications(full)[0] as Record<string, unknown>
      assert.equal(tx.hash, hash)
      assert.equal((tx.from as string).toLowerCase(), alice.toLowerCase())
      assert.equal(tx.blockNumber, null)
      assert.deepEqual(c.notifications(none), [])
      const head = c.notifications(heads).at(-1) as Record<string, unknown>
      for (const field of ['number', 'hash', 'parentHash', 'stateRoot', 'logsBloom', 'baseFeePerGas', 'timestamp', 'gasLimit', 'gasUsed', 'miner']) assert.ok(field in head, field)
      assert.ok(!('transactions' in head) && !('size' in head))
      const block = (await t.rpc('eth_getBlockByNumber', [head.number, false])).result as Record<string, unknown>
      assert.equal(head.hash, block.hash)
      // Unsubscribed: no more heads.
      assert.equal((await c.call('eth_unsubscribe', [heads])).result, true)
      const count = c.notifications(heads).length
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(c.notifications(heads).length, count)
      assert.deepEqual((await c.call('eth_unsubscribe', [heads])).error, { code: -32000, message: 'subscription not found' })
    } finally {
      c.ws.close()
    }
  })

  it('behavior: eth_subscribe over HTTP answers geth\'s -32601 "notifications not supported"', async () => {
    assert.deepEqual((await t.rpc('eth_subscribe', ['newHeads'])).error, { code: -32601, message: 'notifications not supported' })
    assert.deepEqual((await t.rpc('eth_unsubscribe', ['0x1'])).error, { code: -32601, message: 'notifications not supported' })
  })

  it('behavior: bad input over WebSocket is answered and the connection stays: invalid JSON, batches, unknown subscriptions', async () => {
    const c = await connect(wsUrl)
    try {
      c.ws.send('{"jsonrpc":"2.0","id":1,"method"')
      const parse = await eventually(() => c.received.find((m) => m.error?.code === -32700), 'the parse error')
      assert.equal(parse.id, null)
      c.ws.send(JSON.stringify([{ jsonrpc: '2.0', id: 'a', method: 'eth_chainId' }, { jsonrpc: '2.0', id: 'b', method: 'nope' }]))
      const batch = await eventually(() => c.received.find((m) => Array.isArray(m)) as unknown as Message[] | undefined, 'the batch answer')
      assert.deepEqual(batch.map((m) => m.result ?? m.error?.code), ['0x385', -32601])
      assert.deepEqual((await c.call('eth_subscribe', ['syncing'])).error, { code: -32601, message: 'no "syncing" subscription in eth namespace' })
      assert.equal((await c.call('eth_subscribe', [])).error?.code, -32602)
      assert.equal((await c.call('eth_subscribe', ['logs', { address: '0x12' }])).error?.code, -32602)
      assert.equal((await c.call('eth_chainId')).result, '0x385')
    } finally {
      c.ws.close()
    }
  })

  it('behavior: block and log filters over raw JSON-RPC return each block once, in order', async () => {
    const blockFilter = (await t.rpc('eth_newBlockFilter')).result as string
    const logFilter = (await t.rpc('eth_newFilter', [{ address: tokenAddress }])).result as string
    const hash = await transfer(19n)
    await new Promise((r) => setTimeout(r, 150))
    const hashes = (await t.rpc('eth_getFilterChanges', [blockFilter])).result as string[]
    const more = (await eventually(async () => {
      const next = (await t.rpc('eth_getFilterChanges', [blockFilter])).result as string[]
      return next.length > 0 && next
    }, 'more blocks')) as string[]
    const all = [...hashes, ...more]
    const first = (await t.rpc('eth_getBlockByHash', [all[0], false])).result as { number: string }
    for (let i = 0; i < all.length; i++) {
      const block = (await t.rpc('eth_getBlockByNumber', [`0x${(BigInt(first.number) + BigInt(i)).toString(16)}`, false])).result as { hash: string }
      assert.equal(block.hash, all[i])
    }
    const logs = (await t.rpc('eth_getFilterChanges', [logFilter])).result as { transactionHash: string }[]
    assert.deepEqual(logs.map((l) => l.transactionHash), [hash])
    assert.deepEqual((await t.rpc('eth_getFilterChanges', [logFilter])).result, [])
    assert.deepEqual(((await t.rpc('eth_getFilterLogs', [logFilter])).result as unknown[]).length, 0, 'no logs at or after the head the filter was made at')
    assert.equal((await t.rpc('eth_uninstallFilter', [logFilter])).result, true)
    assert.deepEqual((await t.rpc('eth_getFilterChanges', [logFilter])).error, { code: -32000, message: 'filter not found' })
  })
})

describe('WebSocket and filter limits', () => {
  let t: TestNode
  let wsUrl: string
  let stopped = false

  before(async () => {
    t = await startNode(['--empty-blocks', 'true', '--ws-max-connections', '3', '--ws-max-subscriptions', '2', '--ws-max-buffered-bytes', '65536', '--rpc-getlogs-max-range', '5', '--rpc-max-filters', '2', '--ws-max-in-flight', '1'])
    wsUrl = t.url.replace('http://', 'ws://')
    await eventually(async () => BigInt((await t.rpc('eth_blockNumber')).result as string) > 6n, 'seven blocks')
  })
  after(async () => {
    if (!stopped) await t?.stop()
  })

  it('behavior: a connection past WS_MAX_CONNECTIONS is refused with HTTP 503; a closed one frees its place', async () => {
    const open = [await connect(wsUrl), await connect(wsUrl), await connect(wsUrl)]
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl)
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.on('open', () => resolve(101))
      ws.on('error', () => {})
    })
    assert.equal(refused, 503)
    // The others are unaffected.
    assert.equal((await open[0]!.call('eth_chainId')).result, '0x385')
    open[0]!.ws.close()
    await open[0]!.closed
    const again = await eventually(async () => connect(wsUrl).catch(() => undefined), 'a free connection')
    assert.equal((await again.call('eth_chainId')).result, '0x385')
    for (const c of [again, open[1]!, open[2]!]) {
      c.ws.close()
      await c.closed
    }
  })

  it('behavior: a subscription past WS_MAX_SUBSCRIPTIONS is refused with -32005; unsubscribing frees its place', async () => {
    const c = await connect(wsUrl)
    try {
      const first = (await c.call('eth_subscribe', ['newHeads'])).result as string
      assert.ok((await c.call('eth_subscribe', ['newPendingTransactions'])).result)
      const refused = (await c.call('eth_subscribe', ['newHeads'])).error
      assert.equal(refused?.code, -32005)
      assert.match(refused!.message, /too many subscriptions on this connection: limit 2 \(WS_MAX_SUBSCRIPTIONS\)/)
      assert.equal((await c.call('eth_unsubscribe', [first])).result, true)
      assert.match((await c.call('eth_subscribe', ['newHeads'])).result as string, /^0x/)
    } finally {
      c.ws.close()
      await c.closed
    }
  })

  it('behavior: a connection has at most WS_MAX_IN_FLIGHT requests handled at once; the others wait, in order, and are all answered', async () => {
    const c = await connect(wsUrl)
    try {
      const wallet = t.wallet(2)
      const raw = await wallet.signTransaction((await wallet.prepareTransactionRequest({ to: bob, value: 1n } as never)) as never)
      // With one in flight, the eth_chainId calls wait for the transaction's inclusion (a block).
      c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'sync', method: 'eth_sendRawTransactionSync', params: [raw] }))
      for (let id = 0; id < 20; id++) c.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'eth_chainId' }))
      await eventually(() => c.received.length === 21, 'every answer')
      assert.deepEqual(c.received.map((m) => m.id), ['sync', ...Array.from({ length: 20 }, (_, id) => id)])
      assert.equal((c.received[0]!.result as { status: string }).status, '0x1')
    } finally {
      c.ws.close()
      await c.closed
    }
  })

  it('behavior: a consumer that stops reading is disconnected (1008, too slow) while the node keeps serving others', async () => {
    const fast = await connect(wsUrl)
    const slow = await connect(wsUrl)
    try {
      const heads = (await fast.call('eth_subscribe', ['newHeads'])).result as string
      await slow.call('eth_subscribe', ['newHeads'])
      // Stop reading: whatever the node sends piles up in the kernel, then in the node.
      ;(slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
      // Each batch is answered with ~1.3 MB (1000 blocks of 512-byte blooms).
      const batch = JSON.stringify(Array.from({ length: 1000 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'eth_getBlockByNumber', params: ['latest', false] })))
      for (let i = 0; i < 60; i++) slow.ws.send(batch)
      await new Promise((r) => setTimeout(r, 600))
      // Others are served meanwhile: answers and notifications.
      const seen = fast.notifications(heads).length
      assert.equal((await fast.call('eth_chainId')).result, '0x385')
      assert.equal((await t.rpc('eth_chainId')).result, '0x385')
      await eventually(() => fast.notifications(heads).length > seen + 2, 'heads on the fast connection')
      ;(slow.ws as unknown as { _socket: { resume(): void } })._socket.resume()
      const { code, reason } = await within(slow.closed, 'the slow connection to be closed')
      assert.equal(code, 1008)
      assert.match(reason, /too slow: over 65536 bytes unsent \(WS_MAX_BUFFERED_BYTES\)/)
      const answered = slow.received.filter((m) => Array.isArray(m)).length
      assert.ok(answered < 60, `${answered} of 60 batches answered`)
      assert.equal((await fast.call('eth_chainId')).result, '0x385')
    } finally {
      fast.ws.close()
      slow.ws.terminate()
      await fast.closed
    }
  })

  it('behavior: eth_getFilterLogs keeps eth_getLogs\' range limit; RPC_MAX_FILTERS bounds the filters', async () => {
    const wide = (await t.rpc('eth_newFilter', [{ fromBlock: '0x0' }])).result as string
    const error = (await t.rpc('eth_getFilterLogs', [wide])).error
    assert.equal(error?.code, -32005)
    assert.match(error!.message, /query exceeds max block range 5/)
    const head = BigInt((await t.rpc('eth_blockNumber')).result as string)
    const narrow = (await t.rpc('eth_newFilter', [{ fromBlock: `0x${(head - 2n).toString(16)}`, toBlock: `0x${head.toString(16)}` }])).result as string
    assert.deepEqual((await t.rpc('eth_getFilterLogs', [narrow])).result, [])
    const third = await t.rpc('eth_newBlockFilter')
    assert.equal(third.error?.code, -32005)
    assert.match(third.error!.message, /too many filters: limit 2 \(RPC_MAX_FILTERS\)/)
    assert.equal((await t.rpc('eth_uninstallFilter', [wide])).result, true)
    assert.match((await t.rpc('eth_newBlockFilter')).result as string, /^0x/)
  })

  it('behavior: closing the RPC server closes its WebSocket connections (1001)', async () => {
    const c = await connect(wsUrl)
    await c.call('eth_subscribe', ['newHeads'])
    stopped = true
    const started = Date.now()
    await t.stop()
    const { code } = await within(c.closed, 'the connection to be closed by the server')
    assert.equal(code, 1001)
    assert.ok(Date.now() - started < 5_000)
  })
})
