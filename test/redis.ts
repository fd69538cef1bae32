/**
 * A Redis for the tests of the Redis queues: `REDIS_URL` when it is set, otherwise a
 * `redis-server` of our own on a free port on 127.0.0.1 — no persistence, a temp dir — stopped
 * afterwards. Without a redis-server binary the Redis tests are skipped with a notice, except
 * on CI (`CI=true`), where a missing Redis must fail the run rather than pass it quietly.
 *
 * This harness speaks RESP itself (one PING) so that only `src/queue/` imports ioredis
 * (CONVENTIONS.md, habit 2).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freePort } from '../src/l1/anvil.ts'

export type TestRedis = { readonly url: string; stop(): Promise<void> }
export type RedisSkip = { readonly skip: string }

const START_TIMEOUT_MS = 10_000

/** A Redis to test against, or why there is none (never on CI: there it throws). */
export async function redisForTests(): Promise<TestRedis | RedisSkip> {
  const url = process.env.REDIS_URL
  if (url !== undefined && url !== '') return { url, stop: async () => {} }
  const binary = findRedisServer()
  if (binary === undefined) {
    const notice = 'no redis-server on PATH: apt-get install redis-server, or set REDIS_URL'
    if (process.env.CI === 'true') throw new Error(`${notice} (CI=true: the Redis tests may not be skipped)`)
    return { skip: notice }
  }
  return startRedisServer(binary)
}

function findRedisServer(): string | undefined {
  // The PATH lookup `command -v redis-server` does (as .ci/run checks).
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const path = join(dir, 'redis-server')
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

async function startRedisServer(binary: string): Promise<TestRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  // A test run that dies without stop() must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  const stop = async () => {
    process.off('exit', killOnExit)
    await stopChild(child)
    rmSync(dir, { recursive: true, force: true })
  }
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop()
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}): ${output}`)
    }
    if (await answersPing(port)) break
    if (Date.now() - started > START_TIMEOUT_MS) {
      await stop()
      throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return { url: `redis://127.0.0.1:${port}`, stop }
}

/** One RESP `PING`; true on `+PONG`. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let reply = ''
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
