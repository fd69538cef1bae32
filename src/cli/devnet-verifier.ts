/**
 * The devnet's verifier, in a process of its own: `mosaic verifier --l1 … --inbox … --rpc …`
 * started under a watchdog (it never outlives the devnet) at the lowest CPU priority, so
 * re-executing every block never takes the sequencer's thread or delays its blocks, as a verifier
 * on another machine would not. Its log lines come out of the devnet's log prefixed `verifier: `.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Config } from '../config/config.ts'
import { spawnWatched, stopWatched } from '../utils/watched-process.ts'
import { MosaicError } from '../errors.ts'

export type DevnetVerifierParameters = {
  readonly l1Url: string
  readonly inbox: string
  readonly rpcUrl: string
  /** 0: a free port. */
  readonly statusPort: number
  /** Shared queues when set, as for every other verifier. */
  readonly redisUrl: string | undefined
  readonly queuePrefix: string
  /** The chain's rules, passed on as flags: the verifier takes them from its own configuration, never from the sequencer. */
  readonly chain: Pick<Config, 'chainId' | 'genesisFile' | 'hardfork' | 'blockGasLimit' | 'feeRecipient' | 'baseFeeFloor' | 'stateRootLag' | 'stateCommitment' | 'shardNibbles'>
  readonly log: (message: string) => void
  /** Each verdict the verifier logs, as it logs it (the `verified` block events). */
  readonly onVerdict?: (verdict: DevnetVerdict) => void
}

export type DevnetVerdict = { readonly block: bigint; readonly ok: boolean; readonly batch: string; readonly reason?: string }

/** `block N ok (batch B): …` or `block N FAILED (batch B) [REASON]: …`, as `verifier/run.ts` logs a verdict. */
const VERDICT = /^block (\d+) (ok|FAILED) \(batch (\d+)\)(?: \[(\w+)\])?/

export type DevnetVerifier = {
  /** The status server's URL, once it listens. */
  readonly statusUrl: Promise<string>
  stop(): Promise<void>
}

const CHRT = '/usr/bin/chrt'
const NICE = '/usr/bin/nice'
const NICENESS = '19'

/**
 * The command prefix that runs the verifier below everything else: Linux's `SCHED_IDLE` policy
 * (`chrt --idle 0`), else nice 19 where `chrt` is missing or refused. A core that runs a nice-19
 * process is busy to the scheduler placing a waking sequencer thread; one that runs only
 * `SCHED_IDLE` work counts as idle, and the waking thread preempts the verifier there at once. Measured with
 * `bench:e2e -- --only devnet` in alternating runs (2026-12-06, 7 pairs on `erc20`, 10 on
 * `transfers-single`, each run's tx/s scaled by its own sender-recovery CPU per transaction, a
 * gauge of how fast the machine was at the time): the devnet did 12% more `erc20` transfers a
 * second (the verifier re-executes those blocks at ~0.4 ms a transaction, and at nice 19 took
 * ~0.55 of a core in the timed window) and the same on plain transfers; `preconf-300`'s p99 was
 * 64–90 ms against 55–84 (3 pairs). Earlier, when the bench ran every workload on one devnet,
 * nice 10 let the verifier catching up after the heavy loads push that p99 to 80–115 ms.
 */
function lowestPriority(): string[] {
  if (existsSync(CHRT) && spawnSync(CHRT, ['--idle', '0', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0) return [CHRT, '--idle', '0']
  return existsSync(NICE) ? [NICE, '-n', NICENESS] : []
}

/**
 * The verifier's young generation, in MB per semi-space (V8's default is 16). It re-executes a
 * block at a time, at the lowest priority, and what it allocates is short-lived: with 2 MB its
 * peak RSS under `bench:e2e`'s `erc20` load was 146–163 MB against 170–198 with the default
 * (2026-12-05, one run each), and its time per block in `bench:witness -- --quick` stayed within
 * that bench's spread.
 */
const SEMI_SPACE_MB = 2
/**
 * How far V8 lets its old generation grow past what survived the last full collection, in percent
 * (`bin/mosaic.mjs` sets 100 for every other process). With 50 the verifier's peak RSS under
 * `erc20` was 134 and 140 MB against 149 and 142 with 100, the devnet's tx/s the same or higher
 * (two alternating pairs, 2026-12-05): the verifier runs at the lowest priority, and what it allocates dies young.
 */
const HEAP_GROWING_PERCENT = 50
const ISO_PREFIX = /^\d{4}-\d\d-\d\dT[\d:.]+Z /

export function startDevnetVerifier({ l1Url, inbox, rpcUrl, statusPort, redisUrl, queuePrefix, chain, log, onVerdict }: DevnetVerifierParameters): DevnetVerifier {
  const bin = fileURLToPath(new URL('../../bin/mosaic.mjs', import.meta.url))
  const command = [process.execPath, `--max-semi-space-size=${SEMI_SPACE_MB}`, `--heap-growing-percent=${HEAP_GROWING_PERCENT}`, bin, 'verifier', '--l1', l1Url, '--inbox', inbox, '--rpc', rpcUrl, '--status-port', String(statusPort), '--queue-prefix', queuePrefix]
  command.push('--chain-id', String(chain.chainId), '--hardfork', chain.hardfork, '--block-gas-limit', String(chain.blockGasLimit), '--fee-recipient', chain.feeRecipient)
  command.push('--base-fee-floor', String(chain.baseFeeFloor), '--state-root-lag', String(chain.stateRootLag), '--state-commitment', chain.stateCommitment, '--shard-nibbles', String(chain.shardNibbles))
  if (chain.genesisFile !== undefined) command.push('--genesis-file', chain.genesisFile)
  if (redisUrl !== undefined) command.push('--redis-url', redisUrl)
  const child = spawnWatched([...lowestPriority(), ...command], { PATH: process.env.PATH ?? '' })
  let listening: (url: string) => void = () => {}
  let failed: (error: Error) => void = () => {}
  const statusUrl = new Promise<string>((resolve, reject) => {
    listening = resolve
    failed = reject
  })
  let pending = ''
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString()
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      if (line.length === 0) continue
      const message = line.replace(ISO_PREFIX, '')
      const status = /status on (http:\/\/\S+)/.exec(message)?.[1]
      if (status !== undefined) listening(status)
      const verdict = VERDICT.exec(message)
      if (verdict !== null) onVerdict?.({ block: BigInt(verdict[1]!), ok: verdict[2] === 'ok', batch: verdict[3]!, ...(verdict[4] === undefined ? {} : { reason: verdict[4] }) })
      log(`verifier: ${message}`)
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  // Its own reason is in its output, logged above with the `verifier: ` prefix.
  child.once('exit', (code, signal) => failed(new MosaicError('INTERNAL', `the devnet's verifier exited (${signal ?? `code ${code}`}) before it listened; its last lines above say why`)))
  return { statusUrl, stop: () => stopWatched(child) }
}
