/**
 * `mosaic verifier --rpc URL [--from N] [--to M] [--export DIR]` or `mosaic verifier --files DIR`:
 * verifies blocks from their witnesses alone (`verify.ts`), in order, each block's pre-state
 * root chained to the previous block's verified post-state root — a sequencer's over RPC, or
 * block bundles from files (`bundle.ts`). With `--to` (or files) it verifies the range and exits
 * (non-zero when a block failed); with `--rpc` and no `--to`, it follows the head until stopped.
 *
 * Verdicts: a log line per block, Prometheus metrics and a status server (GET /health,
 * GET /metrics, JSON-RPC `mosaic_verifierStatus`).
 */
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Common } from '@ethereumjs/common'
import { serve, type ServerType } from '@hono/node-server'
import { bytesToHex, equalsBytes } from '@ethereumjs/util'
import { Hono } from 'hono'
import { createChainCommon } from '../chain/common.ts'
import { type Layout, layoutName, layoutOf } from '../commitment/layout.ts'
import type { CommitmentMode, Config } from '../config/config.ts'
import { MosaicError } from '../errors.ts'
import { Registry } from '../metrics/registry.ts'
import { openQueues } from '../queue/open.ts'
import type { QueueBackend, QueueCounts } from '../queue/queue.ts'
import { FileSource, writeBundle } from './bundle.ts'
import { L1Verifier } from './follow-l1.ts'
import { type BlockSource, RpcSource } from './rpc-source.ts'
import { verifyBlock } from './verify.ts'

export type VerifierStatus = {
  /** The sequencer's URL or the bundle directory. */
  source: string
  verified: number
  failed: { block: string; reason: string }[]
  lastVerifiedBlock: string | null
  following: boolean
  /** Following an L1 inbox: every process's verdicts from the shared queue, and its jobs. */
  l1?: { inbox: string; verdicts: { ok: number; failed: number }; queue: QueueCounts; failedJobs: { id: string; reason: string }[]; lastError: string | null }
}

export type RunVerifierOptions = {
  readonly log: (message: string) => void
  /** Resolves when the verifier should stop following (SIGINT, tests). */
  readonly stop?: Promise<void>
  /** Called once the status server listens. */
  readonly onListening?: (url: string) => void
  /** Queues to share verification jobs through (default: REDIS_URL's, or in-process). */
  readonly queues?: QueueBackend
}

const FOLLOW_POLL_MS = 250

/** The blocks to verify and the chain they belong to. */
async function openSource(config: Config): Promise<{ source: BlockSource; name: string; common: Common; layout: Layout; from: bigint; to: bigint | undefined }> {
  if (config.verifyFiles !== undefined) {
    const files = new FileSource(config.verifyFiles)
    const common = createChainCommon({ chainId: files.chainId, hardfork: files.hardfork })
    const from = config.verifyFrom > 1 ? BigInt(config.verifyFrom) : files.first
    return { source: files, name: config.verifyFiles, common, layout: files.layout, from, to: config.verifyTo === undefined ? await files.head() : BigInt(config.verifyTo) }
  }
  const url = config.sequencerRpcUrl
  if (url === undefined) throw new MosaicError('CONFIG_INVALID', 'Missing SEQUENCER_RPC_URL (--rpc) or VERIFY_FILES (--files): what to verify')
  const probe = new RpcSource(url, createChainCommon({ chainId: 1, hardfork: config.hardfork }))
  const chainId = Number(BigInt(await probe.call<string>('eth_chainId')))
  const common = createChainCommon({ chainId, hardfork: config.hardfork })
  const source = new RpcSource(url, common)
  const status = await source.call<{ stateRoot: { mode: CommitmentMode; shardNibbles?: number } }>('mosaic_status')
  const layout = layoutOf(status.stateRoot.mode, status.stateRoot.shardNibbles ?? 3)
  return { source, name: url, common, layout, from: BigInt(config.verifyFrom), to: config.verifyTo === undefined ? undefined : BigInt(config.verifyTo) }
}

