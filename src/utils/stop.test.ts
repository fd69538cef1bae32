import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { STOPPED, stopperOf } from './stop.ts'

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** The heap growth, after a full collection, of `waits` waits made in turn while `stop` stays pending. */
async function heapGrowth(waits: number, wait: (i: number) => Promise<unknown>): Promise<number> {
  collectGarbage()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < waits; i++) await wait(i)
  collectGarbage()
  return process.memoryUsage().heapUsed - before
}

describe('stopperOf: waits that give way to a stop', () => {
  it('until answers with the work, or STOPPED once the stop comes first; sleep ends early on the stop', async () => {
    const stop = deferred()
    const stopper = stopperOf(stop.promise)
    assert.equal(await stopper.until(Promise.resolve(7)), 7)
    await assert.rejects(stopper.until(Promise.reject(new Error('its own'))), /its own/)
    const never = new Promise<number>(() => {})
    const cut = stopper.until(never)
    const sleeping = stopper.sleep(60_000)
    const started = performance.now()
    stop.resolve()
    await assert.rejects(cut, (error) => error === STOPPED)
    await sleeping
    assert.ok(performance.now() - started < 1_000, 'the sleep ended with the stop')
    assert.equal(stopper.signal.aborted, true)
    // After the stop, a wait is cut at once, and a sleep does not wait.
    await assert.rejects(stopper.until(never), (error) => error === STOPPED)
    await stopper.sleep(60_000)
    // Without a stop, nothing is cut.
    assert.equal(await stopperOf(undefined).until(Promise.resolve(1)), 1)
  })

  it('waits made in turn while the stop stays pending leave nothing on it (Promise.race with it does: the negative control)', async () => {
    const stop = new Promise<void>(() => {})
    const stopper = stopperOf(stop)
    const waits = 100_000
    const raced = await heapGrowth(waits, (i) => Promise.race([Promise.resolve(i), stop]))
    const ours = await heapGrowth(waits, (i) => stopper.until(Promise.resolve(i)))
    const slept = await heapGrowth(2_000, () => stopper.sleep(0))
    assert.ok(raced > 15e6, `Promise.race kept ${(raced / 1e6).toFixed(1)} MB`)
    assert.ok(ours < 2e6, `until kept ${(ours / 1e6).toFixed(1)} MB over ${waits} waits`)
    assert.ok(slept < 1e6, `sleep kept ${(slept / 1e6).toFixed(1)} MB`)
  })
})
