/**
 * The poster's L1 connection (`node/l1.ts`) reads every answer from the L1 within bounds, as the
 * verifiers do: an answer over the size limit, or none within the time limit, is a clear
 * `TRANSPORT` error naming the L1, not the node's memory or a hung start.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createMemoryQueues } from '../../src/queue/memory.ts'
import { connectL1 } from '../../src/node/l1.ts'
import { startNode, type TestNode } from './harness.ts'

/** A fake L1: eth_chainId answers 0x1, anything else "no such method"; each answer padded to 4 KB. Or no answer at all. */
async function fakeL1(mode: 'padded' | 'silent'): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    if (mode === 'silent') return // never answers
    const request = JSON.parse(body) as { id: number; method: string }
    const answer = request.method === 'eth_chainId' ? { result: '0x1' } : { error: { code: -32601, message: 'no such method' } }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, ...answer }) + ' '.repeat(4096))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe('the L1 connection reads within bounds', { timeout: 60_000 }, () => {
  let t: TestNode
  const servers: Server[] = []
  before(async () => {
    t = await startNode()
  })
  after(async () => {
    for (const server of servers) server.closeAllConnections(), server.close()
    await t.stop()
  })

  const connect = (url: string, limits: { maxBytes: number; timeoutMs: number }) => connectL1(t.node, { url, queues: createMemoryQueues(), log: () => {}, limits })

  it('behavior: an answer over the size limit is refused, naming the L1 and the limit', async () => {
    const l1 = await fakeL1('padded')
    servers.push(l1.server)
    await assert.rejects(connect(l1.url, { maxBytes: 1024, timeoutMs: 5_000 }), (error: Error) => {
      assert.match(error.message, new RegExp(`cannot reach the L1 at ${l1.url}.*exceeds the limit of 1024`))
      return true
    })
    // Control: under a larger limit the same answers are read, and the start fails only later, on the fake's refusals.
    await assert.rejects(connect(l1.url, { maxBytes: 1024 * 1024, timeoutMs: 5_000 }), (error: Error) => {
      assert.doesNotMatch(error.message, /exceeds the limit/)
      return true
    })
  })

  it('behavior: an L1 that never answers is given up on after the time limit', async () => {
    const l1 = await fakeL1('silent')
    servers.push(l1.server)
    const started = Date.now()
    await assert.rejects(connect(l1.url, { maxBytes: 1024, timeoutMs: 500 }), /cannot reach the L1/)
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
  })
})
