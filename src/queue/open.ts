/**
 * The queue backend for this node: BullMQ on Redis when a Redis URL is configured (`REDIS_URL`),
 * in-process queues otherwise — MISSION.md, "Queues and scale-out": without `REDIS_URL` a single
 * machine needs nothing but Node.
 */
import { createMemoryQueues } from './memory.ts'
import type { QueueBackend } from './queue.ts'

export type OpenQueuesParameters = {
  /** Redis to share the queues through; absent means in-process queues. */
  readonly redisUrl?: string
  /** Prefix of the Redis keys (Redis only). */
  readonly prefix?: string
}

export async function openQueues(parameters: OpenQueuesParameters = {}): Promise<QueueBackend> {
  const { redisUrl, prefix } = parameters
  if (redisUrl === undefined || redisUrl === '') return createMemoryQueues()
  // Loaded only here: BullMQ and ioredis hold ~7 MB of heap in every process that imports them,
  // which a node on embedded defaults never uses.
  const { createRedisQueues } = await import('./redis.ts')
  return createRedisQueues(redisUrl, prefix === undefined ? {} : { prefix })
}
