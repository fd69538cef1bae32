/**
 * JSON-RPC over WebSocket on the RPC port, as geth and anvil serve it: an HTTP upgrade on the
 * same host and port, any path. Every message goes through the same JSON-RPC framing as a POST
 * (`createJsonRpcHandler`: single and batch, one error mapping) and every method works; only here
 * does `RpcContext` carry the connection's subscriptions, so `eth_subscribe` works.
 *
 * Bounds, so that no client grows the node's memory:
 * - `WS_MAX_CONNECTIONS` connections (counted from the upgrade request; more are refused with 503);
 * - a message is at most `RPC_MAX_BODY_BYTES` (ws's `maxPayload`: a larger one closes with 1009);
 * - `WS_MAX_IN_FLIGHT` requests of a connection handled at a time: past it the socket is paused
 *   (TCP pushes back on the client) and the messages ws had already read wait, in order;
 * - `WS_MAX_SUBSCRIPTIONS` subscriptions per connection (`subscriptions.ts`);
 * - `WS_MAX_BUFFERED_BYTES` waiting to be sent: before each send the socket's unsent bytes are
 *   checked, and a client that reads slower than the node writes is disconnected (1008) — its
 *   subscriptions end at once — rather than queued for;
 * - a connection that leaves a ping unanswered until the next, 30 s later, is dropped (geth's
 *   ping interval).
 */
import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import type { Config } from '../config/config.ts'
import { rpcErrorCodes } from './errors.ts'
import type { RpcContext } from './methods.ts'
import type { RpcAnswer } from './server.ts'
import type { SubscriptionHub } from './subscriptions.ts'

export type WebSocketOptions = {
  readonly config: Pick<Config, 'rpcMaxBodyBytes' | 'wsMaxConnections' | 'wsMaxSubscriptions' | 'wsMaxInFlight' | 'wsMaxBufferedBytes'>
  /** The JSON-RPC framing shared with HTTP (`createJsonRpcHandler`). */
  readonly handle: (payload: unknown, context: RpcContext) => Promise<RpcAnswer>
  readonly hub: SubscriptionHub
  /** Whether the upgrade request carries the admin token: admin_* methods then work on the connection. */
  readonly isAdmin: (req: IncomingMessage) => boolean
}

export type WebSocketEndpoint = {
  /** Closes every connection (1001), cutting those that do not finish the close handshake in time. */
  close(): Promise<void>
}

/** geth's `wsPingInterval`. */
const PING_INTERVAL_MS = 30_000
/** How long a closing connection has to finish the close handshake before its socket is cut. */
const CLOSE_GRACE_MS = 2_000

const jsonRpcError = (code: number, message: string) => JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } })
const PARSE_ERROR = jsonRpcError(rpcErrorCodes.parseError, 'parse error: the message is not valid JSON')
const INTERNAL_ERROR = jsonRpcError(rpcErrorCodes.internalError, 'internal error')

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8')
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuse(socket: Duplex, status: number, message: string): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`)
}

/** Serves WebSocket upgrades of `server` (the RPC server's `node:http` server). */
export function attachWebSocket(server: Server, { config, handle, hub, isAdmin }: WebSocketOptions): WebSocketEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.rpcMaxBodyBytes, perMessageDeflate: false })
  /** Every upgraded or upgrading socket: what WS_MAX_CONNECTIONS counts. */
  const sockets = new Set<Duplex>()
  /** Connections that answered the last ping. */
  const alive = new WeakSet<WebSocket>()
  let closed = false
  let drained: (() => void) | undefined

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A reset in the handshake is the client's business, never the process's.
    socket.on('error', () => {})
    if (closed) return refuse(socket, 503, 'the server is closing')
    if (sockets.size >= config.wsMaxConnections) {
      return refuse(socket, 503, `too many WebSocket connections: limit ${config.wsMaxConnections} (WS_MAX_CONNECTIONS)`)
    }
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      if (sockets.size === 0) drained?.()
    })
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, isAdmin(req)))
  })

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate()
        continue
      }
      alive.delete(ws)
      ws.ping()
    }
  }, PING_INTERVAL_MS)
  heartbeat.unref()

  function serve(ws: WebSocket, admin: boolean): void {
    let inFlight = 0
    let closing = false
    alive.add(ws)
    ws.on('pong', () => alive.add(ws))
    ws.on('error', () => {}) // ws closes the connection itself (1002, 1009, …)

    const send = (message: string): void => {
      if (closing || ws.readyState !== WebSocket.OPEN) return
      if (ws.bufferedAmount > config.wsMaxBufferedBytes) return tooSlow()
      ws.send(message)
    }
    const tooSlow = (): void => close(1008, `too slow: over ${config.wsMaxBufferedBytes} bytes unsent (WS_MAX_BUFFERED_BYTES)`)
    const subscriptions = hub.connect({ send, maxSubscriptions: config.wsMaxSubscriptions, overflow: tooSlow, buffered: () => ws.bufferedAmount, maxBuffered: config.wsMaxBufferedBytes })

    function close(code: number, reason: string): void {
      if (closing) return
      closing = true
      subscriptions.close()
      ws.close(code, reason)
      // The close frame waits behind what the client has not read: do not wait on it for long.
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref()
    }

    ws.on('close', () => {
      closing = true
      subscriptions.close()
    })

    // Past WS_MAX_IN_FLIGHT the socket is paused; what ws had already read waits here, in order.
    const waiting: RawData[] = []
    ws.on('message', (data: RawData) => {
      if (closing) return
      if (inFlight >= config.wsMaxInFlight) {
        waiting.push(data)
        ws.pause()
        return
      }
      run(data)
    })

    function run(data: RawData): void {
      let payload: unknown
      try {
        payload = JSON.parse(text(data))
      } catch {
        send(PARSE_ERROR)
        return next()
      }
      inFlight++
      // Subscriptions made by this message notify once its answer (their ids) is sent.
      const created: string[] = []
      const context: RpcContext = {
        admin,
        subscriptions: {
          subscribe: (request) => {
            const id = subscriptions.subscribe(request)
            created.push(id)
            return id
          },
          unsubscribe: (id) => subscriptions.unsubscribe(id),
        },
      }
      handle(payload, context)
        .then(
          (answer) => {
            if (answer.body !== undefined) send(answer.body)
          },
          (error: unknown) => {
            console.error('websocket handler failed:', error)
            send(INTERNAL_ERROR)
          },
        )
        .finally(() => {
          for (const id of created) subscriptions.activate(id)
          inFlight--
          next()
        })
    }

    function next(): void {
      if (closing) {
        waiting.length = 0
        return
      }
      const data = waiting.shift()
      if (data !== undefined) run(data)
      else if (ws.isPaused && inFlight < config.wsMaxInFlight) ws.resume()
    }
  }

  return {
    async close() {
      closed = true
      clearInterval(heartbeat)
      for (const ws of wss.clients) ws.close(1001, 'the server is closing')
      if (sockets.size > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve
          setTimeout(resolve, CLOSE_GRACE_MS).unref()
        })
      }
      for (const socket of sockets) socket.destroy()
      wss.close()
    },
  }
}
