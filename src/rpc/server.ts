/**
 * The HTTP JSON-RPC 2.0 server (hono): single and batch requests on POST /, plus GET /health and
 * GET /metrics. Every failure becomes a JSON-RPC error object; nothing a client sends can crash
 * the process.
 */
import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { MosaicNode } from '../node/node.ts'
import { type JsonRpcErrorObject, RpcError, rpcErrorCodes, toJsonRpcError } from './errors.ts'
import { createMethods, type Handler, type RpcContext } from './methods.ts'

type JsonRpcResponse = { jsonrpc: '2.0'; id: unknown; result?: unknown; error?: JsonRpcErrorObject }

function errorResponse(id: unknown, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: '2.0', id: id ?? null, error }
}

function isValidId(id: unknown): boolean {
  return id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

export function createRpcApp(node: MosaicNode): Hono {
  const methods: Record<string, Handler> = createMethods(node)
  const { config, metrics } = node
  const app = new Hono()

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

  // Counts bytes while reading, so a chunked body without content-length is cut off too.
  const limit = bodyLimit({
    maxSize: config.rpcMaxBodyBytes,
    onError: (c) => {
      const declared = c.req.header('content-length')
      const size = declared === undefined ? 'more than the limit' : `${declared} bytes`
      return c.json(errorResponse(null, { code: rpcErrorCodes.limitExceeded, message: `request body too large: ${size}, limit ${config.rpcMaxBodyBytes}` }), 413)
    },
  })

  app.post('/', limit, async (c) => {
    const body = await c.req.arrayBuffer()
    let payload: unknown
    try {
      payload = JSON.parse(new TextDecoder().decode(body))
    } catch {
      return c.json(errorResponse(null, { code: rpcErrorCodes.parseError, message: 'parse error: the body is not valid JSON' }))
    }
    const token = config.adminToken
    const context: RpcContext = { admin: token !== undefined && c.req.header('authorization') === `Bearer ${token}` }
    if (Array.isArray(payload)) {
      if (payload.length === 0) return c.json(errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: 'invalid request: empty batch' }))
      if (payload.length > config.rpcMaxBatch) {
        return c.json(errorResponse(null, { code: rpcErrorCodes.invalidRequest, message: `batch too large: ${payload.length} requests, limit ${config.rpcMaxBatch}` }))
      }
      // Requests of a batch are handled concurrently (JSON-RPC 2.0 allows it) and answered in
      // order: a batch of raw transactions has their senders recovered together on the workers.
      const responses = (await Promise.all(payload.map((request) => handleOne(request, context)))).filter((r) => r !== undefined)
      return responses.length === 0 ? c.body(null, 204) : c.json(responses)
    }
    const response = await handleOne(payload, context)
    return response === undefined ? c.body(null, 204) : c.json(response)
  })

  app.get('/health', (c) => {
    const head = node.chain.getBlock(node.chain.head)
    const age = head === undefined ? null : Math.floor(Date.now() / 1000) - Number(head.block.header.timestamp)
    return c.json({ status: 'ok', head: Number(node.chain.head), headAgeSeconds: age, mempool: node.mempool.size })
  })

  app.get('/metrics', (c) => c.text(metrics.registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }))

  app.onError((error, c) => {
    console.error('http handler failed:', error)
    return c.json(errorResponse(null, { code: rpcErrorCodes.internalError, message: 'internal error' }), 500)
  })
  return app
}

export type RpcServer = { readonly url: string; readonly port: number; close(): Promise<void> }

export async function startRpcServer(node: MosaicNode): Promise<RpcServer> {
  const app = createRpcApp(node)
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: node.config.rpcHost, port: node.config.rpcPort }, () => resolve(s))
    s.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${node.config.rpcHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
