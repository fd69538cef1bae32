/**
 * Test helpers for checking verifiers and replicas against a lying sequencer: a JSON-RPC proxy
 * that rewrites chosen answers, and `mosaic verifier` run as a child process.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A JSON-RPC proxy in front of `target` that passes each result through `rewrite`. */
export async function lyingProxy(target: string, rewrite: (method: string, params: unknown[], result: unknown) => unknown): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const request = JSON.parse(body) as { method: string; params: unknown[] }
    const upstream = (await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { result?: unknown }
    if (upstream.result !== undefined) upstream.result = rewrite(request.method, request.params ?? [], upstream.result)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(upstream))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

/** `mosaic verifier ARGS` (status server on a free port) as a child process: its exit code and output. */
export async function runVerifierProcess(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['bin/mosaic.mjs', 'verifier', ...args, '--status-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}
