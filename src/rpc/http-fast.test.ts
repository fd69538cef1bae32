/**
 * The fast lane of POST / (`http-fast.ts`) over real sockets: what it answers itself, in what
 * order, and every kind of request it hands to node:http with the bytes it has read.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createFastLane, type FastAnswer, type FastLane, parseHead } from './http-fast.ts'

const post = (body: string, headers = ''): string => `POST / HTTP/1.1\r\nhost: x\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`

describe('parseHead', () => {
  it('behavior: a plain POST / with a content length is the lane’s; its authorization and connection: close are read', () => {
    assert.deepEqual(parseHead('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12'), { length: 12, authorization: undefined, close: false })
    assert.deepEqual(parseHead('POST / HTTP/1.1\r\nhost: a\r\nauthorization:  Bearer t \r\ncontent-length:0\r\nConnection: keep-alive, Close'), {
      length: 0,
      authorization: 'Bearer t',
      close: true,
    })
  })

  it('negative: every other request is left to node:http', () => {
    const refused = [
      'POST / HTTP/1.1\r\ncontent-length: 1',
      'GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 1',
      'POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 1',
      'POST / HTTP/1.0\r\nhost: a\r\ncontent-length: 1',
      'POST  / HTTP/1.1\r\nhost: a\r\ncontent-length: 1',
      'POST / HTTP/1.1',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 1',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ntransfer-encoding: chunked',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +1',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0x10',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nexpect: 100-continue',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nupgrade: websocket',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nbad name: x',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\n folded: x',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nx: a\x00b',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nx: a\nb: c',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nauthorization: a\r\nauthorization: b',
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\nno-colon',
      'POST / HTTP/1.1\r\ncontent-length: 1\r\nhost: a\r\nhost: b',
    ]
    for (const head of refused) assert.equal(parseHead(head), undefined, JSON.stringify(head))
  })
})

/** A socket's bytes as they come, with a way to wait for a pattern. */
class Client {
  received = ''
  private readonly socket: Socket
  closed: Promise<unknown>

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1')
    this.socket.setEncoding('utf8')
    this.socket.on('data', (text: string) => (this.received += text))
    this.closed = once(this.socket, 'close')
  }

  send(text: string): void {
    this.socket.write(text)
  }

  /** Waits until `count` answers have arrived whole (by their content-length). */
  async answers(count: number, timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; body: string }[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const parsed = parseAnswers(this.received)
      if (parsed.length >= count) return parsed
      if (Date.now() > deadline) throw new Error(`${parsed.length} of ${count} answers in ${timeoutMs} ms: ${JSON.stringify(this.received)}`)
      await sleep(5)
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}

function parseAnswers(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const answers = []
  let rest = Buffer.from(text)
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) return answers
    const [statusLine, ...lines] = rest.subarray(0, end).toString().split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    const status = Number(statusLine!.split(' ')[1])
    if (status === 100) {
      rest = rest.subarray(end + 4)
      continue
    }
    const length = Number(headers['content-length'] ?? 0)
    if (rest.length < end + 4 + length) return answers
    answers.push({ status, headers, body: rest.subarray(end + 4, end + 4 + length).toString() })
    rest = rest.subarray(end + 4 + length)
  }
}