export async function runVerifier(config: Config, options: RunVerifierOptions): Promise<VerifierStatus> {
  const opened = await openSource(config)
  if (config.l1RpcUrl !== undefined) return runL1Verifier(config, options, opened)
  const { log, stop, onListening } = options
  const { source, name, common, layout, from, to } = opened
  const exportTo = config.verifyExport
  if (exportTo !== undefined) mkdirSync(exportTo, { recursive: true })

  const registry = new Registry()
  const verdicts = registry.counter('mosaic_verifier_blocks_total', 'Blocks verified, by verdict (ok or failed)')
  const lastBlock = registry.gauge('mosaic_verifier_last_verified_block', 'Last block whose verdict is in')
  const seconds = registry.histogram('mosaic_verifier_block_seconds', 'Time to verify one block from its witness', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  const result: VerifierStatus = { source: name, verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined }
  const server = await startStatusServer(config, async () => result, registry)
  onListening?.(server.url)
  log(`mosaic verifier checking ${name} (chain ${common.chainId()}, ${layoutName(layout)}) from block ${from}${to === undefined ? ', following the head' : ` to ${to}`}; status on ${server.url}`)

  let stopped = false
  void stop?.then(() => {
    stopped = true
  })
  try {
    // The first block's pre-state is taken from the sequencer; every later one is chained.
    let preStateRoot: Uint8Array | undefined = await source.stateRoot(from - 1n)
    for (let n = from; to === undefined || n <= to; n++) {
      while (!stopped && (await source.head()) < n) {
        if (to !== undefined) throw new MosaicError('NOT_FOUND', `block ${n} does not exist yet: the head is below --to ${to}`)
        await Promise.race([new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS)), ...(stop === undefined ? [] : [stop])])
      }
      if (stopped) break
      const started = performance.now()
      try {
        const item = await source.fetch(n)
        if (preStateRoot !== undefined && !equalsBytes(item.witness.preStateRoot, preStateRoot)) {
          throw new MosaicError('VERIFICATION_FAILED', `the witness starts from ${bytesToHex(item.witness.preStateRoot)}, but block ${n - 1n} ended at ${bytesToHex(preStateRoot)}`)
        }
        const verdict = await verifyBlock({ common, layout, block: item.block, witness: item.witness, postStateRoot: item.postStateRoot, delta: item.delta })
        preStateRoot = verdict.postStateRoot
        if (exportTo !== undefined) writeBundle(exportTo, item, Number(common.chainId()), common.hardfork(), layout)
        result.verified++
        verdicts.inc({ verdict: 'ok' })
        log(`block ${n} ok: ${verdict.transactions} txs, gas ${verdict.gasUsed}, root ${bytesToHex(verdict.postStateRoot)}, witness ${bytesToHex(item.witnessHash).slice(0, 18)}… (${verdict.witnessNodes} nodes) in ${(performance.now() - started).toFixed(1)} ms`)
      } catch (error) {
        const reason = error instanceof MosaicError ? error.shortMessage : (error as Error).message
        result.failed.push({ block: `0x${n.toString(16)}`, reason })
        verdicts.inc({ verdict: 'failed' })
        log(`block ${n} FAILED: ${reason}`)
        // The chain of verified roots is broken here: the next block is checked from the
        // pre-state its own witness names, so each failure is reported once.
        preStateRoot = undefined
      }
      seconds.observe((performance.now() - started) / 1000)
      lastBlock.set(Number(n))
      result.lastVerifiedBlock = `0x${n.toString(16)}`
    }
  } finally {
    await server.close()
  }
  log(`verified ${result.verified} block(s), ${result.failed.length} failed`)
  return result
}

/**
 * Following an L1 inbox (`follow-l1.ts`): scan batches into per-block jobs, verify this
 * process's share, and — with `--to` — exit once every block of the range has a verdict from
 * any process (non-zero when one failed).
 */
