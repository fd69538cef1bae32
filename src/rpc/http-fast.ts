/**
 * The fast lane of POST /: a plain `node:net` server that reads the HTTP/1.1 requests of a
 * connection itself while they are the one kind a JSON-RPC client sends — `POST / HTTP/1.1`
 * with a `Host` and a `Content-Length` body — and hands the connection, with what it has read,
 * to the `node:http` server the first time a request is anything else (another method or path, a
 * chunked body, `Expect`, `Upgrade`, HTTP/1.0, a body over the limit, a head it does not parse).
 * `node:http` stays the one owner of every edge of the protocol; this lane only skips its
 * per-request objects (`IncomingMessage`, `ServerResponse`, their streams and headers): on the
 * node, 37 µs of CPU per `eth_chainId` through `node:http` against 30 through the lane.
 *
 * Answers go out in the order their requests came (pipelining), each as one write.
 */
import type { Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'

/** What the lane needs from a request: its body and the `Authorization` header. */
export type FastRequest = { readonly body: Buffer; readonly authorization: string | undefined }
/** An answer: status and JSON body (none: 204); `close`: the connection closes after it. */
export type FastAnswer = { readonly status: number; readonly body: string | undefined; readonly close?: boolean }

export type FastLaneOptions = {
  /** The server every connection that leaves the lane goes to (its `connection` event). */
  readonly fallback: HttpServer
  readonly maxBodyBytes: number
  /** A keep-alive connection idle this long is closed (as `server.keepAliveTimeout`). */
  readonly keepAliveMs: number
  /** A request whose head and body are not in within this long closes its connection (as `server.headersTimeout`). */
  readonly requestTimeoutMs: number
  readonly answer: (request: FastRequest) => Promise<FastAnswer>
  /** Called when `answer` throws: the status-500 answer sent instead. */
  readonly onError: (error: unknown) => FastAnswer
}

/**
 * A connection with this many answers not yet written stops being read until they are: a client
 * that pipelines without reading its answers is held back by TCP, not buffered here.
 */
const MAX_PIPELINED = 32
/** node:http's own limit on a request head (`--max-http-header-size`). */
const MAX_HEAD_BYTES = 16 * 1024
const HEAD_END = Buffer.from('\r\n\r\n')
const REQUEST_LINE = 'POST / HTTP/1.1'
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// A header value: visible characters, spaces and tabs (RFC 9110 field-value; node:http is as strict).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
const DIGITS = /^\d{1,15}$/
const REASONS: Record<number, string> = { 200: 'OK', 204: 'No Content', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error' }

type Head = { readonly length: number; readonly authorization: string | undefined; readonly close: boolean }

/**
 * The head of a request the lane takes, or undefined for one it leaves to node:http. `head` is
 * the request line and header lines without the final blank line, as latin1.
 */
export function parseHead(head: string): Head | undefined {
  const lines = head.split('\r\n')
  if (lines[0] !== REQUEST_LINE) return undefined
  let length: number | undefined
  let authorization: string | undefined
  let hosts = 0
  let close = false
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(':')
    if (colon <= 0) return undefined
    const name = line.slice(0, colon)
    if (!TOKEN.test(name)) return undefined
    const raw = line.slice(colon + 1)
    if (!FIELD_VALUE.test(raw)) return undefined
    const value = raw.trim()
    switch (name.toLowerCase()) {
      case 'content-length':
        if (length !== undefined || !DIGITS.test(value)) return undefined
        length = Number(value)
        break
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return undefined
      case 'host':
        hosts++
        break
      case 'authorization':
        if (authorization !== undefined) return undefined
        authorization = value
        break
      case 'connection':
        // `close` among its tokens; `upgrade` is not ours (a request with Upgrade left above).
        close = value.split(',').some((token) => token.trim().toLowerCase() === 'close')
        break
    }
  }
  // node:http answers a request without exactly one Host 400, as HTTP/1.1 asks.
  if (length === undefined || hosts !== 1) return undefined
  return { length, authorization, close }
}

let dateSecond = -1
let dateText = ''
/** The Date header's value, formatted once a second. */
function httpDate(): string {
  const now = Date.now()
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = new Date(now).toUTCString()
  }
  return dateText
}

