/**
 * `mosaic replica` (issue 5): a replica fed a sequencer's deltas ends with the same state and
 * roots without re-executing, serves the read methods from its own state, refuses transactions,
 * and stops at the first block whose delta does not lead to the root the sequencer claims.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { rmSync } from 'node:fs'
import { describe, it } from 'node:test'
import { hexToBytes } from '@ethereumjs/util'
import { type Hex, parseEther } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { loadConfig } from '../../src/config/config.ts'
import { openNode } from '../../src/node/node.ts'
import { Replica } from '../../src/replica/replica.ts'
import { startRpcServer } from '../../src/rpc/server.ts'
import { decodeStateDelta, encodeStateDelta } from '../../src/state/delta-codec.ts'
import { rawRpc, startNode, type TestNode, tempDataDir } from './harness.ts'

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
  const replica = new Replica(node, sequencer, () => {})
  await replica.checkSameChain()
  return {
    node,
    replica,
    url: server.url,
    async close() {
      await server.close()
      await node.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
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
      const head = await t.publicClient.getBlockNumber()
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
