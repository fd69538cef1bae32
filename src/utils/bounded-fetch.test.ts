import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { MosaicError } from '../errors.ts'
import { boundedFetch, fetchText } from './bounded-fetch.ts'

describe('reads from outside are bounded in size and time', () => {
  let server: Server
  let url: string
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        // 2 MiB in chunks, no content-length: the limit must hold while reading.
        res.writeHead(200)
        for (let i = 0; i < 32; i++) res.write(Buffer.alloc(64 * 1024, 0x61))
        res.end()
      } else if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) })
        res.write('x')
      } else if (req.url === '/slow') {
        res.writeHead(200)
        res.write('{')
        // never ends
      } else res.end('{"ok":true}')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
  })

  const isTransport = (pattern: RegExp) => (error: MosaicError) => error.code === 'TRANSPORT' && pattern.test(error.message)

  it('behavior: an answer within the limits is read whole', async () => {
    assert.deepEqual(await fetchText(`${url}/ok`, {}, { maxBytes: 100, timeoutMs: 2_000 }, 'test'), { status: 200, text: '{"ok":true}' })
    const response = await boundedFetch({ maxBytes: 100, timeoutMs: 2_000 }, 'test')(`${url}/ok`)
    assert.deepEqual(await response.json(), { ok: true })
  })

  it('behavior: an answer over the size limit is a transport error, while streaming or by its declared length', async () => {
    await assert.rejects(fetchText(`${url}/big`, {}, { maxBytes: 1024 * 1024, timeoutMs: 5_000 }, 'test'), isTransport(/exceeds the limit of 1048576 bytes/))
    await assert.rejects(fetchText(`${url}/declared`, {}, { maxBytes: 1024 * 1024, timeoutMs: 5_000 }, 'test'), isTransport(/10485760 bytes exceeds the limit/))
  })

  it('behavior: an answer that does not arrive in time is a transport error', async () => {
    const started = performance.now()
    await assert.rejects(boundedFetch({ maxBytes: 1024, timeoutMs: 300 }, 'test')(`${url}/slow`), isTransport(/within 300 ms/))
    assert.ok(performance.now() - started < 3_000)
  })

  it('behavior: nobody listening is a transport error', async () => {
    await assert.rejects(fetchText('http://127.0.0.1:1/', {}, { maxBytes: 1024, timeoutMs: 1_000 }, 'test'), isTransport(/cannot reach/))
  })
})