function responseText({ status, body }: FastAnswer, close: boolean, keepAliveSeconds: number): string {
  const connection = close ? 'connection: close\r\n' : `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n`
  const start = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\ndate: ${httpDate()}\r\n${connection}`
  if (body === undefined) return `${start}\r\n`
  return `${start}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

/** Resolves when `socket` has written what it buffered, or is closed. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    socket.on('drain', done)
    socket.on('close', done)
  })
}

class FastConnection {
  private buffered: Buffer | undefined
  /** The answers not yet written, in request order. */
  private readonly queue: Promise<{ readonly text: string; readonly close: boolean }>[] = []
  private writing = false
  private leaving = false
  private closing = false
  private partialTimer: NodeJS.Timeout | undefined
  private readonly onData = (chunk: Buffer) => this.receive(chunk)

  constructor(
    private readonly socket: Socket,
    private readonly options: FastLaneOptions,
    private readonly left: () => void,
  ) {
    socket.setNoDelay(true)
    // Idle: no answer owed (a request that takes long to answer keeps its connection, as in node:http).
    socket.setTimeout(options.keepAliveMs, () => {
      if (!this.writing) socket.destroy()
    })
    socket.on('data', this.onData)
    socket.on('error', () => socket.destroy())
  }

  private receive(chunk: Buffer): void {
    if (this.closing) return
    this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk])
    this.parse()
  }

  /** Takes the whole requests buffered, answering each, until one is partial or not the lane's. */
  private parse(): void {
    while (!this.leaving && !this.closing) {
      if (this.queue.length >= MAX_PIPELINED) {
        this.socket.pause()
        return
      }
      const buffered: Buffer | undefined = this.buffered
      if (buffered === undefined) return
      const end: number = buffered.indexOf(HEAD_END)
      if (end < 0) {
        if (buffered.length > MAX_HEAD_BYTES) return this.leave()
        return this.awaitRest()
      }
      const head = parseHead(buffered.toString('latin1', 0, end))
      if (head === undefined || head.length > this.options.maxBodyBytes) return this.leave()
      const total: number = end + 4 + head.length
      if (buffered.length < total) return this.awaitRest()
      this.buffered = buffered.length === total ? undefined : buffered.subarray(total)
      this.clearPartial()
      // The body is copied out: the buffer it came in may hold the next request too.
      const body = Buffer.from(buffered.subarray(end + 4, total))
      this.answer(body, head)
      if (head.close) {
        this.closing = true
        return
      }
    }
  }

  /** A request is partly in: it has `requestTimeoutMs` to arrive whole. */
  private awaitRest(): void {
    if (this.partialTimer !== undefined) return
    this.partialTimer = setTimeout(() => this.socket.destroy(), this.options.requestTimeoutMs)
  }

  private clearPartial(): void {
    if (this.partialTimer === undefined) return
    clearTimeout(this.partialTimer)
    this.partialTimer = undefined
  }

  private answer(body: Buffer, head: Head): void {
    const { options } = this
    const keepAliveSeconds = Math.floor(options.keepAliveMs / 1000)
    const text = options
      .answer({ body, authorization: head.authorization })
      .catch((error: unknown) => options.onError(error))
      .then((answer) => {
        const close = head.close || answer.close === true
        return { text: responseText(answer, close, keepAliveSeconds), close }
      })
    this.queue.push(text)
    if (!this.writing) void this.drain()
  }

  /** Writes the answers in request order; then, when the connection is leaving, hands it over. */
  private async drain(): Promise<void> {
    this.writing = true
    while (this.queue.length > 0) {
      const { text, close } = await this.queue[0]!
      this.queue.shift()
      if (this.socket.destroyed) return
      const flushed = this.socket.write(text)
      // An answer that closes the connection is its last: what was pipelined after it goes unanswered.
      if (close) {
        this.closing = true
        this.socket.end()
        return
      }
      // A client slow to read holds the next answers back, and its next requests.
      if (!flushed) await drained(this.socket)
      if (this.queue.length < MAX_PIPELINED && this.socket.isPaused() && !this.leaving && !this.closing) {
        this.socket.resume()
        this.parse()
      }
    }
    this.writing = false
    if (this.leaving) this.handOver()
  }

  /** Leave the lane: once every answer is written, node:http takes the connection. */
  private leave(): void {
    this.leaving = true
    this.clearPartial()
    this.socket.pause()
    if (!this.writing && !this.closing) this.handOver()
  }

  private handOver(): void {
    const { socket } = this
    socket.off('data', this.onData)
    socket.setTimeout(0)
    socket.removeAllListeners('timeout')
    socket.removeAllListeners('error')
    if (this.buffered !== undefined) socket.unshift(this.buffered)
    this.buffered = undefined
    this.left()
    this.options.fallback.emit('connection', socket)
    socket.resume()
  }
}

export type FastLane = {
  /** The server to listen with: its connections start in the lane. */
  readonly server: NetServer
  /** Destroys the connections still in the lane (those handed over belong to node:http). */
  closeConnections(): void
}

/** A net server whose connections start in the fast lane (see the module's comment). */
export function createFastLane(options: FastLaneOptions): FastLane {
  const inLane = new Set<Socket>()
  const server = createNetServer({ noDelay: true }, (socket) => {
    inLane.add(socket)
    socket.once('close', () => inLane.delete(socket))
    void new FastConnection(socket, options, () => inLane.delete(socket))
  })
  return {
    server,
    closeConnections: () => {
      for (const socket of inLane) socket.destroy()
      inLane.clear()
    },
  }
}
