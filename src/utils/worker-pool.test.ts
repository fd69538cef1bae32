import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { threadNames } from '../../test/thread-names.ts'
import { startNativeWorkerPool } from './worker-pool.ts'

/** A worker that loads libsecp256k1, as the parallel executor's do (`test/fixtures`). */
const ADDON_WORKER = new URL('../../test/fixtures/native-addon-worker.mjs', import.meta.url).href

describe('native worker pools (startNativeWorkerPool)', () => {
  it('behavior: closed right after it starts, a pool waits until every thread has loaded its module, then stops them', async () => {
    const workers = startNativeWorkerPool({ filename: ADDON_WORKER, threads: 2 })
    let loaded = false
    void workers.started.then(() => (loaded = true))
    assert.equal(loaded, false, 'no thread can have loaded libsecp256k1 in the same turn')
    await workers.close()
    assert.equal(loaded, true, 'close() returned before every thread had loaded')
    assert.equal(workers.pool.threads.length, 0, 'threads left running after close()')
  })

  it('behavior: a task under way when the pool closes finishes with its answer', async () => {
    const workers = startNativeWorkerPool({ filename: ADDON_WORKER, threads: 1 })
    await workers.started
    // 4,000 keys of zeros: none is a curve point, so each is answered 0.
    const answer = workers.pool.run(new Uint8Array(4000 * 33), { name: 'verifyKeys' }) as Promise<Uint8Array>
    await workers.close()
    assert.deepEqual(await answer, new Uint8Array(4000))
  })

  it('behavior: a worker names its thread for the operating system (Linux), so top -H and bench:e2e tell the threads apart', { skip: existsSync('/proc/thread-self/comm') ? false : 'no /proc/thread-self (not Linux)' }, async () => {
    // Negative control: before the pool starts, no thread of this process bears the name.
    assert.equal(threadNames().filter((name) => name === 'mosaic-addon').length, 0)
    const workers = startNativeWorkerPool({ filename: ADDON_WORKER, threads: 2 })
    try {
      await workers.started
      assert.equal(threadNames().filter((name) => name === 'mosaic-addon').length, 2, `threads: ${threadNames().join(', ')}`)
    } finally {
      await workers.close()
    }
  })
})
