import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { openQueues } from './open.ts'
import { createRedisQueues } from './redis.ts'

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

describe('openQueues', () => {
  it('default: without a Redis URL the queues are in-process', async () => {
    const backend = await openQueues({})
    assert.equal(backend.kind, 'memory')
    await backend.close()
  })

  it('behavior: a Redis that refuses the connection fails opening with CONFIG_INVALID naming REDIS_URL', async () => {
    const server = createServer()
    const port = await listen(server)
    await new Promise((resolve) => server.close(resolve)) // nothing listens there any more
    await assert.rejects(openQueues({ redisUrl: `redis://:secret@127.0.0.1:${port}` }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONFIG_INVALID')
      assert.match(error.message, /REDIS_URL=redis:\/\/:\*\*\*@127\.0\.0\.1/)
      assert.doesNotMatch(error.message, /secret/)
      assert.match(error.message, /ECONNREFUSED/)
      return true
    })
  })

  it('behavior: a server that never answers PING fails opening after the timeout instead of hanging', async () => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => sockets.add(socket)) // accepts, never replies
    const port = await listen(server)
    try {
      const started = Date.now()
      await assert.rejects(createRedisQueues(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 200 }), { code: 'CONFIG_INVALID', message: /REDIS_URL.*\n\nDetails: no answer to PING within 200 ms/s })
      assert.ok(Date.now() - started < 2000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
