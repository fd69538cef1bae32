/**
 * The `mosaic` command. `mosaic devnet` runs a local chain on embedded defaults (what `npm start`
 * runs); `mosaic sequencer` is the production node and requires its settings explicitly;
 * `mosaic verifier` checks a sequencer's blocks from their witnesses alone.
 */
import { formatConfigHelp, loadConfig, type Mode } from '../config/config.ts'
import { isMosaicError } from '../errors.ts'
import { openNode } from '../node/node.ts'
import { startRpcServer } from '../rpc/server.ts'
import { Replica } from '../replica/replica.ts'
import { runVerifier } from '../verifier/run.ts'

const USAGE = `mosaic — a rollup sequencer

Usage:
  mosaic devnet [options]      local devnet: dev accounts funded, data in ./data (npm start)
  mosaic sequencer [options]   production sequencer: GENESIS_FILE and FEE_RECIPIENT required
  mosaic verifier --rpc URL [--from N] [--to M]
                               stateless verifier: re-executes a sequencer's blocks from their
                               witnesses; exits non-zero when a block of --from…--to fails,
                               follows the head when --to is not given
  mosaic replica --rpc URL [options]
                               read-only replica: applies the sequencer's state deltas, checks
                               every root against its own commitment, serves the read methods
  mosaic --help                this text

`

export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
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
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    if (mode === 'verifier') {
      const status = await runVerifier(config, { log, stop })
      return status.failed.length === 0 ? 0 : 1
    }
    const quiet = config.logLevel === 'silent' || config.logLevel === 'error' || config.logLevel === 'warn'
    const node = await openNode(config, { log: quiet ? () => {} : log })
    const rpc = await startRpcServer(node)
    if (mode === 'replica') {
      const replica = new Replica(node, config.sequencerRpcUrl!, log)
      await replica.checkSameChain()
      log(`mosaic replica of ${config.sequencerRpcUrl} listening on ${rpc.url} (data ${config.dataDir})`)
      await replica.run(stop)
      log('shutting down')
      await rpc.close()
      await node.close()
      return replica.failure === undefined ? 0 : 1
    }
    node.sequencer.start()
    if (node.devAccounts.length > 0 && mode === 'devnet') {
      const lines = ['', 'Available Accounts', '==================']
      node.devAccounts.forEach((a, i) => lines.push(`(${i}) ${a.address} (10000 ETH)`))
      lines.push('', 'Private Keys', '==================')
      node.devAccounts.forEach((a, i) => lines.push(`(${i}) ${a.privateKey}`))
      lines.push('', `Chain ID: ${node.common.chainId()}`, '')
      process.stdout.write(`${lines.join('\n')}\n`)
    }
    log(`mosaic ${mode} listening on ${rpc.url} (chain ${node.common.chainId()}, block time ${config.blockTimeMs} ms, data ${config.dataDir})`)
    await stop
    log('shutting down')
    await rpc.close()
    await node.close()
    return 0
  } catch (error) {
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
