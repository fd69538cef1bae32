/**
 * The `mosaic` command. `mosaic devnet` runs a local chain on embedded defaults (what `npm start`
 * runs): anvil as its L1 with an inbox, the sequencer, the poster and a verifier following the
 * L1, in one process; `mosaic sequencer` is the production node and requires its settings
 * explicitly; `mosaic verifier` checks blocks from their witnesses alone — a sequencer's, or the
 * batches on an L1 inbox.
 */
import { defaults, formatConfigHelp, loadConfig, type Mode } from '../config/config.ts'
import { isMosaicError } from '../errors.ts'
import { type DevnetVerifier, startDevnetVerifier } from './devnet-verifier.ts'
import { type Anvil, startAnvil } from '../l1/anvil.ts'
import type { L1Connection } from '../node/l1.ts'
import { stopperOf } from '../utils/stop.ts'

const USAGE = `mosaic — a rollup sequencer

Usage:
  mosaic devnet [options]      local devnet (npm start): anvil as the L1 on a free port (or
                               --l1 URL), the inbox deployed, the sequencer with dev accounts
                               funded (data in ./data), the batch poster and a verifier
  mosaic sequencer [options]   production sequencer: GENESIS_FILE and FEE_RECIPIENT required;
                               posts batches when --l1, --inbox and L1_PRIVATE_KEY are given
  mosaic verifier --rpc URL [--from N] [--to M]
                               stateless verifier: re-executes a sequencer's blocks from their
                               witnesses, checking every header against the chain's rules
                               (its own config and genesis); exits non-zero when a block of
                               --from…--to fails or has no verdict; follows the head without --to
  mosaic verifier --l1 URL --inbox ADDRESS (--rpc URL | --files DIR) [--from N] [--to M]
                               verifies the batches on the L1 inbox: blocks and roots from the
                               L1, witnesses from --rpc or --files, checked against the L1's
                               witness commitment; with REDIS_URL the blocks are shared out
                               among every verifier on that Redis
  mosaic replica --rpc URL [options]
                               read-only replica: applies the sequencer's state deltas, checks
                               every root against its own commitment, serves the read methods
  mosaic --help                this text

`

