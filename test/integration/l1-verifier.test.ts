/**
 * Verifiers following the L1 (issue 6): two verifier processes on one Redis share a range with
 * every block verified exactly once; a witness that does not hash to the L1's commitment and a
 * wrong post-state root on the L1 each produce a failing verdict for that block.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { privateKeyToAccount } from 'viem/accounts'
import { loadConfig } from '../../src/config/config.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { deployInbox } from '../../src/l1/deploy.ts'
import { InboxReader } from '../../src/l1/inbox.ts'
import { Poster, type PostJob, type PostResult } from '../../src/l1/poster.ts'
import { L1Sender } from '../../src/l1/sender.ts'
import { connectL1, type L1Connection, nodeBatchSource } from '../../src/node/l1.ts'
import { createMemoryQueues } from '../../src/queue/memory.ts'
import { openQueues } from '../../src/queue/open.ts'
import type { QueueBackend } from '../../src/queue/queue.ts'
import { runVerifier } from '../../src/verifier/run.ts'
import { redisForTests } from '../redis.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'
import { l1Client, traffic, waitFor } from './l1-harness.ts'

const FAST = ['--batch-max-blocks', '3', '--batch-max-age-ms', '200', '--l1-resend-ms', '1500']

/** Run `mosaic verifier …` in-process over the given queues; resolves with its final status. */
function verifyInProcess(flags: string[], queues: QueueBackend) {
  const config = loadConfig({ argv: [...flags, '--status-port', '0'], env: {}, cwd: process.cwd(), mode: 'verifier' })
  return runVerifier(config, { log: () => {}, queues })
}

describe('verifiers following the L1', { timeout: 240_000 }, () => {
  let anvil: Anvil
  let node: TestNode
  let l1: L1Connection
  let queues: QueueBackend
  before(async () => {
    anvil = await startAnvil()
    node = await startNode(FAST)
    queues = await openQueues()
    l1 = await connectL1(node.node, { url: anvil.url, queues, log: () => {} })
  })
  after(async () => {
    await l1?.stop()
    await queues?.close()
    await node?.stop()
    await anvil?.stop()
  })

  /** Traffic until the inbox covers block `n`. */
  async function chainThrough(n: bigint) {
    const load = traffic(node, 1, 40)
    await waitFor(`block ${n}`, () => node.node.chain.head >= n)
    await load.stop()
    const reader = new InboxReader(l1Client(anvil.url), l1.inbox)
    await waitFor(`the inbox to cover block ${n}`, async () => (await reader.state()).nextBlock > n)
  }

  it('behavior: two verifier processes on one Redis share a range; every block is verified exactly once', async (t) => {
    const redis = await redisForTests()
    if ('skip' in redis) return t.skip(redis.skip)
    const to = node.node.chain.head + 24n
    const flags = ['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', node.url, '--to', String(to), '--redis-url', redis.url, '--queue-prefix', `verify-share-${process.pid}`, '--status-port', '0']
    const run = () => {
      const child = spawn(process.execPath, ['bin/mosaic.mjs', 'verifier', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
      return { output: () => output, exit }
    }
    try {
      const a = run()
      const b = run()
      // Both are up and scanning before the batches arrive, so both get work.
      await waitFor('both verifiers to start', () => /following inbox/.test(a.output()) && /following inbox/.test(b.output()), 30_000)
      await chainThrough(to)
      const [codeA, codeB] = await Promise.all([a.exit, b.exit])
      assert.equal(codeA, 0, a.output())
      assert.equal(codeB, 0, b.output())
      const blocks = (output: string) => [...output.matchAll(/block (\d+) ok \(batch/g)].map((m) => BigInt(m[1]!))
      const [mineA, mineB] = [blocks(a.output()), blocks(b.output())]
      const all = [...mineA, ...mineB].sort((x, y) => (x < y ? -1 : 1))
      assert.deepEqual(all, Array.from({ length: Number(to) }, (_, i) => BigInt(i + 1)), 'every block of 1…to verified exactly once')
      assert.ok(mineA.length > 0 && mineB.length > 0, `both shared the work (${mineA.length} + ${mineB.length})`)
      assert.match(a.output(), new RegExp(`${Number(to)} ok and 0 failed in all`))
    } finally {
      await redis.stop()
    }
  })

  it('behavior: a witness that does not hash to the L1’s commitment is a failing verdict for its block', async () => {
    await chainThrough(node.node.chain.head + 4n)
    const target = node.node.chain.head - 2n
    // A sequencer RPC that serves one altered witness.
    const proxy: Server = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += chunk
      const request = JSON.parse(body) as { method: string; params: string[] }
      const answer = (await rawRpc(node.url, request.method, request.params)) as { result?: { witness?: string } }
      if (request.method === 'mosaic_getWitness' && BigInt(request.params[0]!) === target && answer.result?.witness !== undefined) {
        const bytes = hexToBytes(answer.result.witness as `0x${string}`)
        bytes[bytes.length - 3]! ^= 1
        answer.result.witness = bytesToHex(bytes)
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, ...answer }))
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      const status = await verifyInProcess(['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', url, '--from', String(target - 1n), '--to', String(target + 1n)], createMemoryQueues())
      assert.deepEqual(status.failed.map((f) => BigInt(f.block)), [target])
      assert.match(status.failed[0]!.reason, /the witness of block \d+ hashes to 0x[0-9a-f]{64}, but the L1 committed 0x[0-9a-f]{64}/)
      assert.equal(status.l1?.verdicts.ok, 2)
    } finally {
      proxy.close()
    }
  })

  it('behavior: a wrong post-state root on the L1 is a failing verdict for its block', async () => {
    // A second inbox, fed by a poster whose source lies about one block's root.
    const head = node.node.chain.head
    const target = head - 1n
    const client = l1Client(anvil.url)
    const account = privateKeyToAccount(DEV_KEYS[1])
    const inbox = await deployInbox({ client, url: anvil.url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: bytesToHex(node.node.chain.getBlock(0n)!.block.header.stateRoot) })
    const honest = nodeBatchSource(node.node)
    const wrong = keccak256(Uint8Array.of(7))
    const poster = new Poster({
      source: { ...honest, rootedHead: () => head, stateRoot: (n) => (n === target ? wrong : honest.stateRoot(n)) },
      inbox: new InboxReader(client, inbox),
      sender: new L1Sender({ client, account, chainId: await client.getChainId(), confirmations: 1, resendAfterMs: 1500 }),
      queue: createMemoryQueues().queue<PostJob, PostResult>('post', { attempts: 3, backoffMs: 100, keepCompleted: false }),
      daMode: 'calldata',
      maxBlocks: Number(target),
      maxBytes: 1_000_000,
      maxAgeMs: 1,
      frameBytes: 120_000,
    })
    poster.start()
    try {
      const reader = new InboxReader(client, inbox)
      await waitFor('the lying batch on the L1', async () => (await reader.state()).nextBlock > target)
    } finally {
      await poster.stop()
    }
    const status = await verifyInProcess(['--l1', anvil.url, '--inbox', inbox, '--rpc', node.url, '--from', String(target - 2n), '--to', String(target)], createMemoryQueues())
    assert.deepEqual(status.failed.map((f) => BigInt(f.block)), [target])
    assert.match(status.failed[0]!.reason, new RegExp(`post-state root 0x[0-9a-f]{64}, the L1 says ${bytesToHex(wrong)}`))
  })
})
