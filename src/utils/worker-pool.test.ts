import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startNativeWorkerPool, withoutTsxPreload, workerExecArgv } from './worker-pool.ts'

const ECRECOVER_WORKER = new URL('../execution/ecrecover-worker.mjs', import.meta.url).href
const workerData = { requestBytes: 97, answerBytes: 65 }
const THROWING_WORKER = new URL('../../test/fixtures/throwing-worker.mjs', import.meta.url).href

/** The names of this process's threads, as `top -H` and `ps -L` show them. */
function threadNames(): string[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()]
    } catch {
      return [] // exited meanwhile
    }
  })
}

describe('native worker pools (startNativeWorkerPool)', () => {
  it('behavior: closed right after it starts, a pool waits until every thread has loaded its module, then stops them', async () => {
    const workers = startNativeWorkerPool({ filename: ECRECOVER_WORKER, threads: 2, workerData, label: 'test pool' })
    let loaded = false
    void workers.started.then(() => (loaded = true))
    assert.equal(loaded, false, 'no thread can have loaded libsecp256k1 in the same turn')
    await workers.close()
    assert.equal(loaded, true, 'close() returned before every thread had loaded')
    assert.equal(workers.pool.threads.length, 0, 'threads left running after close()')
  })

  it('behavior: a thread that throws between tasks is logged under the pool\'s label and replaced; the process and the pool go on', async (t) => {
    const errors = t.mock.method(console, 'error', () => {})
    const workers = startNativeWorkerPool({ filename: THROWING_WORKER, threads: 1, label: 'throwing pool', atomics: 'async' })
    // piscina's threads do not keep this thread's event loop alive while it waits for the replacement.
    const keepAlive = setInterval(() => {}, 1000)
    try {
      await workers.started
      const [first] = workers.pool.threads.map((thread) => thread.threadId)
      // Without a listener on the pool's 'error' event, piscina's emit would throw here and end the process.
      // (Not events.once: it would reject on the very 'error' event under test.)
      const replaced = new Promise((resolve) => workers.pool.once('workerCreate', resolve))
      assert.equal(await workers.pool.run(null, { name: 'throwLater' }), true)
      await replaced
      assert.equal(errors.mock.callCount(), 1)
      assert.match(String(errors.mock.calls[0]!.arguments[0]), /^throwing pool: a worker thread failed between tasks/)
      assert.match(String(errors.mock.calls[0]!.arguments[1]), /thrown between tasks/)
      assert.equal(await workers.pool.run(7, { name: 'echo' }), 7, 'the replacement thread answers')
      assert.notEqual(workers.pool.threads[0]!.threadId, first)
    } finally {
      clearInterval(keepAlive)
      await workers.close()
    }
  })

  it('behavior: a task under way when the pool closes finishes with its answer', async () => {
    const workers = startNativeWorkerPool({ filename: ECRECOVER_WORKER, threads: 1, workerData, label: 'test pool' })
    await workers.started
    // 400 requests of zeros: each names no key, so each is answered 0 ‖ 64 zero bytes.
    const answer = workers.pool.run(new Uint8Array(400 * 97), { name: 'recoverKeys' }) as Promise<Uint8Array>
    await workers.close()
    assert.equal((await answer).length, 400 * 65)
  })

  it('withoutTsxPreload drops the flags that preload tsx, in either spelling, and keeps every other flag', () => {
    assert.deepEqual(withoutTsxPreload(['--import', 'tsx', '--max-old-space-size=100']), ['--max-old-space-size=100'])
    assert.deepEqual(withoutTsxPreload(['--import=tsx/esm', '--require', 'tsx/cjs', '-r', 'tsx', '--loader=tsx', '--enable-source-maps']), ['--enable-source-maps'])
    // Other preloads stay, and so does a flag cut short at the end.
    assert.deepEqual(withoutTsxPreload(['--import', './setup.mjs', '--require=tsxlike', '--import']), ['--import', './setup.mjs', '--require=tsxlike', '--import'])
  })

  it('workerExecArgv leaves flags without a tsx preload to Node, and without the preload drops those a worker refuses', () => {
    // Nothing to drop: the thread inherits the process's flags, V8's included (Node accepts them so).
    assert.equal(workerExecArgv(['--max-old-space-size=300', '--perf-basic-prof', '--enable-source-maps']), undefined)
    // Named, V8's flags and the process-wide ones make `new Worker` throw: they go with the preload.
    assert.deepEqual(workerExecArgv(['--import', 'tsx', '--max-old-space-size=300', '--perf-basic-prof', '--title=x', '--enable-source-maps', '--no-warnings']), ['--enable-source-maps', '--no-warnings'])
  })

  it('behavior: a pool starts in a process run with --import tsx and V8 flags, its threads with the flags a worker takes', () => {
    // bench:e2e -- --perf starts the node with --perf-basic-prof; named in a worker's execArgv, it
    // made the node exit at start (ERR_WORKER_INVALID_EXEC_ARGV).
    const script = `import { startNativeWorkerPool } from ${JSON.stringify(new URL('./worker-pool.ts', import.meta.url).href)}
const workers = startNativeWorkerPool({ filename: ${JSON.stringify(THROWING_WORKER)}, threads: 1, label: 'flags pool' })
console.log(JSON.stringify(await workers.pool.run(null, { name: 'execArgv' })))
await workers.close()`
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-flags-'))
    const file = join(dir, 'pool.mjs')
    writeFileSync(file, script)
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--max-old-space-size=300', '--max-semi-space-size=8', '--enable-source-maps', file], { encoding: 'utf8', timeout: 30_000 })
    rmSync(dir, { recursive: true, force: true })
    assert.equal(child.status, 0, child.stderr)
    assert.deepEqual(JSON.parse(child.stdout.trim()), ['--enable-source-maps'])
  })

  it('behavior: a pool\'s threads start without this process\'s tsx preload, with its other flags', async () => {
    // The test runner starts this process with `--import tsx` (scripts/run-tests.mjs); without
    // it this test would show nothing.
    assert.ok(process.execArgv.includes('tsx'), `this process's flags: ${process.execArgv.join(' ')}`)
    const workers = startNativeWorkerPool({ filename: THROWING_WORKER, threads: 1, label: 'flags pool' })
    try {
      const flags = (await workers.pool.run(null, { name: 'execArgv' })) as string[]
      assert.deepEqual(flags, workerExecArgv())
      assert.ok(!flags.includes('tsx'), `a worker's flags: ${flags.join(' ')}`)
    } finally {
      await workers.close()
    }
  })

  it('behavior: a worker names its thread for the operating system (Linux), so top -H and bench:e2e tell the threads apart', { skip: existsSync('/proc/thread-self/comm') ? false : 'no /proc/thread-self (not Linux)' }, async () => {
    // Negative control: before the pool starts, no thread of this process bears the name.
    assert.equal(threadNames().filter((name) => name === 'mosaic-recover').length, 0)
    const workers = startNativeWorkerPool({ filename: ECRECOVER_WORKER, threads: 2, workerData, label: 'test pool' })
    try {
      await workers.started
      assert.equal(threadNames().filter((name) => name === 'mosaic-recover').length, 2, `threads: ${threadNames().join(', ')}`)
    } finally {
      await workers.close()
    }
  })
})