export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  let stopping = false
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(`${USAGE}${formatConfigHelp()}\n`)
    return command === undefined ? 1 : 0
  }
  if (command !== 'devnet' && command !== 'sequencer' && command !== 'verifier' && command !== 'replica') {
    process.stderr.write(`mosaic: unknown command "${command}" (expected devnet, sequencer, verifier or replica; see mosaic --help)\n`)
    return 2
  }
  const mode: Mode = command
  const log = (message: string) => process.stdout.write(`${new Date().toISOString()} ${message}\n`)
  try {
    const config = loadConfig({ argv: rest, env, cwd: process.cwd(), mode })
    const stop = new Promise<void>((resolve) => {
      const onSignal = () => {
        stopping = true
        resolve()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
    })
    /**
     * A step of starting up, given up when a signal comes first: Ctrl-C while the node starts
     * stops it then, not once starting is done. An L1 that stalls kept it for the L1's timeout
     * (30 s) and then reported the L1 unreachable; one that the same Ctrl-C stopped (a terminal
     * signals the whole process group: the devnet's anvil too) while the inbox was being
     * deployed kept it for viem's wait for the receipt, 180 s.
     */
    const startStep = stopperOf(stop).until
    // Each mode loads only its own modules (viem, bullmq and the verifier cost ~100 MB of memory
    // that a sequencer without an L1 has no use for; the node, its LMDB store and its RPC server
    // ~4 MB of heap and a native addon that a verifier has none for).
    if (mode === 'verifier') {
      const { runVerifier } = await import('../verifier/run.ts')
      const status = await runVerifier(config, { log, stop })
      // Non-zero on any FAILED verdict, a block overdue for one, or a --to range left incomplete.
      return status.failed.length === 0 && (status.overdue?.length ?? 0) === 0 && status.complete !== false ? 0 : 1
    }
    const [{ openNode }, { startRpcServer }] = await Promise.all([import('../node/node.ts'), import('../rpc/server.ts')])
    const quiet = config.logLevel === 'silent' || config.logLevel === 'error' || config.logLevel === 'warn'
    // The devnet's L1: anvil from npm, on a free port, mining a block a second.
    let anvil: Anvil | undefined
    if (mode === 'devnet' && config.l1RpcUrl === undefined) anvil = await startStep(startAnvil(['--block-time', '1']))
    const node = await startStep(openNode(config, { log: quiet ? () => {} : log })).catch(async (error: unknown) => {
      await anvil?.stop()
      throw error
    })
    const rpc = await startRpcServer(node).catch(async (error: unknown) => {
      await node.close()
      await anvil?.stop()
      throw error
    })
    let l1Lines: string[] = []
    if (mode === 'replica') {
      const { Replica } = await import('../replica/replica.ts')
      const replica = new Replica(node, config.sequencerRpcUrl!, log)
      await startStep(replica.checkSameChain()).catch(async (error: unknown) => {
        await rpc.close()
        await node.close()
        throw error
      })
      log(`mosaic replica of ${config.sequencerRpcUrl} listening on ${rpc.url} (data ${config.dataDir})`)
      await replica.run(stop)
      log('shutting down')
      await rpc.close()
      await node.close()
      return replica.failure === undefined ? 0 : 1
    }
    node.sequencer.start()
    const l1Url = anvil?.url ?? config.l1RpcUrl
    let l1: L1Connection | undefined
    let verifier: DevnetVerifier | undefined
    const queues = l1Url === undefined ? undefined : await (await import('../queue/open.ts')).openQueues(config.redisUrl === undefined ? { prefix: config.queuePrefix } : { redisUrl: config.redisUrl, prefix: config.queuePrefix })
    const shutdown = async () => {
      log('shutting down')
      await l1?.stop()
      await verifier?.stop()
      await rpc.close()
      await node.close()
      await queues?.close()
      await anvil?.stop()
    }
    try {
      if (l1Url !== undefined && queues !== undefined) {
        const { connectL1 } = await import('../node/l1.ts')
        l1 = await startStep(connectL1(node, { url: l1Url, queues, log }))
      }
      if (mode === 'devnet' && l1 !== undefined) {
        // A verifier following the L1, with witnesses from this node's RPC.
        // Its status server takes a free port unless VERIFY_STATUS_PORT says otherwise, so a
        // devnet never collides with a verifier of its own on the default port.
        const statusPort = config.verifyStatusPort === defaults.verifyStatusPort ? 0 : config.verifyStatusPort
        verifier = startDevnetVerifier({ l1Url: l1.url, inbox: l1.inbox, rpcUrl: rpc.url, statusPort, redisUrl: config.redisUrl, queuePrefix: config.queuePrefix, chain: config, log, onVerdict: (verdict) => node.blockEvents.verdict(verdict) })
        l1Lines = [`L1 RPC${anvil === undefined ? '' : ' (anvil)'}:`.padEnd(19) + l1.url, `Inbox:             ${l1.inbox}`, `Verifier status:   ${await startStep(verifier.statusUrl)}/health`]
      }
    } catch (error) {
      await shutdown()
      throw error
    }
    if (node.devAccounts.length > 0 && mode === 'devnet') {
      const lines = ['', 'Available Accounts', '==================']
      node.devAccounts.forEach((a, i) => lines.push(`(${i}) ${a.address} (10000 ETH)`))
      lines.push('', 'Private Keys', '==================')
      node.devAccounts.forEach((a, i) => lines.push(`(${i}) ${a.privateKey}`))
      lines.push('', `Chain ID: ${node.common.chainId()}`, `Rollup RPC:        ${rpc.url}`, ...l1Lines, '')
      process.stdout.write(`${lines.join('\n')}\n`)
    }
    log(`mosaic ${mode} listening on ${rpc.url} (chain ${node.common.chainId()}, block time ${config.blockTimeMs} ms, data ${config.dataDir})${l1 === undefined ? '' : `; posting ${config.daMode} batches to inbox ${l1.inbox} on ${l1.url}`}`)
    await stop
    await shutdown()
    return 0
  } catch (error) {
    // Stopped while starting: what failed after the signal (an L1 or a verifier the same Ctrl-C
    // stopped) is no fault to report, and what was started has been closed.
    if (stopping) return 0
    if (isMosaicError(error)) {
      process.stderr.write(`mosaic: ${error.shortMessage}${error.details ? ` (${error.details})` : ''}\n`)
      return 2
    }
    throw error
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
