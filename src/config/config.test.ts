import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isMosaicError } from '../errors.ts'
import {
  configOptions,
  defaults,
  formatConfigHelp,
  formatEnvExample,
  loadConfig,
  type LoadConfigParameters,
} from './config.ts'

const tempDirs: string[] = []
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh working directory, with a `.env` file when `envFile` is given. */
function tempCwd(envFile?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-config-'))
  tempDirs.push(dir)
  if (envFile !== undefined) writeFileSync(join(dir, '.env'), envFile)
  return dir
}

const emptyCwd = tempCwd()

function load(params: Partial<LoadConfigParameters> = {}) {
  return loadConfig({ argv: [], env: {}, cwd: emptyCwd, mode: 'devnet', ...params })
}

/** Asserts that loading fails with CONFIG_INVALID and a message matching every pattern. */
function assertConfigError(params: Partial<LoadConfigParameters>, ...patterns: (string | RegExp)[]) {
  assert.throws(
    () => load(params),
    (error: unknown) => {
      assert.ok(isMosaicError(error), `expected a MosaicError, got ${String(error)}`)
      assert.equal(error.code, 'CONFIG_INVALID')
      for (const pattern of patterns) {
        if (typeof pattern === 'string') assert.ok(error.shortMessage.includes(pattern), error.shortMessage)
        else assert.match(error.shortMessage, pattern)
      }
      return true
    },
  )
}

const sequencerBasics = { GENESIS_FILE: 'genesis.json', FEE_RECIPIENT: '0x00000000000000000000000000000000000000aa' }

