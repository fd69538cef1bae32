/**
 * The HTTP JSON-RPC 2.0 server: single and batch requests on POST /, plus GET /health and
 * GET /metrics. Every failure becomes a JSON-RPC error object; nothing a client sends can crash
 * the process.
 *
 * POST / is served straight from `node:http` — the body read as bytes, parsed once, answered as
 * one string — because it is the hot path of every transaction: hono's adapter builds a WHATWG
 * `Request` and `Response` per call, which the profile of a transfer load put at ~12% of the main
 * thread. Everything else (health, metrics, unknown routes) goes through hono. A WebSocket upgrade,
 * on any path, is served by `websocket.ts` with the same JSON-RPC framing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { Hono } from 'hono'
import type { MosaicNode } from '../node/node.ts'
import { type JsonRpcErrorObject, RpcError, rpcErrorCodes, toJsonRpcError } from './errors.ts'
import { formatBlockEvent, formatMiniBatch } from './format.ts'
import { createLogReader } from './logs.ts'
import { createMethods, type Handler, type RpcContext } from './methods.ts'
import { SubscriptionHub } from './subscriptions.ts'
import { createFastLane } from './http-fast.ts'
import { attachWebSocket } from './websocket.ts'
import { listenOn } from '../utils/listen.ts'

type JsonRpcResponse = { jsonrpc: '2.0'; id: unknown; result?: unknown; error?: JsonRpcErrorObject }

function errorResponse(id: unknown, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: '2.0', id: id ?? null, error }
}

function isValidId(id: unknown): boolean {
  return id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

/** What a POST / is answered with: an HTTP status and a JSON body (none for notifications). */
export type RpcAnswer = { readonly status: number; readonly body: string | undefined; readonly close?: boolean }

const answer = (body: unknown, status = 200): RpcAnswer => ({ status, body: JSON.stringify(body) })

/**
 * The JSON-RPC 2.0 framing, independent of HTTP: one request or a batch in, the response out.
 * Requests of a batch are handled concurrently (JSON-RPC 2.0 allows it) and answered in order, so
 * a batch of raw transactions has their senders recovered together.
 */
export function createJsonRpcHandler(node: MosaicNode): (payload: unknown, context: RpcContext) => Promise<RpcAnswer> {
  const methods: Record<string, Handler> = createMethods(node)
  const { config, metrics } = node

  async function handleOne(request: unknown, context: RpcContext): Promise<JsonRpcResponse | undefined> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: expected a JSON-RPC request object' })
    }
    const { jsonrpc, method, params, id } = request as Record<string, unknown>
    if (!isValidId(id)) return errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: id must be a string, number or null' })
    if (jsonrpc !== '2.0') return errorResponse(id, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: jsonrpc must be "2.0"' })
    if (typeof method !== 'string') return errorResponse(id, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: method must be a string' })
    const handler = Object.hasOwn(methods, method) ? methods[method] : undefined
    const label = handler === undefined ? 'unknown' : method
    const started = performance.now()
    let response: JsonRpcResponse
    try {
      if (handler === undefined) throw new RpcError(rpcErrorCodes.methodNotFound, `the method ${method} does not exist/is not available`)
      if (params !== undefined && params !== null && !Array.isArray(params)) {
        throw new RpcError(rpcErrorCodes.invalidParams, 'invalid params: expected an array of positional parameters')
      }
      const result = await handler((params as unknown[] | undefined) ?? [], context)
      response = { jsonrpc: '2.0', id: id ?? null, result: result === undefined ? null : result }
    } catch (error) {
      const object = toJsonRpcError(error)
      if (object.code === rpcErrorCodes.internalError) console.error(`rpc ${method} failed:`, error)
      metrics.rpcErrors.inc({ method: label, code: String(object.code) })
      response = errorResponse(id, object)
    }
    metrics.rpcLatency.observe((performance.now() - started) / 1000, { method: label })
    // A request without an id is a notification: it is executed but not answered.
    return id === undefined ? undefined : response
  }

  return async (payload, context) => {
    if (Array.isArray(payload)) {
      if (payload.length === 0) return answer(errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: empty batch' }))
      if (payload.length > config.rpcMaxBatch) {
        return answer(errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: `batch too large: ${payload.length} requests, limit ${config.rpcMaxBatch}` }))
      }
      const responses = (await Promise.all(payload.map((request) => handleOne(request, context)))).filter((r) => r !== undefined)
      return responses.length === 0 ? { status: 204, body: undefined } : answer(responses)
    }
    const response = await handleOne(payload, context)
    return response === undefined ? { status: 204, body: undefined } : answer(response)
  }
}

/** The routes besides POST /: health and metrics (hono). */
export function createRpcApp(node: MosaicNode): Hono {
  const { metrics } = node
  const app = new Hono()
  app.get('/health', (c) => {
    const head = node.chain.getBlock(node.chain.head)
    const age = head === undefined ? null : Math.floor(Date.now() / 1000) - Number(head.block.header.timestamp)
    const halted = node.sequencer.halted
    const body = { head: Number(node.chain.head), headAgeSeconds: age, mempool: node.mempool.size }
    if (halted !== undefined) return c.json({ status: 'halted', reason: halted.message, ...body }, 503)
    return c.json({ status: 'ok', ...body })
  })
  app.get('/metrics', (c) => c.text(metrics.registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }))
  app.onError((error, c) => {
    console.error('http handler failed:', error)
    return c.json(errorResponse(null, { code: rpcErrorCodes.internalError, message: 'internal error' }), 500)
  })
  return app
}

