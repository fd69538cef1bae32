/**
 * One suite for every `QueueBackend` (the hono `common.case.test.ts` pattern): the semantics
 * `queue.ts` promises, run on the in-process queues and on BullMQ over a real Redis
 * (`test/redis.ts`: REDIS_URL, or a redis-server of its own; skipped with a notice when there is
 * none, except on CI).
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, afterEach, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { redisForTests } from '../../test/redis.ts'
import { createMemoryQueues } from './memory.ts'
import { type JobEvent, type QueueBackend, UnrecoverableJobError } from './queue.ts'
import { createRedisQueues } from './redis.ts'

type Target = {
  /** A new backend; on Redis each is its own connection to the same Redis and prefix. */
  open(): Promise<QueueBackend>
  /** Whether two backends share jobs (Redis) or only queue objects of one backend do (memory). */
  readonly sharedAcrossBackends: boolean
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

function queueCases(target: Target): void {
  const opened: QueueBackend[] = []
  let queueCount = 0
  /** A queue name no other test uses, so that nothing leaks between tests on one Redis. */
  const uniqueName = () => `q${++queueCount}-${randomUUID().slice(0, 8)}`
  const open = async () => {
    const backend = await target.open()
    opened.push(backend)
    return backend
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()))
  })

  it('default: jobs start in the order they were added, one at a time with concurrency 1', async () => {
    const q = (await open()).queue<number>(uniqueName())
    for (let i = 0; i < 8; i++) assert.equal(await q.add(`j${i}`, i), true)
    const seen: number[] = []
    let active = 0
    let maxActive = 0
    q.process(async (job) => {
      maxActive = Math.max(maxActive, ++active)
      seen.push(job.data)
      await sleep(2)
      active--
    })
    await q.drained(5000)
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7])
    assert.equal(maxActive, 1)
  })

  it('behavior: adding a taken id resolves false, changes nothing, and the job runs once', async () => {
    const q = (await open()).queue<string>(uniqueName())
    assert.equal(await q.add('d', 'first'), true)
    assert.equal(await q.add('d', 'second'), false)
    const seen: string[] = []
    q.process(async (job) => {
      seen.push(job.data)
    })
    await q.drained(5000)
    assert.deepEqual(seen, ['first'])
    // Completed and kept (the default): still taken.
    assert.equal(await q.add('d', 'third'), false)
    await sleep(30)
    assert.deepEqual(seen, ['first'])
    assert.equal((await q.counts()).completed, 1)
  })

  it('behavior: of simultaneous adds of one id from two producers exactly one resolves true', async () => {
    const name = uniqueName()
    const first = await open()
    const second = target.sharedAcrossBackends ? await open() : first
    const producers = [first.queue<number>(name), second.queue<number>(name)]
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => producers[i % 2]!.add('same', i)))
    assert.equal(results.filter((added) => added).length, 1)
    assert.equal((await producers[0]!.counts()).waiting, 1)
  })

  it('behavior: a throwing handler is retried after an exponential backoff until it succeeds', async () => {
    const q = (await open()).queue<string, string>(uniqueName(), { attempts: 5, backoffMs: 20 })
    await q.add('r', 'x')
    const attempts: number[] = []
    const startedAt: number[] = []
    const events: JobEvent<string, string>[] = []
    q.process(
      async (job) => {
        attempts.push(job.attempt)
        startedAt.push(Date.now())
        if (job.attempt < 3) throw new Error(`try ${job.attempt}`)
        return 'ok'
      },
      { onEvent: (event) => events.push(event) },
    )
    await waitUntil(() => events.some((e) => e.type === 'completed'), 'the completed event')
    assert.deepEqual(attempts, [1, 2, 3])
    assert.deepEqual(
      events.map((e) => ({ type: e.type, attempt: e.job.attempt, detail: e.type === 'retrying' ? [e.reason, e.delayMs] : e.type === 'completed' ? e.result : e.reason })),
      [
        { type: 'retrying', attempt: 1, detail: ['try 1', 20] },
        { type: 'retrying', attempt: 2, detail: ['try 2', 40] },
        { type: 'completed', attempt: 3, detail: 'ok' },
      ],
    )
    // Each retry waited at least its backoff (20, then 40 ms); no upper bound, timers are loose.
    const gaps = [startedAt[1]! - startedAt[0]!, startedAt[2]! - startedAt[1]!]
    assert.ok(gaps[0]! >= 18 && gaps[1]! >= 38, `gaps ${gaps}`)
  })

  it('behavior: a retried job rejoins the queue behind the jobs already waiting', async () => {
    const q = (await open()).queue<string>(uniqueName(), { attempts: 2, backoffMs: 20 })
    for (const id of ['a', 'b', 'c']) await q.add(id, id)
    const seen: string[] = []
    q.process(async (job) => {
      seen.push(`${job.id}${job.attempt}`)
      if (job.id === 'a' && job.attempt === 1) throw new Error('once')
      // Longer than a's backoff: a retry put at the front would start before c.
      if (job.id === 'b') await sleep(50)
    })
    await q.drained(5000)
    assert.deepEqual(seen, ['a1', 'b1', 'c1', 'a2'])
  })

  it('behavior: a job that fails every attempt is failed and kept with its reason; per-job options win', async () => {
    const q = (await open()).queue<{ n: number }>(uniqueName(), { attempts: 5, backoffMs: 1000 })
    await q.add('f', { n: 1 }, { attempts: 2, backoffMs: 10 })
    let calls = 0
    const events: JobEvent<{ n: number }, unknown>[] = []
    q.process(
      async () => {
        calls++
        throw new Error('boom')
      },
      { onEvent: (event) => events.push(event) },
    )
    await waitUntil(() => events.some((e) => e.type === 'failed'), 'the failed event')
    await q.drained(5000)
    assert.equal(calls, 2)
    assert.deepEqual(
      events.map((e) => [e.type, e.job.attempt]),
      [
        ['retrying', 1],
        ['failed', 2],
      ],
    )
    const failed = await q.failed()
    assert.equal(failed.length, 1)
    const [job] = failed
    assert.deepEqual({ ...job, finishedAt: 0 }, { id: 'f', data: { n: 1 }, reason: 'boom', attempts: 2, finishedAt: 0 })
    assert.ok(job!.finishedAt > 0)
    const counts = await q.counts()
    assert.deepEqual(counts, { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 1 })
    assert.equal(await q.add('f', { n: 2 }), false, 'a failed job keeps its id')
  })

  it('behavior: UnrecoverableJobError fails the job at once', async () => {
    const q = (await open()).queue<string>(uniqueName(), { attempts: 5, backoffMs: 10 })
    await q.add('u', 'x')
    let calls = 0
    const events: JobEvent<string, unknown>[] = []
    q.process(
      async () => {
        calls++
        throw new UnrecoverableJobError('can never succeed')
      },
      { onEvent: (event) => events.push(event) },
    )
    await waitUntil(() => events.length > 0, 'an event')
    await q.drained(5000)
    await sleep(50) // room for a wrong retry to happen
    assert.equal(calls, 1)
    assert.deepEqual(events.map((e) => e.type), ['failed'])
    const failed = await q.failed()
    assert.deepEqual(
      failed.map((f) => [f.id, f.reason, f.attempts]),
      [['u', 'can never succeed', 1]],
    )
  })

  it('behavior: with keepCompleted (the default) a completed id stays taken', async () => {
    const q = (await open()).queue<number>(uniqueName())
    await q.add('k', 1)
    q.process(async (job) => job.data)
    await q.drained(5000)
    assert.equal(await q.add('k', 2), false)
    assert.equal((await q.counts()).completed, 1)
    assert.equal((await q.completed()).length, 1)
  })

  it('behavior: with keepCompleted N only the N most recent completed jobs are kept, and the ids of older ones are free again', async () => {
    const q = (await open()).queue<number, number>(uniqueName(), { keepCompleted: 3 })
    q.process(async (job) => job.data * 10)
    // One at a time, so that the order they complete in is the order they were added in.
    for (let i = 1; i <= 5; i++) {
      await q.add(`j${i}`, i)
      await q.drained(5000)
    }
    assert.equal((await q.counts()).completed, 3)
    assert.deepEqual(
      (await q.completed()).map((c) => [c.id, c.result]),
      [['j5', 50], ['j4', 40], ['j3', 30]],
    )
    assert.equal(await q.add('j3', 3), false, 'a kept id stays taken')
    assert.equal(await q.add('j1', 1), true, 'a dropped id is free')
    await q.drained(5000)
  })

  it('behavior: keepCompleted and keepFailed must be a boolean or a non-negative integer', async () => {
    const backend = await open()
    assert.throws(() => backend.queue(uniqueName(), { keepCompleted: -1 }), { code: 'INVALID_PARAMS', message: /keepCompleted/ })
    assert.throws(() => backend.queue(uniqueName(), { keepCompleted: 1.5 }), { code: 'INVALID_PARAMS', message: /keepCompleted/ })
    assert.throws(() => backend.queue(uniqueName(), { keepFailed: -1 }), { code: 'INVALID_PARAMS', message: /keepFailed/ })
    assert.throws(() => backend.queue(uniqueName(), { keepFailed: Number.NaN }), { code: 'INVALID_PARAMS', message: /keepFailed/ })
  })

  it('behavior: with keepFailed N only the N most recent failed jobs are kept, and the ids of older ones are free again', async () => {
    const q = (await open()).queue<number>(uniqueName(), { keepFailed: 2 })
    q.process(async (job) => {
      throw new UnrecoverableJobError(`no ${job.data}`)
    })
    // One at a time, so that the order they fail in is the order they were added in.
    for (let i = 1; i <= 4; i++) {
      await q.add(`f${i}`, i)
      await q.drained(5000)
    }
    assert.equal((await q.counts()).failed, 2)
    assert.deepEqual(
      (await q.failed()).map((f) => [f.id, f.reason]),
      [['f4', 'no 4'], ['f3', 'no 3']],
    )
    assert.equal(await q.add('f3', 3), false, 'a kept id stays taken')
    assert.equal(await q.add('f1', 1), true, 'a dropped id is free')
    await q.drained(5000)
  })

  it('behavior: with keepFailed false a failed id is free again', async () => {
    const q = (await open()).queue<number>(uniqueName(), { keepFailed: false })
    const seen: number[] = []
    q.process(async (job) => {
      seen.push(job.data)
      throw new UnrecoverableJobError('no')
    })
    assert.equal(await q.add('k', 1), true)
    await waitUntil(() => seen.length === 1, 'the first run')
    await q.drained(5000)
    assert.equal((await q.counts()).failed, 0)
    assert.deepEqual(await q.failed(), [])
    assert.equal(await q.add('k', 2), true)
    await waitUntil(() => seen.length === 2, 'the second run')
    await q.drained(5000)
  })

  it('behavior: with keepCompleted false a completed id is free again', async () => {
    const q = (await open()).queue<number>(uniqueName(), { keepCompleted: false })
    const seen: number[] = []
    q.process(async (job) => {
      seen.push(job.data)
    })
    assert.equal(await q.add('k', 1), true)
    await waitUntil(() => seen.length === 1, 'the first run')
    await q.drained(5000)
    assert.equal((await q.counts()).completed, 0)
    assert.deepEqual(await q.completed(), [])
    assert.equal(await q.add('k', 2), true)
    await waitUntil(() => seen.length === 2, 'the second run')
    assert.deepEqual(seen, [1, 2])
  })

  it('behavior: completed() returns the results, most recent first', async () => {
    const q = (await open()).queue<number, number>(uniqueName())
    for (const n of [1, 2, 3]) await q.add(`c${n}`, n)
    q.process(async (job) => job.data * 10)
    await q.drained(5000)
    const completed = await q.completed()
    assert.deepEqual(
      completed.map((c) => [c.id, c.data, c.result]),
      [
        ['c3', 3, 30],
        ['c2', 2, 20],
        ['c1', 1, 10],
      ],
    )
    assert.ok(completed.every((c) => c.finishedAt > 0))
    assert.deepEqual((await q.completed(2)).map((c) => c.id), ['c3', 'c2'])
  })

  it('behavior: two consumers of one queue name share the jobs, each job handled exactly once', async () => {
    const name = uniqueName()
    const first = await open()
    const second = target.sharedAcrossBackends ? await open() : first
    const q1 = first.queue<number>(name)
    const q2 = second.queue<number>(name)
    const jobs = 20
    for (let i = 0; i < jobs; i++) await q1.add(`s${i}`, i)
    const handled = new Map<string, number>()
    const handler = async (job: { id: string }) => {
      handled.set(job.id, (handled.get(job.id) ?? 0) + 1)
      await sleep(5)
    }
    q1.process(handler, { concurrency: 2 })
    q2.process(handler, { concurrency: 2 })
    await waitUntil(() => handled.size === jobs, 'every job handled')
    await q1.drained(5000)
    await sleep(30) // room for a second run of some job to show
    assert.equal(handled.size, jobs)
    assert.deepEqual([...handled.values()], Array(jobs).fill(1))
  })

  it('behavior: close() waits for the running handler', async () => {
    const backend = await open()
    const name = uniqueName()
    const q = backend.queue<string>(name)
    await q.add('slow', 'x')
    let started = false
    let finished = false
    q.process(async () => {
      started = true
      await sleep(100)
      finished = true
    })
    await waitUntil(() => started, 'the handler to start')
    await q.close()
    assert.equal(finished, true)
    assert.deepEqual(await backend.queue(name).counts(), { waiting: 0, active: 0, delayed: 0, completed: 1, failed: 0 })
  })

  it('behavior: a job added while nothing processes waits and is picked up once process() starts', async () => {
    const backend = await open()
    const name = uniqueName()
    const producer = backend.queue<string>(name)
    await producer.add('a', 'a')
    await producer.add('b', 'b')
    await sleep(30)
    assert.deepEqual(await producer.counts(), { waiting: 2, active: 0, delayed: 0, completed: 0, failed: 0 })
    const seen: string[] = []
    const consumer = backend.queue<string>(name)
    consumer.process(async (job) => {
      seen.push(job.data)
    })
    await consumer.drained(5000)
    assert.deepEqual(seen, ['a', 'b'])
  })

  it('behavior: drained() rejects after its timeout while jobs wait', async () => {
    const q = (await open()).queue<string>(uniqueName())
    await q.add('w', 'x')
    await assert.rejects(q.drained(50), { code: 'LIMIT_EXCEEDED' })
  })

  if (target.sharedAcrossBackends) {
    it('behavior: jobs outlive the backend that added them', async () => {
      const name = uniqueName()
      const producer = await target.open()
      for (const id of ['x', 'y', 'z']) await producer.queue<string>(name).add(id, id)
      await producer.close()
      const q = (await open()).queue<string>(name)
      const seen: string[] = []
      q.process(async (job) => {
        seen.push(job.id)
      })
      await q.drained(5000)
      assert.deepEqual(seen, ['x', 'y', 'z'])
    })
  }
}

describe('queue: memory', () => {
  queueCases({ open: async () => createMemoryQueues(), sharedAcrossBackends: false })
})

const redis = await redisForTests().catch((error: unknown) => ({ error }))
const notice = 'skip' in redis ? redis.skip : undefined

describe('queue: redis', notice === undefined ? {} : { skip: notice }, () => {
  if ('skip' in redis) return
  if ('error' in redis) {
    it('has a Redis to test against', () => {
      throw redis.error
    })
    return
  }
  // One prefix for the run, so that its keys are told apart from anything else on a shared Redis
  // and removed afterwards.
  const prefix = `mosaic-test-${randomUUID().slice(0, 8)}`
  queueCases({ open: () => createRedisQueues(redis.url, { prefix }), sharedAcrossBackends: true })
  after(async () => {
    const client = new Redis(redis.url)
    try {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
        if (keys.length > 0) await client.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    } finally {
      client.disconnect()
      await redis.stop()
    }
  })
})
