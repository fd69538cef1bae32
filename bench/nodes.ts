/**
 * The nodes the end-to-end benchmarks drive (`bench:e2e`, `bench:soak`), each a process of its
 * own on 127.0.0.1: anvil from npm, and `mosaic sequencer` or `mosaic devnet` in a temporary
 * directory. Every child is killed and every directory removed on any exit of the benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEV_ACCOUNT_BALANCE, deriveDevAccounts } from '../src/chain/dev-accounts.ts'
import { freePort, startAnvil } from '../src/l1/anvil.ts'
// @ts-expect-error: plain JavaScript modules without declarations
import { buildIsFresh } from '../src/utils/typescript-module.mjs'
// @ts-expect-error: plain JavaScript modules without declarations
import { buildDist } from '../scripts/build.mjs'
import { RpcClient } from './e2e-client.ts'

export type NodeName = 'anvil' | 'sequencer' | 'devnet'

export type NodeOptions = {
  readonly chainId: bigint
  readonly gasLimit: bigint
  /** Write CPU profiles of the mosaic process under `<profile>/<mode>/`. */
  readonly profile?: string | undefined
  /** More options for the mosaic process's node (`--perf-basic-prof` for `bench:e2e --perf`). */
  readonly nodeArgs?: readonly string[]
  /** More environment for the mosaic process (its options). */
  readonly env?: Readonly<Record<string, string>>
}

const REPO = fileURLToPath(new URL('..', import.meta.url))
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'

export type NodeHandle = {
  readonly name: NodeName
  readonly url: string
  /** Root of the process tree measured. */
  readonly pid: number
  /** The node's log file, if it has one of ours. */
  readonly log: string | undefined
  /** mosaic's DATA_DIR. */
  readonly dataDir?: string
  stop(): Promise<void>
}

/** What looked wrong (time-outs, refusals, node log lines), printed at the end. */
export const problems: string[] = []

/** Every child started, killed on any exit of this process. */
const children = new Set<ChildProcess>()
/** The mosaic nodes' temporary directories, removed on any exit. */
const tempDirs = new Set<string>()
process.on('exit', () => {
  for (const child of children) {
    child.stdin?.destroy() // anvil's watchdog stops anvil at EOF
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping`)
    process.exit(130)
  })
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function startAnvilNode({ chainId, gasLimit }: NodeOptions): Promise<NodeHandle> {
  const anvil = await startAnvil(['--block-time', '0.25', '--chain-id', String(chainId), '--gas-limit', String(gasLimit)])
  children.add(anvil.process)
  return {
    name: 'anvil',
    url: anvil.url,
    // The watchdog shell; anvil is its child, and the tree holds both (the shell only waits).
    pid: anvil.process.pid!,
    log: undefined,
    async stop() {
      await anvil.stop()
      children.delete(anvil.process)
    },
  }
}

export function tail(path: string | undefined, lines = 30): string {
  if (path === undefined) return ''
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/**
 * mosaic as `npm ci` leaves it, compiled (`npm run build`): after an edit `bin/mosaic.mjs` would run
 * the sources through tsx, ~30 MB more resident per thread, so the figures would not be the node's.
 */
async function ensureCompiled(): Promise<void> {
  if (buildIsFresh()) return
  const modules = (await buildDist()) as number
  console.log(`compiled ${modules} modules to dist/ (the sources changed since the last build)`)
}

export async function startMosaicNode(mode: 'sequencer' | 'devnet', { chainId: CHAIN_ID, gasLimit, profile, nodeArgs = [], env: extra = {} }: NodeOptions): Promise<NodeHandle> {
  await ensureCompiled()
  const dir = mkdtempSync(join(tmpdir(), `mosaic-e2e-${mode}-`))
  tempDirs.add(dir)
  const port = await freePort()
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATA_DIR: join(dir, 'data'),
    RPC_HOST: '127.0.0.1',
    RPC_PORT: String(port),
    BLOCK_TIME_MS: '250',
    BLOCK_GAS_LIMIT: String(gasLimit),
    ...extra,
  }
  if (mode === 'sequencer') {
    const genesis = {
      config: { chainId: Number(CHAIN_ID) },
      gasLimit: `0x${gasLimit.toString(16)}`,
      alloc: Object.fromEntries(deriveDevAccounts().map((a) => [a.address, { balance: `0x${DEV_ACCOUNT_BALANCE.toString(16)}` }])),
    }
    env.GENESIS_FILE = join(dir, 'genesis.json')
    env.FEE_RECIPIENT = FEE_RECIPIENT
    writeFileSync(env.GENESIS_FILE, JSON.stringify(genesis, null, 2))
  }
  const profileArgs: string[] = []
  if (profile !== undefined) {
    const profileDir = join(profile, mode)
    mkdirSync(profileDir, { recursive: true })
    profileArgs.push('--cpu-prof', '--cpu-prof-dir', profileDir)
  }
  const log = join(dir, 'node.log')
  const fd = openSync(log, 'w')
  const child = spawn(process.execPath, [...profileArgs, ...nodeArgs, 'bin/mosaic.mjs', mode], { cwd: REPO, env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const probe = new RpcClient(url, 1)
  const begun = Date.now()
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mosaic ${mode} exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`)
      try {
        if (BigInt(await probe.call<string>('eth_chainId')) === CHAIN_ID) break
        throw new Error(`mosaic ${mode} is not on chain ${CHAIN_ID}`)
      } catch (error) {
        if ((error as Error).message.includes('not on chain')) throw error
      }
      if (Date.now() - begun > 90_000) throw new Error(`mosaic ${mode} did not answer eth_chainId in 90 s:\n${tail(log)}`)
      await sleep(100)
    }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  } finally {
    probe.close()
  }
  return {
    name: mode,
    url,
    pid: child.pid!,
    log,
    dataDir: env.DATA_DIR!,
    async stop() {
      // SIGINT: mosaic shuts down cleanly (and node writes --cpu-prof profiles on the way out).
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
      const killed = await Promise.race([exited.then(() => false), sleep(60_000).then(() => true)])
      if (killed) {
        console.log(`  mosaic ${mode} did not stop within 60 s of SIGINT: killed`)
        child.kill('SIGKILL')
        await exited
      }
      children.delete(child)
      // What the node said that looks like trouble goes into the summary.
      const suspicious = readFileSync(log, 'utf8').split('\n').filter((line) => /error|fail|warn|refus|stall|timeout|timed out/i.test(line.replaceAll(/\b0 failed/g, '')))
      if (suspicious.length > 0) problems.push(`mosaic ${mode} log: ${suspicious.length} lines like:\n    ${suspicious.slice(0, 5).join('\n    ')}`)
      if (child.exitCode !== 0) problems.push(`mosaic ${mode} exited with ${child.exitCode ?? child.signalCode}`)
      rmSync(dir, { recursive: true, force: true })
      tempDirs.delete(dir)
    },
  }
}

