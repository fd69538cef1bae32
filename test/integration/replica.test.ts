/**
 * `mosaic replica` (issue 5): a replica fed a sequencer's deltas ends with the same state and
 * roots without re-executing, serves the read methods from its own state, refuses transactions,
 * and stops at the first block whose delta does not lead to the root the sequencer claims; and
 * (issue 12) trusts nothing else the sequencer's RPC says either: a lying proxy in front of a real
 * sequencer that changes one header field, or a receipt's `from`, stops it at that block with
 * the rule named, before the block is committed.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { rmSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToHex, hexToBytes } from '@ethereumjs/util'
import { type Hex, parseEther } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { loadConfig } from '../../src/config/config.ts'
import { openNode } from '../../src/node/node.ts'
import { Replica } from '../../src/replica/replica.ts'
import { startRpcServer } from '../../src/rpc/server.ts'
import { decodeStateDelta, encodeStateDelta } from '../../src/state/delta-codec.ts'
import { rawRpc, startNode, type TestNode, tempDataDir } from './harness.ts'
import { lyingProxy } from './proxy.ts'

const token = loadArtifact('MosaicToken')
const HOLDERS = [1, 2, 3].map((i) => `0x${(0xd00d + i).toString(16).padStart(40, '0')}` as Hex)

async function populate(t: TestNode): Promise<Hex> {
  const wallet = t.wallet(0)
  const deploy = await wallet.deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
  const address = (await t.publicClient.waitForTransactionReceipt({ hash: deploy, timeout: 20_000 })).contractAddress!
  for (const [i, holder] of HOLDERS.entries()) {
    const hashes = [
      await wallet.writeContract({ address, abi: token.abi, functionName: 'transfer', args: [holder, 100n * BigInt(i + 1)], chain: null } as never),
      await t.wallet(2).sendTransaction({ to: holder, value: parseEther('0.5') * BigInt(i + 1), chain: null } as never),
    ]
    for (const hash of hashes) await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
  }
  return address
}

async function openReplica(sequencer: string, flags: string[] = []) {
  const dataDir = tempDataDir()
  const config = loadConfig({ argv: ['--data-dir', dataDir, '--rpc-port', '0', '--rpc', sequencer, ...flags], env: {}, cwd: process.cwd(), mode: 'replica' })
  const node = await openNode(config)
  const server = await startRpcServer(node)
  const logs: string[] = []
  const replica = new Replica(node, sequencer, (line) => logs.push(line))
  await replica.checkSameChain()
  return {
    node,
    replica,
    logs,
    url: server.url,
    async close() {
      await server.close()
      await node.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Header fields by their index in the header's RLP list. */
const HEADER = { parentHash: 0, coinbase: 2, stateRoot: 3, gasLimit: 9, timestamp: 11, extraData: 12, mixHash: 13, baseFeePerGas: 15 } as const

/** A raw block (`debug_getRawBlock`) with one header field replaced, the rest as it was. */
function withHeaderField(raw: Hex, field: keyof typeof HEADER, value: (current: Uint8Array) => Uint8Array): Hex {
  const block = RLP.decode(hexToBytes(raw)) as unknown as [Uint8Array[], ...unknown[]]
  block[0][HEADER[field]] = value(block[0][HEADER[field]]!)
  return bytesToHex(RLP.encode(block as never)) as Hex
}

/** Run the replica until it reaches `head`, stops at a lie, or `timeoutMs` passes. */
async function replicate(r: Awaited<ReturnType<typeof openReplica>>, head: bigint, timeoutMs = 20_000): Promise<void> {
  let done = () => {}
  const stop = new Promise<void>((resolve) => (done = resolve))
  const timer = setTimeout(done, timeoutMs)
  const poll = setInterval(() => r.node.chain.head >= head && done(), 20)
  try {
    await r.replica.run(stop)
  } finally {
    clearTimeout(timer)
    clearInterval(poll)
  }
}

async function result<T>(url: string, method: string, params: unknown[]): Promise<T> {
  const response = await rawRpc(url, method, params)
  if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
  return response.result as T
}