function send(res: ServerResponse, { status, body }: RpcAnswer): void {
  if (res.destroyed) return
  if (body === undefined) {
    res.writeHead(status).end()
    return
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
}

/**
 * Reads a request body of at most `limit` bytes; undefined (and the connection closed after the
 * answer) when it is larger — counted while reading, so a chunked body without content-length is
 * cut off too.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      if (over) return
      size += chunk.length
      if (size > limit) {
        over = true
        chunks.length = 0
        resolve(undefined)
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    })
    req.on('error', reject)
  })
}

export type RpcServer = { readonly url: string; readonly port: number; close(): Promise<void> }

export async function startRpcServer(node: MosaicNode): Promise<RpcServer> {
  const { config, metrics } = node
  const handle = createJsonRpcHandler(node)
  const other = getRequestListener(createRpcApp(node).fetch)
  const token = config.adminToken
  const isAdmin = (authorization: string | undefined): boolean => token !== undefined && authorization === `Bearer ${token}`
  let inFlight = 0

  const overloaded = (): RpcAnswer | undefined => {
    if (inFlight < config.rpcMaxConcurrent) return undefined
    metrics.rpcErrors.inc({ method: 'overload', code: String(rpcErrorCodes.limitExceeded) })
    const refusal = errorResponse(null, { code: rpcErrorCodes.limitExceeded, message: `too many concurrent requests: limit ${config.rpcMaxConcurrent} (RPC_MAX_CONCURRENT)` })
    return { ...answer(refusal, 429), close: true }
  }

  /** A POST / body read whole: parsed once, answered (both lanes). */
  async function answerBody(body: Buffer, admin: boolean): Promise<RpcAnswer> {
    let payload: unknown
    try {
      payload = JSON.parse(body.toString('utf8'))
    } catch {
      return answer(errorResponse(null, { code: rpcErrorCodes.parseError, message: 'parse error: the body is not valid JSON' }))
    }
    return handle(payload, { admin })
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers['content-length'])
    const tooLarge = (size: string): RpcAnswer =>
      answer(errorResponse(null, { code: rpcErrorCodes.limitExceeded, message: `request body too large: ${size}, limit ${config.rpcMaxBodyBytes}` }), 413)
    if (declared > config.rpcMaxBodyBytes) {
      res.shouldKeepAlive = false
      return send(res, tooLarge(`${declared} bytes`))
    }
    // Overload is refused at once, before the body is read, rather than queued into a timeout.
    const refusal = overloaded()
    if (refusal !== undefined) {
      res.shouldKeepAlive = false
      return send(res, refusal)
    }
    inFlight++
    try {
      const body = await readBody(req, config.rpcMaxBodyBytes)
      if (body === undefined) {
        res.shouldKeepAlive = false
        return send(res, tooLarge('more than the limit'))
      }
      send(res, await answerBody(body, isAdmin(req.headers.authorization)))
    } finally {
      inFlight--
    }
  }

  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && (req.url === '/' || req.url === '')) {
      post(req, res).catch((error: unknown) => {
        console.error('http handler failed:', error)
        send(res, answer(errorResponse(null, { code: rpcErrorCodes.internalError, message: 'internal error' }), 500))
      })
    } else void other(req, res)
  })
  // Node's defaults drop a keep-alive connection after 5 s idle; clients reuse theirs longer.
  server.keepAliveTimeout = 65_000
  // WebSocket on the same port (`websocket.ts`); subscriptions hear the chain through one hub.
  const hub = new SubscriptionHub({
    writer: node.writer,
    pool: node.mempool,
    logs: createLogReader({ chain: node.chain, common: node.common, config }),
    blockEvents: { source: node.blockEvents, format: (event) => formatBlockEvent(event, { block: (n) => node.store.getBlock(n), stateRootLag: config.stateRootLag }) },
    miniBatches: {
      on: (listener) => node.writer.on('miniBatch', listener),
      off: (listener) => node.writer.off('miniBatch', listener),
      format: (batch) => formatMiniBatch(batch, node.preconfirmations.block),
    },
  })
  const webSocket = attachWebSocket(server, { config, handle, hub, isAdmin: (req) => isAdmin(req.headers.authorization) })
  // Connections start in the fast lane (`http-fast.ts`) and move to `server` at their first
  // request that is not a plain POST /.
  const lane = createFastLane({
    fallback: server,
    maxBodyBytes: config.rpcMaxBodyBytes,
    keepAliveMs: server.keepAliveTimeout,
    requestTimeoutMs: server.headersTimeout,
    answer: async ({ body, authorization }) => {
      const refusal = overloaded()
      if (refusal !== undefined) return refusal
      inFlight++
      try {
        return await answerBody(body, isAdmin(authorization))
      } finally {
        inFlight--
      }
    },
    onError: (error) => {
      console.error('http handler failed:', error)
      return answer(errorResponse(null, { code: rpcErrorCodes.internalError, message: 'internal error' }), 500)
    },
  })
  // node:http tracks the connections handed to it, and times out their requests, from its
  // 'listening' event on (`setupConnectionsTracking`): the lane's listening is its.
  lane.server.once('listening', () => server.emit('listening'))
  await listenOn(lane.server, config.rpcPort, config.rpcHost, 'RPC_HOST and RPC_PORT, --rpc-host and --rpc-port')
  const { port } = lane.server.address() as AddressInfo
  return {
    url: `http://${config.rpcHost}:${port}`,
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => lane.server.close(() => resolve()))
      lane.closeConnections()
      // node:http never listened itself: its close stops its timeout checks and emits 'close'.
      server.close()
      server.closeAllConnections()
      await webSocket.close()
      hub.close()
      await closed
    },
  }
}
