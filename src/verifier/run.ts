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
import { createAdaptorServer, type ServerType } from '@hono/node-server'
import type { Server } from 'node:net'
import { RLP } from '@ethereumjs/rlp'
import { Hono } from 'hono'
import { layoutName } from '../commitment/layout.ts'
import type { Config } from '../config/config.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { isTransportError, MosaicError, VerificationError, verdictReasonOf } from '../errors.ts'
import { Registry } from '../metrics/registry.ts'
import { openQueues } from '../queue/open.ts'
import type { QueueBackend, QueueCounts } from '../queue/queue.ts'
import { FileSource, writeBundle } from './bundle.ts'
import { ChainVerifier } from './chain.ts'
import { L1Verifier } from './follow-l1.ts'
import { type ChainRules, chainRulesOf } from './rules.ts'
import { type BlockSource, RpcSource } from '../rpc/client.ts'
import { bytesToHex } from '../utils/hex.ts'
import { listenOn } from '../utils/listen.ts'
import { STOPPED, stopperOf } from '../utils/stop.ts'

export type VerifierStatus = {
  /** The sequencer's URL or the bundle directory. */
  source: string
  verified: number
  /**
   * FAILED blocks: the rule broken (`code`, a `VerdictReason`) and what was wrong. Following an
   * L1, the first 100 in block order (`ledger.ts`); `l1.verdicts.failed` counts them all.
   */
  failed: { block: string; code: string; reason: string }[]
  lastVerifiedBlock: string | null
  following: boolean
  /** With --to: whether every block of the range got a verdict (false when stopped early). */
  complete?: boolean
  /** Blocks that have waited past VERIFY_DEADLINE_MS without an OK verdict (their data unavailable so far). */
  overdue?: string[]
  /** Following an L1 inbox: every process's verdicts from the shared queue, and its jobs. */
  l1?: {
    inbox: string
    verdicts: { ok: number; failed: number }
    /** Batches scheduled and blocks with verdicts that the L1 has not finalized yet: all this process holds per batch and per block (`ledger.ts`). */
    unsettled: { batches: number; blocks: number }
    queue: QueueCounts
    failedJobs: { id: string; reason: string }[]
    lastError: string | null
  }
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

type Opened = { source: BlockSource; name: string; from: bigint; to: bigint | undefined }

/** The blocks to verify: a sequencer's over RPC or bundles from files, of the verifier's own chain. */
async function openSource(config: Config, rules: ChainRules): Promise<Opened> {
  const to = config.verifyTo === undefined ? undefined : BigInt(config.verifyTo)
  if (config.verifyFiles !== undefined) {
    const files = new FileSource(config.verifyFiles, bundleChain(rules), rules.limits.maxBytes)
    const from = config.verifyFrom > 1 ? BigInt(config.verifyFrom) : files.first
    return { source: files, name: config.verifyFiles, from, to: to ?? (await files.head()) }
  }
  const url = config.sequencerRpcUrl
  if (url === undefined) throw new MosaicError('CONFIG_INVALID', 'Missing SEQUENCER_RPC_URL (--rpc) or VERIFY_FILES (--files): what to verify')
  const source = new RpcSource(url, rules.common, rules.limits)
  // The sequencer must run the verifier's chain; its answers are never taken as the chain's rules.
  const chainId = await source.call<string>('eth_chainId')
  if (typeof chainId !== 'string' || BigInt(chainId) !== rules.common.chainId()) {
    throw new MosaicError('CONFIG_INVALID', `the sequencer at ${url} serves chain ${String(chainId)}, this verifier checks chain ${rules.common.chainId()}: set CHAIN_ID or GENESIS_FILE`)
  }
  const genesis = await source.rawBlock(0n)
  if (keccak256Hex(genesis) !== bytesToHex(rules.genesis.hash)) {
    throw new MosaicError(
      'CONFIG_INVALID',
      `the sequencer at ${url} has another genesis block than this verifier's ${bytesToHex(rules.genesis.hash)}: configure the chain's GENESIS_FILE, CHAIN_ID, BLOCK_GAS_LIMIT and STATE_COMMITMENT`,
    )
  }
  return { source, name: url, from: BigInt(config.verifyFrom), to }
}

const bundleChain = (rules: ChainRules) => ({ chainId: Number(rules.common.chainId()), hardfork: rules.common.hardfork(), layout: rules.layout })

function keccak256Hex(rlp: Uint8Array): string {
  // The block hash is the hash of its header, the first item of the block's RLP.
  try {
    return bytesToHex(keccak256(RLP.encode((RLP.decode(rlp) as Uint8Array[][])[0]!)))
  } catch {
    return '(undecodable)'
  }
}

export async function runVerifier(config: Config, options: RunVerifierOptions): Promise<VerifierStatus> {
  const rules = chainRulesOf(config)
  if (config.l1RpcUrl !== undefined) return runL1Verifier(config, options, rules)
  const { log, stop, onListening } = options
  // Reads from the source give way to `stop`: a sequencer that stalls kept Ctrl-C waiting for
  // the read's timeout (30 s), from the first read (the chain id) on.
  const stopper = stopperOf(stop)
  let opened: Opened
  try {
    opened = await stopper.until(openSource(config, rules))
  } catch (error) {
    if (error !== STOPPED) throw error
    log('verified 0 block(s), 0 failed: stopped before the source answered')
    const to = config.verifyTo === undefined ? undefined : BigInt(config.verifyTo)
    return { source: config.sequencerRpcUrl ?? config.verifyFiles ?? '', verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined, ...(to === undefined ? {} : { complete: false }) }
  }
  const { source, name, from, to } = opened
  const exportTo = config.verifyExport
  if (exportTo !== undefined) mkdirSync(exportTo, { recursive: true })

  const registry = new Registry()
  const verdicts = registry.counter('mosaic_verifier_blocks_total', 'Blocks verified, by verdict (ok or failed)')
  const lastBlock = registry.gauge('mosaic_verifier_last_verified_block', 'Last block whose verdict is in')
  const seconds = registry.histogram('mosaic_verifier_block_seconds', 'Time to verify one block from its witness', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  const result: VerifierStatus = { source: name, verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined }
  /** Since when the block being fetched has been unavailable (for /health). */
  let waitingSince: number | undefined
  const server = await startStatusServer(config, async () => result, registry, () => (waitingSince === undefined ? undefined : Date.now() - waitingSince))
  onListening?.(server.url)
  log(`mosaic verifier checking ${name} (chain ${rules.common.chainId()}, ${layoutName(rules.layout)}) from block ${from}${to === undefined ? ', following the head' : ` to ${to}`}; status on ${server.url}`)

  const { sleep } = stopper
  const read = <T>(reading: () => Promise<T>): Promise<T> => withRetry(() => stopper.until(reading()), config.verifyDeadlineMs, sleep)
  const record = (n: bigint, error: unknown) => {
    const reason = error instanceof MosaicError ? error.shortMessage : (error as Error).message
    const code = verdictReasonOf(error) ?? 'internal'
    result.failed.push({ block: `0x${n.toString(16)}`, code, reason })
    verdicts.inc({ verdict: 'failed' })
    log(`block ${n} FAILED [${code}]: ${reason}`)
  }
  try {
    let chain: ChainVerifier
    try {
      chain = from <= 1n ? ChainVerifier.fromGenesis(rules) : await stopper.until(ChainVerifier.fromHeaders(rules, source, from))
    } catch (error) {
      if (error === STOPPED) return result
      if (verdictReasonOf(error) === undefined) throw new MosaicError('CONFIG_INVALID', `cannot check the header chain below --from ${from}: ${(error as Error).message}`, { cause: error })
      record(from - 1n, error)
      return result
    }
    for (let n = from; to === undefined || n <= to; n++) {
      for (;;) {
        if (stopper.signal.aborted) break
        let head: bigint
        try {
          head = await read(() => source.head())
        } catch (error) {
          if (error === STOPPED) break
          // Following, a sequencer that is down is waited for; with --to, it ends the run.
          if (to !== undefined || !isTransportError(error)) throw error
          log(`waiting for ${name}: ${(error as Error).message}`)
          await sleep(FOLLOW_POLL_MS * 4)
          continue
        }
        if (head >= n) break
        if (to !== undefined) throw new MosaicError('NOT_FOUND', `block ${n} does not exist yet: the head is below --to ${to}`)
        await sleep(FOLLOW_POLL_MS)
      }
      if (stopper.signal.aborted) break
      const started = performance.now()
      try {
        waitingSince = Date.now()
        // Unavailable data is retried until the deadline, then failed as withheld.
        const item = await read(() => source.raw(n)).catch((error: unknown) => {
          if (error === STOPPED || !isTransportError(error)) throw error
          throw new VerificationError('witness.withheld', `the data of block ${n} stayed unavailable for ${config.verifyDeadlineMs} ms (data withheld): ${(error as Error).message}`, { cause: error })
        })
        waitingSince = undefined
        const verdict = await chain.verify(item)
        if (exportTo !== undefined) writeBundle(exportTo, item, bundleChain(rules))
        if (verdict.claimFailure !== undefined) {
          // The block is valid and the chain goes on from its verified root; a claim beside it lied.
          record(n, verdict.claimFailure)
          continue
        }
        result.verified++
        verdicts.inc({ verdict: 'ok' })
        log(`block ${n} ok: ${verdict.transactions} txs, gas ${verdict.gasUsed}, root ${bytesToHex(verdict.postStateRoot)}, witness ${bytesToHex(keccak256(item.witness)).slice(0, 18)}… (${verdict.witnessNodes} nodes) in ${(performance.now() - started).toFixed(1)} ms`)
      } catch (error) {
        waitingSince = undefined
        if (error === STOPPED || (stopper.signal.aborted && isTransportError(error))) break
        chain.markFailed(n)
        record(n, error)
      } finally {
        seconds.observe((performance.now() - started) / 1000)
        lastBlock.set(Number(n))
        result.lastVerifiedBlock = `0x${n.toString(16)}`
      }
    }
    if (to !== undefined && !stopper.signal.aborted) {
      try {
        await chain.confirmAnchor(source)
      } catch (error) {
        record(from, error)
      }
    }
    if (to !== undefined) result.complete = !stopper.signal.aborted
  } finally {
    await server.close()
  }
  log(`verified ${result.verified} block(s), ${result.failed.length} failed`)
  return result
}

/** `read()`, retried while it fails with a transport error, for up to `deadlineMs`. */
async function withRetry<T>(read: () => Promise<T>, deadlineMs: number, sleep: (ms: number) => Promise<unknown>): Promise<T> {
  const started = Date.now()
  for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await read()
    } catch (error) {
      if (error === STOPPED || !isTransportError(error) || Date.now() - started + delay > deadlineMs) throw error
      await sleep(delay)
    }
  }
}