async function runL1Verifier(config: Config, { log, stop, onListening, queues: given }: RunVerifierOptions, opened: Awaited<ReturnType<typeof openSource>>): Promise<VerifierStatus> {
  const { source, name, common, layout } = opened
  // The range is the L1's to scan: with --files, the bundles only supply witnesses.
  const from = BigInt(config.verifyFrom)
  const to = config.verifyTo === undefined ? undefined : BigInt(config.verifyTo)
  const queues = given ?? (await openQueues(config.redisUrl === undefined ? { prefix: config.queuePrefix } : { redisUrl: config.redisUrl, prefix: config.queuePrefix }))
  const verifier = new L1Verifier({ config, source, common, layout, queues, log, from, to })
  await verifier.inbox.checkDeployed()
  const registry = new Registry()
  const verdictsTotal = registry.counter('mosaic_verifier_blocks_total', 'Blocks verified by this process, by verdict (ok or failed)')
  const seconds = registry.histogram('mosaic_verifier_block_seconds', 'Time to verify one block from its witness', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  const result: VerifierStatus = { source: name, verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined }
  const statusOf = async (): Promise<VerifierStatus> => {
    const all = [...(await verifier.verdicts()).values()]
    const failed = all.filter((v) => !v.ok)
    return {
      ...result,
      failed: failed.map((v) => ({ block: `0x${BigInt(v.block).toString(16)}`, reason: v.reason ?? '' })),
      l1: {
        inbox: verifier.inbox.address,
        verdicts: { ok: all.length - failed.length, failed: failed.length },
        queue: await verifier.queue.counts(),
        failedJobs: (await verifier.queue.failed(10)).map(({ id, reason }) => ({ id, reason })),
        lastError: verifier.lastError,
      },
    }
  }
  const server = await startStatusServer(config, statusOf, registry)
  onListening?.(server.url)
  log(`mosaic verifier ${verifier.id} following inbox ${config.inboxAddress} on ${config.l1RpcUrl} (witnesses from ${name}, ${queues.kind} queues, chain ${common.chainId()}, ${layoutName(layout)}) from block ${from}${to === undefined ? '' : ` to ${to}`}; status on ${server.url}`)
  verifier.start((verdict) => {
    verdictsTotal.inc({ verdict: verdict.ok ? 'ok' : 'failed' })
    seconds.observe(verdict.ms / 1000)
    if (verdict.ok) result.verified++
    result.lastVerifiedBlock = `0x${BigInt(verdict.block).toString(16)}`
    log(verdict.ok ? `block ${verdict.block} ok (batch ${verdict.batch}): ${verdict.transactions} txs, root ${verdict.stateRoot} matches the L1, in ${verdict.ms.toFixed(1)} ms` : `block ${verdict.block} FAILED (batch ${verdict.batch}): ${verdict.reason}`)
  })
  let stopped = false
  void stop?.then(() => {
    stopped = true
  })
  let final = result
  try {
    if (to === undefined) await stop
    else {
      for (;;) {
        if (stopped) break
        if (verifier.scheduledAll) {
          const verdicts = await verifier.verdicts()
          let complete = true
          for (let n = from; n <= to && complete; n++) complete = verdicts.has(n)
          if (complete) break
        }
        await Promise.race([new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS)), ...(stop === undefined ? [] : [stop])])
      }
    }
    final = await statusOf()
    if (to !== undefined) final = { ...final, failed: final.failed.filter((f) => BigInt(f.block) >= from && BigInt(f.block) <= to) }
  } finally {
    await verifier.stop()
    await server.close()
    if (given === undefined) await queues.close()
  }
  log(`verified ${result.verified} block(s) here; ${final.l1?.verdicts.ok ?? 0} ok and ${final.failed.length} failed in all`)
  return final
}

async function startStatusServer(config: Config, statusOf: () => Promise<VerifierStatus>, registry: Registry): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Hono()
  app.get('/health', async (c) => {
    const status = await statusOf()
    return c.json({ status: status.failed.length === 0 ? 'ok' : 'failing', ...status }, status.failed.length === 0 ? 200 : 503)
  })
  app.get('/metrics', (c) => c.text(registry.render(), 200, { 'content-type': 'text/plain; version=0.0.4' }))
  app.post('/', async (c) => {
    let request: { id?: unknown; method?: unknown }
    try {
      request = (await c.req.json()) as typeof request
    } catch {
      return c.json({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: the body is not valid JSON' } })
    }
    if (request.method !== 'mosaic_verifierStatus') {
      return c.json({ jsonrpc: '2.0', id: request.id ?? null, error: { code: -32601, message: `the method ${String(request.method)} does not exist/is not available` } })
    }
    return c.json({ jsonrpc: '2.0', id: request.id ?? null, result: await statusOf() })
  })
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.rpcHost, port: config.verifyStatusPort }, () => resolve(s))
    s.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${config.rpcHost}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
