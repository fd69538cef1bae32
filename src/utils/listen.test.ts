import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { describe, it } from 'node:test'
import { isMosaicError } from '../errors.ts'
import { listenOn } from './listen.ts'

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()))

describe('listenOn', () => {
  it('listens, and a port in use is a CONFIG_INVALID error naming the address and the option, not EADDRINUSE', async () => {
    const first = createServer()
    await listenOn(first, 0, '127.0.0.1', 'RPC_PORT')
    const { port } = first.address() as { port: number }
    const second = createServer()
    try {
      await assert.rejects(listenOn(second, port, '127.0.0.1', 'RPC_HOST and RPC_PORT, --rpc-host and --rpc-port'), (error: unknown) => {
        assert.ok(isMosaicError(error), String(error))
        assert.equal(error.code, 'CONFIG_INVALID')
        assert.equal(error.shortMessage, `cannot listen on 127.0.0.1:${port} (RPC_HOST and RPC_PORT, --rpc-host and --rpc-port): the port is in use`)
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'EADDRINUSE')
        return true
      })
      assert.equal(second.listening, false)
      // Once the port is free, the same server listens on it: the failure left no listener behind.
      await close(first)
      await listenOn(second, port, '127.0.0.1', 'RPC_PORT')
      assert.equal(second.listenerCount('error'), 0)
    } finally {
      await close(second).catch(() => {})
      await close(first).catch(() => {})
    }
  })

  it('an address not on this machine is said so', async () => {
    const server = createServer()
    await assert.rejects(listenOn(server, 0, '192.0.2.1', 'RPC_HOST'), (error: unknown) => isMosaicError(error) && /cannot listen on 192\.0\.2\.1:0 \(RPC_HOST\): no such address on this machine/.test(error.message))
  })
})