describe('createFastLane', () => {
  let lane: FastLane
  let fallback: HttpServer
  let port: number
  let gated = 0
  let open: () => void = () => {}
  let gate = new Promise<void>((resolve) => (open = resolve))
  /** The requests node:http answered. */
  const viaHttp: string[] = []
  /** Answers of the lane: an echo of the body, after `delay` ms when the body names one. */
  const answer = async ({ body, authorization }: { body: Buffer; authorization: string | undefined }): Promise<FastAnswer> => {
    const text = body.toString()
    if (text === 'throw') throw new Error('boom')
    if (text === 'refuse') return { status: 429, body: '"busy"', close: true }
    if (text === 'empty') return { status: 204, body: undefined }
    if (text.startsWith('gate')) {
      gated++
      await gate
    }
    const delay = /^delay (\d+)/.exec(text)
    if (delay !== null) await sleep(Number(delay[1]))
    return { status: 200, body: JSON.stringify({ lane: text, authorization: authorization ?? null }) }
  }

  before(async () => {
    fallback = createHttpServer((req: IncomingMessage, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => {
        viaHttp.push(`${req.method} ${req.url} ${body}`)
        const text = JSON.stringify({ http: `${req.method} ${req.url} ${body}` })
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text)
      })
    })
    lane = createFastLane({ fallback, maxBodyBytes: 1000, keepAliveMs: 2000, requestTimeoutMs: 300, answer, onError: () => ({ status: 500, body: '"internal error"' }) })
    lane.server.once('listening', () => fallback.emit('listening'))
    lane.server.listen(0, '127.0.0.1')
    await once(lane.server, 'listening')
    port = (lane.server.address() as { port: number }).port
  })

  after(async () => {
    lane.closeConnections()
    fallback.close()
    fallback.closeAllConnections()
    await new Promise((resolve) => lane.server.close(resolve))
  })

  it('behavior: answers POST / itself, keeps the connection, and a UTF-8 body’s length is its bytes', async () => {
    const before = viaHttp.length
    const client = new Client(port)
    client.send(post('héllo ✓', 'authorization: Bearer t\r\n'))
    const [first] = await client.answers(1)
    assert.equal(first!.status, 200)
    assert.deepEqual(JSON.parse(first!.body), { lane: 'héllo ✓', authorization: 'Bearer t' })
    assert.equal(Number(first!.headers['content-length']), Buffer.byteLength(first!.body))
    assert.equal(first!.headers.connection, 'keep-alive')
    assert.ok(first!.headers.date !== undefined && !Number.isNaN(Date.parse(first!.headers.date)))
    client.send(post('again'))
    const answers = await client.answers(2)
    assert.equal(JSON.parse(answers[1]!.body).lane, 'again')
    assert.equal(viaHttp.length, before, 'node:http saw none of them')
    client.destroy()
  })

  it('behavior: pipelined requests, and one split across writes, are answered in the order they came', async () => {
    const client = new Client(port)
    // The first answer is the slowest: it still goes first.
    client.send(post('delay 80') + post('delay 10') + post('third').slice(0, 20))
    await sleep(30)
    client.send(post('third').slice(20) + post('empty'))
    const answers = await client.answers(4)
    assert.deepEqual(
      answers.map((a) => (a.status === 204 ? 'empty' : JSON.parse(a.body).lane)),
      ['delay 80', 'delay 10', 'third', 'empty'],
    )
    client.destroy()
  })

  it('behavior: the first request that is not a plain POST / hands the connection, with what was read, to node:http', async () => {
    const cases: [string, string][] = [
      ['GET /health HTTP/1.1\r\nhost: x\r\n\r\n', 'GET /health '],
      ['POST /other HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi', 'POST /other hi'],
      ['POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n', 'POST / hi'],
      ['POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\nhi', 'POST / hi'],
      [post('x'.repeat(1001)), `POST / ${'x'.repeat(1001)}`],
    ]
    for (const [request, seen] of cases) {
      const client = new Client(port)
      client.send(post('before'))
      await client.answers(1)
      client.send(request)
      const answers = await client.answers(2)
      assert.deepEqual(JSON.parse(answers[1]!.body), { http: seen }, JSON.stringify(request))
      // The connection stays with node:http: a plain POST / after it is node:http's too.
      client.send(post('after'))
      const third = (await client.answers(3))[2]!
      assert.deepEqual(JSON.parse(third.body), { http: 'POST / after' })
      client.destroy()
    }
  })

  it('behavior: a client that pipelines without end has at most 32 requests taken at once, then all are answered in order', async () => {
    const client = new Client(port)
    client.send(Array.from({ length: 100 }, (_, i) => post(`gate ${i}`)).join(''))
    await sleep(200)
    assert.equal(gated, 32, 'requests taken before any was answered')
    open()
    const answers = await client.answers(100)
    assert.deepEqual(
      answers.map((a) => JSON.parse(a.body).lane),
      Array.from({ length: 100 }, (_, i) => `gate ${i}`),
    )
    assert.equal(gated, 100)
    gate = new Promise<void>((resolve) => (open = resolve))
    client.destroy()
  })

  it('behavior: a handover waits for the answers before it, pipelined on the same write', async () => {
    const client = new Client(port)
    client.send(`${post('delay 50')}GET /late HTTP/1.1\r\nhost: x\r\n\r\n`)
    const answers = await client.answers(2)
    assert.equal(JSON.parse(answers[0]!.body).lane, 'delay 50')
    assert.deepEqual(JSON.parse(answers[1]!.body), { http: 'GET /late ' })
    client.destroy()
  })

  it('behavior: connection: close, and an answer that closes, end the connection after their answer', async () => {
    for (const [request, status] of [
      [post('bye', 'connection: close\r\n'), 200],
      [post('refuse'), 429],
    ] as const) {
      const client = new Client(port)
      client.send(request + post('unanswered'))
      await client.closed
      const answers = parseAnswers(client.received)
      assert.equal(answers.length, 1)
      assert.equal(answers[0]!.status, status)
      assert.equal(answers[0]!.headers.connection, 'close')
    }
  })

  it('behavior: an answer that takes longer than the keep-alive time is still answered', async () => {
    const client = new Client(port)
    client.send(post('delay 2300'))
    const [first] = await client.answers(1, 4000)
    assert.equal(JSON.parse(first!.body).lane, 'delay 2300')
    client.destroy()
  })

  it('behavior: an answer that throws is a 500, and the connection goes on', async () => {
    const client = new Client(port)
    client.send(post('throw') + post('fine'))
    const answers = await client.answers(2)
    assert.equal(answers[0]!.status, 500)
    assert.equal(JSON.parse(answers[1]!.body).lane, 'fine')
    client.destroy()
  })

  it('behavior: a request that does not arrive whole in time, and an idle connection, are closed', async () => {
    const partial = new Client(port)
    partial.send(post('slow').slice(0, 30))
    const started = Date.now()
    await partial.closed
    assert.ok(Date.now() - started < 1500, 'closed by the request timeout (300 ms), not the idle one')
    assert.equal(partial.received, '')

    const idle = new Client(port)
    idle.send(post('then idle'))
    await idle.answers(1)
    const answered = Date.now()
    await idle.closed
    assert.ok(Date.now() - answered >= 1500, 'kept while within the keep-alive time')
  })

  it('behavior: closeConnections closes the connections still in the lane', async () => {
    const client = new Client(port)
    client.send(post('open'))
    await client.answers(1)
    lane.closeConnections()
    await client.closed
  })
})
