/**
 * anvil — the L1 of tests and of the devnet — from the `@foundry-rs/anvil` npm package: the
 * platform binary its optional dependency ships, started on a free port on 127.0.0.1 and stopped
 * with its process.
 */
import type { ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { spawnWatched, stopWatched } from '../utils/watched-process.ts'

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }

/** Path of the anvil binary for this platform, from `@foundry-rs/anvil-<os>-<arch>`. */
export function anvilBinary(): string {
  const require = createRequire(import.meta.url)
  const arch = ARCH[process.arch]
  const name = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  try {
    return require.resolve(`@foundry-rs/anvil-${process.platform === 'win32' ? 'win32' : process.platform}-${arch}/bin/${name}`)
  } catch {
    throw new Error(`no anvil binary for ${process.platform}/${process.arch}: install the @foundry-rs/anvil npm package (npm ci does)`)
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export type Anvil = { readonly url: string; readonly port: number; readonly process: ChildProcess; stop(): Promise<void> }

/**
 * Start anvil; resolves once it accepts JSON-RPC. `args` are passed through (e.g. `--block-time 1`);
 * `port` restarts one where it was (tests of an L1 outage).
 */
export async function startAnvil(args: readonly string[] = [], { port: given }: { port?: number } = {}): Promise<Anvil> {
  const port = given ?? (await freePort())
  const argv = [anvilBinary(), '--host', '127.0.0.1', '--port', String(port), '--silent', ...args]
  // When this process exits — even killed with SIGKILL — anvil goes with it instead of holding the port.
  const child = spawnWatched(argv)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited with code ${child.exitCode}: ${output}`)
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' })
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 20_000) {
      child.stdin?.end()
      child.kill('SIGKILL')
      throw new Error(`anvil did not start in 20 s: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    port,
    process: child,
    // anvil gets SIGTERM from the watchdog (and dumps its --state file, if any).
    stop: () => stopWatched(child),
  }
}
