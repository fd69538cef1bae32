/**
 * A raw WebSocket JSON-RPC client for the subscription tests: every message kept, answers found
 * by id, notifications (`eth_subscription`, `mosaic_subscription`) by subscription.
 */
import WebSocket from 'ws'

export type Message = { id?: number; result?: unknown; error?: { code: number; message: string }; method?: string; params?: { subscription: string; result: unknown } }

/** Resolves with the first truthy value of `find`, checked every 10 ms, or fails after `ms`. */
export async function eventually<T>(find: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await find()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A raw WebSocket JSON-RPC client: every message kept, answers found by id. */
export async function connect(url: string) {
  const ws = new WebSocket(url)
  const received: Message[] = []
  ws.on('message', (data) => received.push(JSON.parse(data.toString()) as Message))
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  let nextId = 1
  const notifications = (subscription: string) => received.filter((m) => (m.method === 'eth_subscription' || m.method === 'mosaic_subscription') && m.params?.subscription === subscription).map((m) => m.params!.result)
  async function call(method: string, params: unknown[] = []): Promise<Message> {
    const id = nextId++
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    return eventually(() => received.find((m) => m.id === id), `the answer to ${method}`)
  }
  return { ws, received, closed, call, notifications }
}