describe('mosaic replica', { timeout: 120_000 }, () => {
  it('behavior: a replica fed the deltas ends with the sequencer’s state and roots, serves reads and refuses transactions', async () => {
    const t = await startNode(['--state-commitment', 'sharded', '--shard-nibbles', '2'])
    const r = await openReplica(t.url, ['--state-commitment', 'sharded', '--shard-nibbles', '2'])
    try {
      const address = await populate(t)
      const head = await t.publicClient.getBlockNumber({ cacheTime: 0 })
      while (r.node.chain.head < head) await r.replica.syncOnce()
      assert.equal(r.replica.failure, undefined)
      for (let n = 0n; n <= head; n++) {
        const tag = `0x${n.toString(16)}`
        const root = async (url: string) => (await result<{ stateRoot: string }>(url, 'mosaic_getStateRoot', [tag])).stateRoot
        assert.equal(await root(r.url), await root(t.url), `root of block ${n}`)
        assert.deepEqual(await result(r.url, 'eth_getBlockByNumber', [tag, true]), await result(t.url, 'eth_getBlockByNumber', [tag, true]), `block ${n}`)
        assert.deepEqual(await result(r.url, 'eth_getBlockReceipts', [tag]), await result(t.url, 'eth_getBlockReceipts', [tag]), `receipts of block ${n}`)
      }
      for (const holder of HOLDERS) {
        assert.equal(await result(r.url, 'eth_getBalance', [holder, 'latest']), await result(t.url, 'eth_getBalance', [holder, 'latest']))
        const call = { to: address, data: `0x70a08231${holder.slice(2).padStart(64, '0')}` }
        assert.equal(await result(r.url, 'eth_call', [call, 'latest']), await result(t.url, 'eth_call', [call, 'latest']))
      }
      assert.equal(await result(r.url, 'eth_getCode', [address, 'latest']), await result(t.url, 'eth_getCode', [address, 'latest']))
      const refused = await rawRpc(r.url, 'eth_sendRawTransaction', ['0x02'])
      assert.match(refused.error?.message ?? '', /read-only replica/)
    } finally {
      await r.close()
      await t.stop()
    }
  })

  it('behavior: a delta that does not lead to the claimed root stops replication before that block', async () => {
    const t = await startNode()
    let tamperedBlock = 0n
    // A proxy that changes one balance in the first non-empty delta it serves.
    const proxy: Server = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += chunk
      const request = JSON.parse(body) as { method: string; params: string[] }
      const upstream = (await (await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { result?: { encoding?: Hex } }
      if (request.method === 'mosaic_getStateDelta' && upstream.result?.encoding !== undefined && request.params[0] === '0x2') {
        const delta = decodeStateDelta(hexToBytes(upstream.result.encoding))
        const [address, record] = [...delta.accounts].find(([, r]) => r !== null)!
        delta.accounts.set(address, { ...record!, balance: record!.balance + 1n })
        upstream.result.encoding = `0x${Buffer.from(encodeStateDelta(delta)).toString('hex')}`
        tamperedBlock = 2n
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(upstream))
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    const r = await openReplica(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`)
    try {
      await populate(t)
      await r.replica.run(Promise.resolve().then(() => new Promise((resolve) => setTimeout(resolve, 5_000))))
      assert.equal(tamperedBlock, 2n)
      assert.match(r.replica.failure ?? '', /block 2: the delta leads to root 0x[0-9a-f]{64}, the sequencer claims 0x[0-9a-f]{64}/)
      assert.equal(r.node.chain.head, 1n, 'the tampered block was not applied')
    } finally {
      proxy.close()
      await r.close()
      await t.stop()
    }
  })
})

describe('mosaic replica against a lying sequencer', { timeout: 180_000 }, () => {
  // One honest sequencer, one proxy in front of it whose lie each test sets, a fresh replica each.
  const LIED = 3n
  let t: TestNode
  let head: bigint
  let proxy: { url: string; server: Server }
  let lie: (method: string, params: unknown[], result: unknown) => unknown = (_method, _params, result) => result
  before(async () => {
    t = await startNode()
    await populate(t)
    head = await t.publicClient.getBlockNumber({ cacheTime: 0 })
    assert.ok(head > LIED, `the sequencer has blocks after block ${LIED}`)
    proxy = await lyingProxy(t.url, (method, params, result) => lie(method, params, result))
  })
  after(async () => {
    proxy.server.close()
    await t.stop()
  })

  /** Replicate through the proxy telling `lie`; returns the replica, closed. */
  async function replicateThrough(rewrite: typeof lie) {
    lie = rewrite
    const r = await openReplica(proxy.url)
    try {
      await replicate(r, head)
      return { failure: r.replica.failure, reason: r.replica.failureReason, head: r.node.chain.head, lied: r.node.store.getBlock(LIED), logs: r.logs }
    } finally {
      lie = (_method, _params, result) => result
      await r.close()
    }
  }

  /** A lie about one header field of block LIED in `debug_getRawBlock`. */
  const headerLie = (field: keyof typeof HEADER, value: (current: Uint8Array) => Uint8Array) => (method: string, params: unknown[], result: unknown) =>
    method === 'debug_getRawBlock' && params[0] === `0x${LIED.toString(16)}` ? withHeaderField(result as Hex, field, value) : result

  it('default: through an honest proxy the replica replicates every block, senders included', async () => {
    lie = (_method, _params, result) => result
    const r = await openReplica(proxy.url)
    try {
      await replicate(r, head)
      assert.equal(r.replica.failure, undefined)
      assert.ok(r.node.chain.head >= head)
      for (let n = 1n; n <= head; n++) {
        const tag = `0x${n.toString(16)}`
        assert.deepEqual(await result(r.url, 'eth_getBlockReceipts', [tag]), await result(t.url, 'eth_getBlockReceipts', [tag]), `receipts of block ${n}`)
        assert.deepEqual(await result(r.url, 'eth_getBlockByNumber', [tag, true]), await result(t.url, 'eth_getBlockByNumber', [tag, true]), `block ${n}`)
      }
    } finally {
      await r.close()
    }
  })

  const now = () => BigInt(Math.floor(Date.now() / 1000))
  const headerLies: [string, keyof typeof HEADER, (current: Uint8Array) => Uint8Array, string][] = [
    ['a timestamp a day in the future', 'timestamp', () => bigIntToUnpaddedBytes(now() + 86_400n), 'header.timestamp-future'],
    ['a timestamp before the parent’s', 'timestamp', () => bigIntToUnpaddedBytes(1n), 'header.timestamp'],
    ['a gas limit of 2^62', 'gasLimit', () => bigIntToUnpaddedBytes(2n ** 62n), 'header.gas-limit'],
    ['a base fee of 0', 'baseFeePerGas', () => new Uint8Array(), 'header.base-fee'],
    ['another coinbase', 'coinbase', () => new Uint8Array(20).fill(0xee), 'header.coinbase'],
    ['another mixHash', 'mixHash', () => new Uint8Array(32).fill(0x11), 'header.mix-hash'],
    ['extraData', 'extraData', () => new TextEncoder().encode('lie'), 'header.extra-data'],
    ['another parent hash', 'parentHash', (current) => Uint8Array.from(current, (b, i) => (i === 0 ? b ^ 1 : b)), 'header.parent-hash'],
    ['a lagged state root that is not the root after block N − 2', 'stateRoot', (current) => Uint8Array.from(current, (b, i) => (i === 0 ? b ^ 1 : b)), 'header.lagged-root'],
  ]
  for (const [name, field, value, reason] of headerLies) {
    it(`behavior: a header with ${name} stops replication at that block [${reason}]`, async () => {
      const out = await replicateThrough(headerLie(field, value))
      assert.equal(out.reason, reason, out.failure)
      assert.match(out.failure ?? '', new RegExp(`^block ${LIED}: `))
      assert.equal(out.head, LIED - 1n, 'the blocks before it were applied')
      assert.equal(out.lied, undefined, 'the lied-about block was never committed')
      assert.ok(out.logs.some((line) => line.startsWith(`replication stopped [${reason}]: block ${LIED}`)), out.logs.join('\n'))
    })
  }

  it('behavior: a receipt whose `from` is not the sender its signature recovers stops replication at that block [block.sender]', async () => {
    const liar = '0x000000000000000000000000000000000000beef'
    const out = await replicateThrough((method, params, result) => {
      if (method !== 'eth_getBlockReceipts' || params[0] !== `0x${LIED.toString(16)}`) return result
      const receipts = result as { from: Hex }[]
      assert.ok(receipts.length > 0)
      return receipts.map((receipt, i) => (i === 0 ? { ...receipt, from: liar } : receipt))
    })
    assert.equal(out.reason, 'block.sender', out.failure)
    assert.match(out.failure ?? '', new RegExp(`^block ${LIED}: the receipt of transaction 0 says it is from ${liar}, its signature recovers 0x[0-9a-f]{40}`))
    assert.equal(out.head, LIED - 1n)
    assert.equal(out.lied, undefined)
  })
})

describe('mosaic replica with STATE_ROOT_LAG=0', { timeout: 120_000 }, () => {
  it('behavior: a header whose state root is not the block’s own root stops replication once that root is computed [header.lagged-root]', async () => {
    const t = await startNode(['--state-root-lag', '0'])
    const LIED = 2n
    const proxy = await lyingProxy(t.url, (method, params, result) =>
      method === 'debug_getRawBlock' && params[0] === `0x${LIED.toString(16)}` ? withHeaderField(result as Hex, 'stateRoot', (root) => Uint8Array.from(root, (b, i) => (i === 0 ? b ^ 1 : b))) : result,
    )
    const honest = await openReplica(t.url, ['--state-root-lag', '0'])
    const lied = await openReplica(proxy.url, ['--state-root-lag', '0'])
    try {
      for (const i of [1, 2, 3]) {
        const hash = await t.wallet(0).sendTransaction({ to: HOLDERS[0]!, value: BigInt(i), chain: null } as never)
        await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
      }
      const head = await t.publicClient.getBlockNumber({ cacheTime: 0 })
      assert.ok(head > LIED)
      // The negative control: the same chain, told honestly, replicates (lag 0 does not deadlock).
      await replicate(honest, head)
      assert.equal(honest.replica.failure, undefined)
      assert.ok(honest.node.chain.head >= head)
      await replicate(lied, head)
      assert.equal(lied.replica.failureReason, 'header.lagged-root', lied.replica.failure)
      assert.match(lied.replica.failure ?? '', new RegExp(`^block ${LIED}: its stateRoot 0x[0-9a-f]{64} is not the verified root after block ${LIED}`))
      assert.equal(lied.node.chain.head, LIED - 1n)
      assert.equal(lied.node.store.getBlock(LIED), undefined)
    } finally {
      proxy.server.close()
      await honest.close()
      await lied.close()
      await t.stop()
    }
  })
})