describe('config', () => {
  it('default', () => {
    const config = load()
    assert.deepEqual(config, {
      mode: 'devnet',
      chainId: 901,
      rpcHost: '127.0.0.1',
      rpcPort: 8545,
      dataDir: join(emptyCwd, 'data'),
      blockTimeMs: 250,
      emptyBlocks: false,
      miniblockMs: 20,
      blockGasLimit: 30_000_000n,
      feeRecipient: '0x4200000000000000000000000000000000000011',
      genesisFile: undefined,
      hardfork: 'prague',
      baseFeeFloor: 1_000_000n,
      mempoolMaxTxs: 10_000,
      mempoolMaxPerSender: 256,
      txMaxBytes: 131_072,
      rpcMaxBodyBytes: 5_242_880,
      rpcMaxBatch: 1000,
      rpcMaxConcurrent: 4096,
      chainCacheBytes: 16_777_216,
      stateCacheBytes: 134_217_728,
      trieCacheBytes: 134_217_728,
      historyBlocks: undefined,
      trieHistoryBlocks: undefined,
      rpcGetLogsMaxRange: 10_000,
      rpcGetLogsMaxResults: 10_000,
      rpcGasCap: 50_000_000n,
      rpcSyncTimeoutMs: 10_000,
      rpcTraceTimeoutMs: 5000,
      rpcTraceMaxBytes: 67_108_864,
      rpcMaxFilters: 10_000,
      wsMaxConnections: 1000,
      wsMaxSubscriptions: 1000,
      wsMaxInFlight: 64,
      wsMaxBufferedBytes: 4_194_304,
      adminToken: undefined,
      logLevel: 'info',
      executor: 'sequential',
      executorThreads: undefined,
      recoveryThreads: 1,
      stateCommitment: 'mpt',
      shardNibbles: 3,
      stateRootLag: 2,
      commitmentThreads: undefined,
      sequencerRpcUrl: undefined,
      verifyFrom: 1,
      verifyTo: undefined,
      verifyFiles: undefined,
      verifyExport: undefined,
      verifyStatusPort: 8547,
      verifyTimestampDrift: 300,
      verifyDeadlineMs: 120_000,
      verifyMaxWitnessBytes: 128 * 1024 * 1024,
      verifyMaxBatchBytes: 64 * 1024 * 1024,
      verifyMaxResponseBytes: 512 * 1024 * 1024,
      verifyFetchTimeoutMs: 30_000,
      verifyL1Confirmations: 1,
      l1RpcUrl: undefined,
      l1BeaconUrl: undefined,
      inboxAddress: undefined,
      l1PrivateKey: undefined,
      daMode: 'calldata',
      batchMaxBlocks: 100,
      batchMaxBytes: 1_000_000,
      batchMaxAgeMs: 2_000,
      frameBytes: 120_000,
      l1Confirmations: 1,
      l1ResendMs: 24_000,
      redisUrl: undefined,
      queuePrefix: 'mosaic',
    })
    assert.ok(Object.isFrozen(config))
  })

  it('behavior: every option has a default entry and its own kebab-case flag, derived from its env name unless it is a verifier or L1 address option', () => {
    assert.deepEqual(Object.keys(defaults).sort(), Object.keys(configOptions).sort())
    const flags = new Set<string>()
    for (const opt of Object.values(configOptions)) {
      assert.match(opt.env, /^[A-Z][A-Z0-9_]*$/)
      assert.match(opt.flag, /^--[a-z][a-z0-9-]*$/)
      if (!opt.env.startsWith('VERIFY_') && !['SEQUENCER_RPC_URL', 'L1_RPC_URL', 'INBOX_ADDRESS'].includes(opt.env)) assert.equal(opt.flag, `--${opt.env.toLowerCase().replaceAll('_', '-')}`)
      assert.ok(!flags.has(opt.flag), `flag ${opt.flag} used twice`)
      flags.add(opt.flag)
    }
  })

  it('behavior: replica mode requires the sequencer URL; the verifier takes --rpc, --from, --to', () => {
    assert.throws(() => loadConfig({ argv: [], env: {}, cwd: emptyCwd, mode: 'replica' }), /Missing SEQUENCER_RPC_URL \(--rpc\): required in replica mode/)
    const config = loadConfig({ argv: ['--rpc', 'http://127.0.0.1:8545', '--from', '3', '--to', '9'], env: {}, cwd: emptyCwd, mode: 'verifier' })
    assert.deepEqual([config.sequencerRpcUrl, config.verifyFrom, config.verifyTo], ['http://127.0.0.1:8545', 3, 9])
    assert.throws(() => loadConfig({ argv: ['--rpc', 'ftp://x'], env: {}, cwd: emptyCwd, mode: 'verifier' }), /Invalid SEQUENCER_RPC_URL \(--rpc\): "ftp:\/\/x" is not an http:\/\/ or https:\/\/ URL/)
  })

  it('behavior: L1 options that only make sense together are refused apart, naming both', () => {
    const sequencer = ['--fee-recipient', '0x4200000000000000000000000000000000000011', '--genesis-file', 'genesis.json', '--l1', 'http://127.0.0.1:9545']
    assert.throws(() => loadConfig({ argv: sequencer, env: {}, cwd: emptyCwd, mode: 'sequencer' }), /Missing INBOX_ADDRESS \(--inbox\): a sequencer posting to L1_RPC_URL \(--l1\) needs its inbox/)
    assert.throws(
      () => loadConfig({ argv: [...sequencer, '--inbox', `0x${'12'.repeat(20)}`], env: {}, cwd: emptyCwd, mode: 'sequencer' }),
      /Missing L1_PRIVATE_KEY \(--l1-private-key\)/,
    )
    assert.throws(() => loadConfig({ argv: ['--rpc', 'http://127.0.0.1:8545', '--l1', 'http://127.0.0.1:9545'], env: {}, cwd: emptyCwd, mode: 'verifier' }), /L1_RPC_URL \(--l1\) and INBOX_ADDRESS \(--inbox\) go together/)
    const verifier = loadConfig({ argv: ['--rpc', 'http://127.0.0.1:8545', '--l1', 'http://127.0.0.1:9545', '--inbox', `0x${'12'.repeat(20)}`, '--redis-url', 'redis://127.0.0.1:6379'], env: {}, cwd: emptyCwd, mode: 'verifier' })
    assert.deepEqual([verifier.l1RpcUrl, verifier.inboxAddress, verifier.redisUrl], ['http://127.0.0.1:9545', `0x${'12'.repeat(20)}`, 'redis://127.0.0.1:6379'])
    assert.throws(() => load({ argv: ['--redis-url', 'http://x'] }), /Invalid REDIS_URL \(--redis-url\): "http:\/\/x" is not a redis:\/\/ or rediss:\/\/ URL/)
    assert.throws(() => load({ argv: ['--da-mode', 'ipfs'] }), /Invalid DA_MODE \(--da-mode\): "ipfs" is not one of: calldata, blobs/)
    assert.throws(() => load({ argv: ['--l1-private-key', '0x1234'] }), /Invalid L1_PRIVATE_KEY/)
  })

  it('behavior: precedence is flag > env > .env file > default', () => {
    const cwd = tempCwd('CHAIN_ID=2\nRPC_PORT=2\nBLOCK_TIME_MS=2\n')
    const env = { RPC_PORT: '3', BLOCK_TIME_MS: '3' }
    const config = load({ cwd, env, argv: ['--block-time-ms', '4'] })
    assert.equal(config.rpcMaxBatch, 1000) // default
    assert.equal(config.chainId, 2) // .env file
    assert.equal(config.rpcPort, 3) // env over .env
    assert.equal(config.blockTimeMs, 4) // flag over env and .env
  })

  it('behavior: --env-file names another file, resolved against cwd', () => {
    const cwd = tempCwd('CHAIN_ID=2\n')
    writeFileSync(join(cwd, 'other.env'), 'CHAIN_ID=7\n')
    assert.equal(load({ cwd, argv: ['--env-file', 'other.env'] }).chainId, 7)
    assert.equal(load({ cwd, argv: ['--env-file=other.env'] }).chainId, 7)
    assertConfigError({ cwd, argv: ['--env-file', 'missing.env'] }, 'missing.env', '--env-file')
  })

  it('behavior: .env syntax: comments, quotes, export prefix, empty values', () => {
    const cwd = tempCwd(
      [
        '# a comment',
        '',
        'export CHAIN_ID=5',
        'RPC_HOST = "0.0.0.0" # inline comment',
        "ADMIN_TOKEN='s3cr#t \"x\"'",
        'LOG_LEVEL=debug # inline comment',
        'DATA_DIR="my data"',
        'GENESIS_FILE=',
        '\r',
      ].join('\r\n'),
    )
    const config = load({ cwd })
    assert.equal(config.chainId, 5)
    assert.equal(config.rpcHost, '0.0.0.0')
    assert.equal(config.adminToken, 's3cr#t "x"')
    assert.equal(config.logLevel, 'debug')
    assert.equal(config.dataDir, join(cwd, 'my data'))
    assert.equal(config.genesisFile, undefined)
  })

  it('behavior: an unknown key in the .env file names the file and key', () => {
    const cwd = tempCwd('CHAIN_ID=5\nRPC_PROT=1\n')
    assertConfigError({ cwd }, 'RPC_PROT', join(cwd, '.env'))
  })

  it('behavior: malformed .env lines are errors naming the line', () => {
    assertConfigError({ cwd: tempCwd('CHAIN_ID=5\nnonsense\n') }, /\.env:2/, 'KEY=VALUE')
    assertConfigError({ cwd: tempCwd('RPC_HOST="unterminated\n') }, 'RPC_HOST', 'unterminated')
  })

  it('behavior: unknown environment variables are ignored; empty ones count as unset', () => {
    const config = load({ env: { PATH: '/bin', RPC_PROT: '1', RPC_PORT: '' } })
    assert.equal(config.rpcPort, 8545)
  })

  it('behavior: --name=value and --name value are both accepted', () => {
    assert.equal(load({ argv: ['--rpc-port=1234'] }).rpcPort, 1234)
    assert.equal(load({ argv: ['--rpc-port', '1234'] }).rpcPort, 1234)
    assert.equal(load({ argv: ['--admin-token=a=b'] }).adminToken, 'a=b')
    assert.equal(load({ argv: ['--rpc-port', '1', '--rpc-port', '2'] }).rpcPort, 2)
  })

  it('behavior: unknown flags, positional arguments and missing values are errors', () => {
    assertConfigError({ argv: ['--foo'] }, 'Unknown option --foo (see mosaic --help)')
    assertConfigError({ argv: ['--foo=1'] }, 'Unknown option --foo (see mosaic --help)')
    assertConfigError({ argv: ['-p', '1'] }, 'Unknown option -p')
    assertConfigError({ argv: ['devnet'] }, 'Unexpected argument "devnet"')
    assertConfigError({ argv: ['--rpc-port'] }, '--rpc-port', 'RPC_PORT', 'missing its value')
    assertConfigError({ argv: ['--rpc-port='] }, '--rpc-port', 'missing its value')
    assertConfigError({ argv: ['--rpc-port', '--chain-id', '1'] }, '--rpc-port', 'missing its value')
    assertConfigError({ argv: ['--env-file'] }, '--env-file', 'missing its value')
  })

  it('behavior: each invalid value class names the option, its flag and the bad value', () => {
    const cases: [Record<string, string>, string][] = [
      [{ RPC_PORT: 'abc' }, 'Invalid RPC_PORT (--rpc-port): "abc" is not an integer between 0 and 65535'],
      [{ RPC_PORT: '65536' }, 'Invalid RPC_PORT (--rpc-port): "65536" is not an integer between 0 and 65535'],
      [{ CHAIN_ID: '0' }, 'Invalid CHAIN_ID (--chain-id): "0" is not a positive integer'],
      [{ BLOCK_TIME_MS: '1.5' }, 'Invalid BLOCK_TIME_MS (--block-time-ms): "1.5" is not a positive integer'],
      [{ MEMPOOL_MAX_TXS: '-1' }, 'Invalid MEMPOOL_MAX_TXS (--mempool-max-txs): "-1" is not a positive integer'],
      [{ TX_MAX_BYTES: '1e6' }, 'Invalid TX_MAX_BYTES (--tx-max-bytes): "1e6" is not a positive integer'],
      [{ CHAIN_ID: '9007199254740993' }, 'Invalid CHAIN_ID (--chain-id): "9007199254740993" is not a positive integer'],
      [{ BLOCK_GAS_LIMIT: '20999' }, 'Invalid BLOCK_GAS_LIMIT (--block-gas-limit): "20999" is not an integer of at least 21000'],
      [{ BASE_FEE_FLOOR: '-1' }, 'Invalid BASE_FEE_FLOOR (--base-fee-floor): "-1" is not a non-negative integer'],
      [{ RPC_GAS_CAP: '0' }, 'Invalid RPC_GAS_CAP (--rpc-gas-cap): "0" is not a positive integer'],
      [{ EMPTY_BLOCKS: 'maybe' }, 'Invalid EMPTY_BLOCKS (--empty-blocks): "maybe" is not one of: true, false, 1, 0, yes, no'],
      [{ HARDFORK: 'homestead' }, 'Invalid HARDFORK (--hardfork): "homestead" is not one of: london, arrowGlacier'],
      [{ LOG_LEVEL: 'verbose' }, 'Invalid LOG_LEVEL (--log-level): "verbose" is not one of: debug, info, warn, error, silent'],
      [{ EXECUTOR: 'gpu' }, 'Invalid EXECUTOR (--executor): "gpu" is not one of: sequential, parallel'],
      [{ EXECUTOR_THREADS: '0' }, 'Invalid EXECUTOR_THREADS (--executor-threads): "0" is not an integer between 1 and 256'],
      [{ FEE_RECIPIENT: '0x1234' }, 'Invalid FEE_RECIPIENT (--fee-recipient): "0x1234" is not a 20-byte hex address'],
      [{ FEE_RECIPIENT: `0x${'g'.repeat(40)}` }, `"0x${'g'.repeat(40)}" is not a 20-byte hex address`],
      // mixed case with a wrong EIP-55 checksum (the EIP's example with its first letter's case flipped)
      [{ FEE_RECIPIENT: '0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' }, 'Invalid FEE_RECIPIENT (--fee-recipient)'],
    ]
    for (const [env, message] of cases) {
      assertConfigError({ env }, message)
      // the same check applies to a flag
      const [name = '', value = ''] = Object.entries(env)[0] ?? []
      const flag = `--${name.toLowerCase().replaceAll('_', '-')}`
      assertConfigError({ argv: [`${flag}=${value}`] }, message)
    }
  })

  it('behavior: an invalid value says where it came from', () => {
    const cwd = tempCwd('RPC_PORT=x\n')
    assert.throws(() => load({ cwd }), (error: unknown) => {
      assert.ok(isMosaicError(error))
      assert.equal(error.details, `from env file ${join(cwd, '.env')}:1`)
      return true
    })
    assert.throws(() => load({ argv: ['--rpc-port', 'x'] }), { details: 'from flag --rpc-port' })
    assert.throws(() => load({ env: { RPC_PORT: 'x' } }), { details: 'from environment variable RPC_PORT' })
  })

  it('behavior: fee recipient is lowercased; valid EIP-55 checksums are accepted', () => {
    const checksummed = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed' // EIP-55's first example
    assert.equal(load({ env: { FEE_RECIPIENT: checksummed } }).feeRecipient, checksummed.toLowerCase())
    const upper = '0xABCDEF0123456789ABCDEF0123456789ABCDEF01'
    assert.equal(load({ env: { FEE_RECIPIENT: upper } }).feeRecipient, upper.toLowerCase())
  })

  it('behavior: boolean parsing', () => {
    for (const [raw, expected] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      ['Yes', true],
      ['false', false],
      ['0', false],
      ['no', false],
      ['NO', false],
    ] as const) {
      assert.equal(load({ env: { EMPTY_BLOCKS: raw } }).emptyBlocks, expected, raw)
      assert.equal(load({ argv: ['--empty-blocks', raw] }).emptyBlocks, expected, raw)
    }
    // a boolean flag alone means true, also when another flag follows
    assert.equal(load({ argv: ['--empty-blocks'] }).emptyBlocks, true)
    assert.equal(load({ argv: ['--empty-blocks', '--chain-id', '3'] }).emptyBlocks, true)
    assert.equal(load({ env: { EMPTY_BLOCKS: 'true' }, argv: ['--empty-blocks=false'] }).emptyBlocks, false)
  })

  it('behavior: paths are resolved against cwd; absolute paths are kept', () => {
    const cwd = tempCwd()
    const config = load({ cwd, argv: ['--data-dir', 'db', '--genesis-file', '/etc/genesis.json'] })
    assert.equal(config.dataDir, join(cwd, 'db'))
    assert.equal(config.genesisFile, '/etc/genesis.json')
  })

  it('behavior: big integers beyond 2^53 keep their precision', () => {
    const config = load({ env: { BLOCK_GAS_LIMIT: '36893488147419103232', BASE_FEE_FLOOR: '0' } })
    assert.equal(config.blockGasLimit, 36893488147419103232n)
    assert.equal(config.baseFeeFloor, 0n)
  })

  it('behavior: rpc port 0 (pick a free port) is allowed', () => {
    assert.equal(load({ env: { RPC_PORT: '0' } }).rpcPort, 0)
  })

  it('behavior: sequencer mode requires GENESIS_FILE and an explicit FEE_RECIPIENT', () => {
    const cwd = tempCwd()
    const config = load({ cwd, mode: 'sequencer', env: sequencerBasics })
    assert.equal(config.mode, 'sequencer')
    assert.equal(config.genesisFile, join(cwd, 'genesis.json'))
    assert.equal(config.feeRecipient, sequencerBasics.FEE_RECIPIENT)

    assertConfigError(
      { mode: 'sequencer', env: { FEE_RECIPIENT: sequencerBasics.FEE_RECIPIENT } },
      'GENESIS_FILE (--genesis-file)',
      'required in sequencer mode',
    )
    // the default fee recipient is not enough
    assertConfigError(
      { mode: 'sequencer', env: { GENESIS_FILE: 'genesis.json' } },
      'FEE_RECIPIENT (--fee-recipient)',
      'required in sequencer mode',
    )
    // an empty value counts as unset
    assertConfigError({ mode: 'sequencer', env: { ...sequencerBasics, GENESIS_FILE: '' } }, 'GENESIS_FILE')
    // devnet needs neither
    assert.equal(load({ mode: 'devnet' }).genesisFile, undefined)
  })

  it('behavior: loadConfig does not read or change process.env', () => {
    const before = { ...process.env }
    process.env.CHAIN_ID = '77'
    try {
      assert.equal(load().chainId, 901)
    } finally {
      delete process.env.CHAIN_ID
    }
    assert.deepEqual({ ...process.env }, before)
  })

  it('behavior: help lists every option with its flag, env name and default', () => {
    const help = formatConfigHelp()
    assert.ok(help.includes('--env-file'))
    for (const [key, opt] of Object.entries(configOptions)) {
      assert.ok(help.includes(`${opt.flag} <value>, ${opt.env}`), opt.env)
      const fallback = defaults[key as keyof typeof defaults]
      if (fallback !== undefined) assert.ok(help.includes(`Default: ${String(fallback)}.`), opt.env)
    }
  })

  it('behavior: .env.example is up to date and lists every option commented out', () => {
    const file = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
    // The first line that differs, not assert.equal's diff of the whole file (which can run for minutes).
    const [have, want] = [file.split('\n'), formatEnvExample().split('\n')]
    const line = want.findIndex((expected, i) => have[i] !== expected)
    assert.equal(line < 0 && have.length === want.length, true, `regenerate .env.example from formatEnvExample(): line ${line + 1} is ${JSON.stringify(have[line])}, expected ${JSON.stringify(want[line])}`)
    const lines = file.split('\n')
    for (const opt of Object.values(configOptions)) {
      const index = lines.findIndex((line) => new RegExp(`^#? *${opt.env}=`).test(line))
      assert.ok(index > 0, opt.env)
      assert.match(lines[index - 1] ?? '', /^# \S/, `${opt.env} has a description line`)
    }
  })

  it('behavior: the commented-out .env.example, uncommented, loads to the defaults', () => {
    const uncommented = formatEnvExample()
      .split('\n')
      .map((line) => line.replace(/^# ([A-Z_]+=)/, '$1'))
      .join('\n')
    const cwd = tempCwd(uncommented)
    assert.deepEqual({ ...load({ cwd }) }, { ...load({ cwd: tempCwd() }), dataDir: join(cwd, 'data') })
  })
})
