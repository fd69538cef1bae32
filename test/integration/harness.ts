/**
 * Starts a real mosaic node for integration tests: HTTP on a free port, LMDB in a temp dir,
 * in-process (`startNode`) or as a child process that can be killed with SIGKILL (`spawnNode`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPublicClient, createWalletClient, defineChain, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadConfig, type Mode } from '../../src/config/config.ts'
import { openNode, type MosaicNode } from '../../src/node/node.ts'
import { startRpcServer } from '../../src/rpc/server.ts'

export const DEV_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
] as const

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'mosaic-test-'))
}

export function mosaicChain(url: string, chainId = 901) {
  return defineChain({
    id: chainId,
    name: 'mosaic-test',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
}

export type TestNode = {
  node: MosaicNode
  url: string
  dataDir: string
  publicClient: PublicClient
  wallet: (keyIndex?: number) => ReturnType<typeof createWalletClient>
  rpc: (method: string, params?: unknown[]) => Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }>
  stop: (options?: { keepData?: boolean }) => Promise<void>
}

/** `mode`: `devnet` (the default) or `sequencer`, which needs `--genesis-file` and `--fee-recipient` among `flags`. */
export async function startNode(flags: string[] = [], options: { dataDir?: string; mode?: Extract<Mode, 'devnet' | 'sequencer'> } = {}): Promise<TestNode> {
  const dataDir = options.dataDir ?? tempDataDir()
  const config = loadConfig({
    // No mini-batches unless a test asks (`--miniblock-ms` below the block time): a receipt then
    // means a sealed block, whose state `latest` reads show, as these tests expect.
    argv: ['--data-dir', dataDir, '--rpc-port', '0', '--block-time-ms', '50', '--miniblock-ms', '50', '--admin-token', 'test-token', ...flags],
    env: {},
    cwd: process.cwd(),
    mode: options.mode ?? 'devnet',
  })
  const node = await openNode(config)
  const server = await startRpcServer(node)
  node.sequencer.start()
  const chain = mosaicChain(server.url, Number(node.common.chainId()))
  const transport = http(server.url, { retryCount: 0 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient
  return {
    node,
    url: server.url,
    dataDir,
    publicClient,
    wallet: (keyIndex = 0) => createWalletClient({ chain, transport, account: privateKeyToAccount(DEV_KEYS[keyIndex]!) }),
    rpc: (method, params = []) => rawRpc(server.url, method, params),
    async stop({ keepData = false } = {}) {
      await server.close()
      await node.close()
      if (!keepData) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function rawRpc(url: string, method: string, params: unknown[] = [], headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  return (await response.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } }
}

export type SpawnedNode = { url: string; child: ChildProcess; output: () => string }


/** Kill with SIGKILL every child still running and wait for each to exit (a test's teardown). */
export async function killChildren(children: readonly ChildProcess[]): Promise<void> {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}

/** Run `mosaic devnet` as a child process (for kill -9 tests); resolves once it listens. */
export function spawnNode(dataDir: string, flags: string[] = []): Promise<SpawnedNode> {
  const child = spawn(process.execPath, ['bin/mosaic.mjs', 'devnet', '--data-dir', dataDir, '--rpc-port', '0', '--block-time-ms', '50', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start:\n${output}`)), 30_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve({ url: match[1]!, child, output: () => output })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`node exited with ${code}:\n${output}`))
    })
  })
}
