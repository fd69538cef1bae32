import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { threadNames } from '../../test/thread-names.ts'
import { startNativeThreads } from './native-threads.ts'

const ECRECOVER_WORKER = new URL('../execution/ecrecover-worker.mjs', import.meta.url)
const ecrecoverData = { requestBytes: 97, answerBytes: 65 }
/** Echoes a request; a first byte of 1 fails it, 2 kills the thread (`test/fixtures`). */
const ECHO_WORKER = new URL('../../test/fixtures/echo-worker.mjs', import.meta.url)
const FAILING_WORKER = new URL('../../test/fixtures/failing-worker.mjs', import.meta.url)

const onLinux = existsSync('/proc/thread-self/comm') ? false : 'no /proc/thread-self (not Linux)'
const named = (name: string) => threadNames().filter((n) => n === name).length

describe('native threads (startNativeThreads)', () => {
  it('behavior: closed right after they start, the threads are waited for until loaded, then stop by themselves', async () => {
    const threads = startNativeThreads({ filename: ECRECOVER_WORKER, threads: 2, workerData: ecrecoverData })
    let loaded = false
    void threads.started.then(() => (loaded = true))
    assert.equal(loaded, false, 'no thread can have loaded libsecp256k1 in the same turn')
    await threads.close()
    assert.equal(loaded, true, 'close() returned before every thread had loaded')
    if (onLinux === false) assert.equal(named('mosaic-recover'), 0, `threads left running after close(): ${threadNames().join(', ')}`)
  })

  it('behavior: a request under way when the threads close is answered', async () => {
    const threads = startNativeThreads({ filename: ECRECOVER_WORKER, threads: 1, workerData: ecrecoverData })
    await threads.started
    // 400 requests of zeros: each names no key, so each is answered 0 ‖ 64 zero bytes.
    const answer = threads.request(0, new Uint8Array(400 * 97))
    await threads.close()
    assert.deepEqual(await answer, new Uint8Array(400 * 65))
    await assert.rejects(threads.request(0, new Uint8Array(97)), /closed/)
  })

  it('behavior: each thread answers its requests in order, and a request spread over threads reaches the one it names', async () => {
    const threads = startNativeThreads({ filename: ECHO_WORKER, threads: 2 })
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => threads.request(i, Uint8Array.of(0, i, i % 2))))
      answers.forEach((answer, i) => assert.deepEqual(answer, Uint8Array.of(0, i, i % 2)))
    } finally {
      await threads.close()
    }
  })

  it('behavior: a request the thread fails is rejected with the reason, and the thread goes on', async () => {
    const threads = startNativeThreads({ filename: ECHO_WORKER, threads: 1 })
    try {
      const [failed, after] = await Promise.allSettled([threads.request(0, Uint8Array.of(1)), threads.request(0, Uint8Array.of(0, 9))])
      assert.equal(failed.status, 'rejected')
      assert.match(String((failed as PromiseRejectedResult).reason), /asked to fail/)
      assert.deepEqual((after as PromiseFulfilledResult<Uint8Array>).value, Uint8Array.of(0, 9))
    } finally {
      await threads.close()
    }
  })

  it('behavior: a thread that dies fails the requests it held, and another takes its place', async () => {
    const threads = startNativeThreads({ filename: ECHO_WORKER, threads: 1 })
    const errors: unknown[] = []
    const logged = console.error
    console.error = (...args: unknown[]) => errors.push(args.join(' '))
    try {
      await threads.started
      await assert.rejects(threads.request(0, Uint8Array.of(2)), /exited with code 7/)
      assert.match(String(errors[0]), /died .*starting another/)
      // Negative control of the replacement: the dead thread would never answer this.
      assert.deepEqual(await threads.request(0, Uint8Array.of(0, 5)), Uint8Array.of(0, 5))
    } finally {
      console.error = logged
      await threads.close()
    }
  })

  it('behavior: a module that fails to load fails the start and every request, with the reason', async () => {
    const threads = startNativeThreads({ filename: FAILING_WORKER, threads: 1 })
    await assert.rejects(threads.started, /failed to load .*this module does not load/)
    await assert.rejects(threads.request(0, new Uint8Array(1)), /this module does not load/)
    await threads.close()
  })

  it('behavior: a worker names its thread for the operating system (Linux), so top -H and bench:e2e tell the threads apart', { skip: onLinux }, async () => {
    // Negative control: before the threads start, no thread of this process bears the name.
    assert.equal(named('mosaic-recover'), 0)
    const threads = startNativeThreads({ filename: ECRECOVER_WORKER, threads: 2, workerData: ecrecoverData })
    try {
      await threads.started
      assert.equal(named('mosaic-recover'), 2, `threads: ${threadNames().join(', ')}`)
    } finally {
      await threads.close()
    }
  })
})