/**
 * Following an L1 inbox (`follow-l1.ts`): scan batches into per-block jobs, verify this
 * process's share, and — with `--to` — exit once every block of the range has a verdict from
 * any process (non-zero when one failed).
 */
async function runL1Verifier(config: Config, { log, stop, onListening, queues: given }: RunVerifierOptions, rules: ChainRules): Promise<VerifierStatus> {
  // Witnesses from every configured source; the chain, its blocks and roots from the L1 alone.
  const sources: BlockSource[] = []
  if (config.sequencerRpcUrl !== undefined) sources.push(new RpcSource(config.sequencerRpcUrl, rules.common, rules.limits))
  if (config.verifyFiles !== undefined) sources.push(new FileSource(config.verifyFiles, bundleChain(rules), rules.limits.maxBytes))
  if (sources.length === 0) throw new MosaicError('CONFIG_INVALID', 'Missing SEQUENCER_RPC_URL (--rpc) or VERIFY_FILES (--files): where witnesses come from')
  const name = [config.sequencerRpcUrl, config.verifyFiles].filter((x) => x !== undefined).join(' and ')
  // The range is the L1's to scan: with --files, the bundles only supply witnesses.
  const from = BigInt(config.verifyFrom)
  const to = config.verifyTo === undefined ? undefined : BigInt(config.verifyTo)
  const queues = given ?? (await openQueues(config.redisUrl === undefined ? { prefix: config.queuePrefix } : { redisUrl: config.redisUrl, prefix: config.queuePrefix }))
  const verifier = new L1Verifier({ config, rules, sources, queues, log, from, to })
  const stopper = stopperOf(stop)
  try {
    // The L1's first answer gives way to a stop, as the RPC verifier's first read does.
    await stopper.until(verifier.inbox.checkDeployed())
  } catch (error) {
    if (given === undefined) await queues.close()
    if (error !== STOPPED) throw error
    log('verified 0 block(s) here: stopped before the L1 answered')
    return { source: name, verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined, ...(to === undefined ? {} : { complete: false }) }
  }
  const { common, layout } = rules
  const registry = new Registry()
  const verdictsTotal = registry.counter('mosaic_verifier_blocks_total', 'Blocks verified by this process, by verdict (ok or failed)')
  const seconds = registry.histogram('mosaic_verifier_block_seconds', 'Time to verify one block from its witness', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
  const result: VerifierStatus = { source: name, verified: 0, failed: [], lastVerifiedBlock: null, following: to === undefined }
  const statusOf = async (): Promise<VerifierStatus> => {
    const verdicts = await verifier.verdicts()
    return {
      ...result,
      failed: verdicts.failures.map((v) => ({ block: `0x${BigInt(v.block).toString(16)}`, code: v.code ?? 'internal', reason: v.reason ?? '' })),
      overdue: (await verifier.overdue()).map((n) => `0x${n.toString(16)}`),
      l1: {
        inbox: verifier.inbox.address,
        verdicts: { ok: verdicts.ok, failed: verdicts.failed },
        unsettled: verifier.retained,
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
    log(verdict.ok ? `block ${verdict.block} ok (batch ${verdict.batch}): ${verdict.transactions} txs, root ${verdict.stateRoot} matches the L1, in ${verdict.ms.toFixed(1)} ms` : `block ${verdict.block} FAILED (batch ${verdict.batch}) [${verdict.code}]: ${verdict.reason}`)
  })
  let final = result
  try {
    if (to === undefined) await stop
    else {
      for (;;) {
        if (stopper.signal.aborted) break
        if (verifier.scheduledAll) {
          const verdicts = await verifier.verdicts()
          let complete = true
          for (let n = from; n <= to && complete; n++) complete = verdicts.has(n)
          if (complete) {
            result.complete = true
            break
          }
          // Blocks left without a verdict past the deadline and no job left to give one (their
          // batch was replaced and never came back): the range cannot complete — exit 1.
          const counts = await verifier.queue.counts()
          if (counts.waiting + counts.active + counts.delayed === 0 && (await verifier.overdue()).length > 0) break
        }
        await stopper.sleep(FOLLOW_POLL_MS)
      }
    }
    final = await statusOf()
    if (to !== undefined) final = { ...final, complete: result.complete === true, failed: final.failed.filter((f) => BigInt(f.block) >= from && BigInt(f.block) <= to) }
  } finally {
    await verifier.stop()
    await server.close()
    if (given === undefined) await queues.close()
  }
  log(`verified ${result.verified} block(s) here; ${final.l1?.verdicts.ok ?? 0} ok and ${final.failed.length} failed in all`)
  return final
}

async function startStatusServer(config: Config, statusOf: () => Promise<VerifierStatus>, registry: Registry, waitingMs?: () => number | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const app = new Hono()
  // 503 on any FAILED verdict, and while a block has waited past the deadline without an OK one.
  app.get('/health', async (c) => {
    const status = await statusOf()
    const waited = waitingMs?.()
    const overdue = (status.overdue?.length ?? 0) > 0 || (waited !== undefined && waited > config.verifyDeadlineMs)
    const healthy = status.failed.length === 0 && !overdue
    return c.json({ status: healthy ? 'ok' : status.failed.length > 0 ? 'failing' : 'overdue', ...status }, healthy ? 200 : 503)
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
  const server: ServerType = createAdaptorServer({ fetch: app.fetch })
  await listenOn(server as Server, config.verifyStatusPort, config.rpcHost, 'VERIFY_STATUS_PORT, --status-port')
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
