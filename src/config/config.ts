/**
 * mosaic's configuration: the one place that reads settings. Sources, in increasing priority:
 * `defaults` below, a `.env` file (`./.env`, or the file named by `--env-file`), the process
 * environment, and CLI flags. Every option is one row of `configOptions` (env name, flag,
 * value type, description), so parsing, `--help`, `.env.example` and the README table all come
 * from the same table. Nothing else in mosaic reads `process.env`: the CLI passes it in.
 *
 * Rules worth knowing:
 * - An empty value in the environment or the `.env` file counts as unset (`FOO=` is what
 *   compose files produce for a variable the host does not define).
 * - The `.env` file is ours, so an unknown key in it is an error; the process environment is
 *   shared with other programs, so it is not checked.
 * - A boolean flag given without a value (`--empty-blocks`) means `true`.
 * - In sequencer mode the options marked `requiredIn: ['sequencer']` have no default:
 *   production states those settings explicitly; replica mode needs the sequencer's URL.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'

export type Mode = 'devnet' | 'sequencer' | 'verifier' | 'replica'

// London and later: blocks carry an EIP-1559 base fee, which the mempool and the fee RPCs need.
export const hardforks = [
  'london',
  'arrowGlacier',
  'grayGlacier',
  'paris',
  'shanghai',
  'cancun',
  'prague',
  'osaka',
] as const
export type Hardfork = (typeof hardforks)[number]

export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]

/** Transaction executors; add a name here and `--executor` accepts it. */
export const executors = ['sequential', 'parallel'] as const

/** State commitment modes (`commitment/layout.ts`) and the largest k of the sharded one. */
export const COMMITMENT_MODES = ['mpt', 'sharded'] as const
export type CommitmentMode = (typeof COMMITMENT_MODES)[number]
export const MAX_SHARD_NIBBLES = 4
export type Executor = (typeof executors)[number]

// ---------------------------------------------------------------------------------------------
// Value types: one parser per type. A parser returns `invalid` for text it rejects; the loader
// turns that into an error naming the option, the source and the value.

const invalid: unique symbol = Symbol('invalid')

export type ValueType<T> = {
  /** Completes "… is not <expected>" in errors; also shown in help. */
  readonly expected: string
  /** Parses non-empty text. `cwd` resolves relative paths. */
  readonly parse: (raw: string, cwd: string) => T | typeof invalid
  /** `true` for booleans: the flag alone (`--empty-blocks`) means `true`. */
  readonly isBoolean?: true
}

const DECIMAL = /^[0-9]+$/

function integerType(min: number, max: number, expected: string): ValueType<number> {
  return {
    expected,
    parse: (raw) => {
      if (!DECIMAL.test(raw)) return invalid
      const value = Number(raw)
      return Number.isSafeInteger(value) && value >= min && value <= max ? value : invalid
    },
  }
}

function bigintType(min: bigint): ValueType<bigint> {
  const expected =
    min === 0n ? 'a non-negative integer' : min === 1n ? 'a positive integer' : `an integer of at least ${min}`
  return {
    expected,
    parse: (raw) => {
      if (!DECIMAL.test(raw)) return invalid
      const value = BigInt(raw)
      return value >= min ? value : invalid
    },
  }
}

function enumType<const T extends string>(values: readonly T[]): ValueType<T> {
  return {
    expected: `one of: ${values.join(', ')}`,
    parse: (raw) => (values as readonly string[]).includes(raw) ? (raw as T) : invalid,
  }
}

/** A count of blocks, or `all`: Infinity. */
const blockWindow: ValueType<number> = {
  expected: 'a non-negative integer or all',
  parse: (raw) => (raw === 'all' ? Number.POSITIVE_INFINITY : DECIMAL.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : invalid),
}

/** Widens a type to allow "not set"; such options default to `undefined`. */
function optional<T>(type: ValueType<T>): ValueType<T | undefined> {
  return type
}

const positiveInteger = integerType(1, Number.MAX_SAFE_INTEGER, 'a positive integer')

const port = integerType(0, 65535, 'an integer between 0 and 65535')

const string: ValueType<string> = { expected: 'a non-empty string', parse: (raw) => raw }

const httpUrl: ValueType<string> = {
  expected: 'an http:// or https:// URL',
  parse: (raw) => {
    try {
      const url = new URL(raw)
      return url.protocol === 'http:' || url.protocol === 'https:' ? raw : invalid
    } catch {
      return invalid
    }
  },
}

const path: ValueType<string> = { expected: 'a path', parse: (raw, cwd) => resolve(cwd, raw) }

const booleanWords: Record<string, boolean> = { true: true, false: false, 1: true, 0: false, yes: true, no: false }

const boolean: ValueType<boolean> = {
  expected: 'one of: true, false, 1, 0, yes, no',
  parse: (raw) => booleanWords[raw.toLowerCase()] ?? invalid,
  isBoolean: true,
}

/**
 * A 20-byte address, returned lowercase. Mixed case must carry a valid EIP-55 checksum, which
 * catches a mistyped fee recipient before it silently collects fees for nobody.
 */
const address: ValueType<`0x${string}`> = {
  expected: 'a 20-byte hex address (0x and 40 hex digits; mixed case must be a valid EIP-55 checksum)',
  parse: (raw) => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(raw)) return invalid
    const lower = raw.toLowerCase() as `0x${string}`
    const body = raw.slice(2)
    if (body === body.toLowerCase() || body === body.toUpperCase()) return lower
    return toChecksumBody(lower.slice(2)) === body ? lower : invalid
  },
}

/** EIP-55: a hex letter is upper case when the matching nibble of keccak(lowercase hex) is ≥ 8. */
function toChecksumBody(lowerHex: string): string {
  const hash = keccak256(new TextEncoder().encode(lowerHex))
  let out = ''
  for (let i = 0; i < lowerHex.length; i++) {
    const byte = hash[i >> 1] ?? 0
    const nibble = i % 2 === 0 ? byte >> 4 : byte & 0x0f
    const char = lowerHex[i] ?? ''
    out += nibble >= 8 ? char.toUpperCase() : char
  }
  return out
}

/** A secp256k1 private key: 0x and 64 hex digits. */
const privateKey: ValueType<`0x${string}`> = {
  expected: 'a private key (0x and 64 hex digits)',
  parse: (raw) => (/^0x[0-9a-fA-F]{64}$/.test(raw) ? (raw.toLowerCase() as `0x${string}`) : invalid),
}

const redisUrl: ValueType<string> = {
  expected: 'a redis:// or rediss:// URL',
  parse: (raw) => {
    try {
      const url = new URL(raw)
      return url.protocol === 'redis:' || url.protocol === 'rediss:' ? raw : invalid
    } catch {
      return invalid
    }
  },
}

/** Where batch data goes on the L1 (`l1/poster.ts`). */
export const DA_MODES = ['calldata', 'blobs'] as const

// ---------------------------------------------------------------------------------------------
// The option table.

export type ConfigOption<T> = {
  /** Environment variable (and `.env` key), e.g. `RPC_PORT`. */
  readonly env: string
  /** CLI flag, the env name in kebab case, e.g. `--rpc-port`. */
  readonly flag: string
  readonly type: ValueType<T>
  readonly description: string
  /** Modes in which the option has no default and must be given. */
  readonly requiredIn: readonly Mode[]
}

function option<T>(
  env: string,
  type: ValueType<T>,
  description: string,
  requiredIn: readonly Mode[] = [],
  flag = `--${env.toLowerCase().replaceAll('_', '-')}`,
): ConfigOption<T> {
  return { env, flag, type, description, requiredIn }
}

/** Every option, keyed by its `Config` field. Order is the order of `--help` and `.env.example`. */
export const configOptions = {
  chainId: option('CHAIN_ID', positiveInteger, 'Chain id of the rollup (EIP-155); a GENESIS_FILE\'s config.chainId takes precedence.'),
  rpcHost: option('RPC_HOST', string, 'Interface the JSON-RPC server listens on.'),
  rpcPort: option('RPC_PORT', port, 'Port of the JSON-RPC server; 0 picks a free port.'),
  dataDir: option('DATA_DIR', path, 'Directory of the chain database, resolved against the working directory. One node at a time: a node holds it (its LOCK file) and another is refused it.'),
  blockTimeMs: option('BLOCK_TIME_MS', positiveInteger, 'Interval between blocks, in milliseconds.'),
  emptyBlocks: option('EMPTY_BLOCKS', boolean, 'Seal a block every interval even when it has no transactions. Off, an empty block is still sealed when a pooled transaction waits for the base fee to fall below its fee cap.'),
  miniblockMs: option(
    'MINIBLOCK_MS',
    positiveInteger,
    'Interval between mini-batches, in milliseconds: transactions pooled since the last one are executed on top of the open block, made durable and preconfirmed (eth_sendRawTransactionSync answers, receipts and the pending tag show them); a block is its mini-batches, sealed every BLOCK_TIME_MS or once the next transaction does not fit in the gas it has left. At BLOCK_TIME_MS or more there are none: each block is executed whole when sealed, from the pooled transactions whose gas limits fit in it.',
  ),
  blockGasLimit: option('BLOCK_GAS_LIMIT', bigintType(21000n), 'Gas limit of every block (at least one transfer).'),
  feeRecipient: option(
    'FEE_RECIPIENT',
    address,
    'Address credited with priority fees (the block coinbase); required in sequencer mode.',
    ['sequencer'],
  ),
  genesisFile: option(
    'GENESIS_FILE',
    optional(path),
    'Geth-style genesis JSON; devnet uses the built-in dev genesis when unset; required in sequencer mode.',
    ['sequencer'],
  ),
  hardfork: option('HARDFORK', enumType(hardforks), 'Hardfork whose rules blocks execute under.'),
  baseFeeFloor: option(
    'BASE_FEE_FLOOR',
    bigintType(0n),
    'Lowest base fee in wei (EIP-1559); the base fee never drops below it and txs whose max fee is below it are refused.',
  ),
  mempoolMaxTxs: option('MEMPOOL_MAX_TXS', positiveInteger, 'Most transactions the mempool holds.'),
  mempoolMaxPerSender: option('MEMPOOL_MAX_PER_SENDER', positiveInteger, 'Most mempool transactions per sender.'),
  txMaxBytes: option('TX_MAX_BYTES', positiveInteger, 'Largest accepted raw transaction, in bytes.'),
  rpcMaxBodyBytes: option('RPC_MAX_BODY_BYTES', positiveInteger, 'Largest accepted JSON-RPC request body, in bytes.'),
  rpcMaxBatch: option('RPC_MAX_BATCH', positiveInteger, 'Most requests in one JSON-RPC batch.'),
  rpcMaxConcurrent: option(
    'RPC_MAX_CONCURRENT',
    positiveInteger,
    'Most JSON-RPC HTTP requests handled at once; beyond it requests are refused at once with HTTP 429 and error -32005.',
  ),
  chainCacheBytes: option(
    'CHAIN_CACHE_BYTES',
    positiveInteger,
    'Memory budget, in bytes, of the decoded blocks and receipts kept for RPC reads (estimated; least recently used go first).',
  ),
  stateCacheBytes: option(
    'STATE_CACHE_BYTES',
    positiveInteger,
    'Memory budget, in bytes, of the flat state (accounts, slots, code) kept in memory (estimated; shared by the parallel executor\'s workers, each keeping its own share); what was not used for longest is read from LMDB again.',
  ),
  trieCacheBytes: option(
    'TRIE_CACHE_BYTES',
    positiveInteger,
    'Memory budget, in bytes, of the trie nodes the commitment workers keep (estimated; split among them); past it the deepest levels are released and read from LMDB again when a path needs them.',
  ),
  historyBlocks: option(
    'HISTORY_BLOCKS',
    optional(blockWindow),
    'How many blocks behind the head keep their state readable (eth_getBalance, eth_call, … at a past block), from change sets kept in `DATA_DIR/changesets/`; 0 serves the head only. Unset: all in devnet mode, 90000 otherwise (geth\'s default).',
  ),
  trieHistoryBlocks: option('TRIE_HISTORY_BLOCKS', optional(blockWindow), 'How many blocks behind the commitment head keep their whole state trie in LMDB (eth_getProof at a past block); trie nodes that left the tries before that are deleted. Unset: all in devnet mode, 128 otherwise (geth\'s in-memory tries).'),
  rpcGetLogsMaxRange: option('RPC_GETLOGS_MAX_RANGE', positiveInteger, 'Widest block range of one eth_getLogs call.'),
  rpcGetLogsMaxResults: option('RPC_GETLOGS_MAX_RESULTS', positiveInteger, 'Most logs one eth_getLogs call returns.'),
  rpcGasCap: option('RPC_GAS_CAP', bigintType(1n), 'Most gas eth_call and eth_estimateGas may use.'),
  rpcSyncTimeoutMs: option(
    'RPC_SYNC_TIMEOUT_MS',
    positiveInteger,
    'Default and maximum timeout of eth_sendRawTransactionSync (EIP-7966), in milliseconds.',
  ),
  rpcTraceTimeoutMs: option(
    'RPC_TRACE_TIMEOUT_MS',
    positiveInteger,
    'Longest a debug_trace* call may run, in milliseconds (a call\'s own `timeout` option can only lower it); beyond it the trace is refused.',
  ),
  rpcTraceMaxBytes: option('RPC_TRACE_MAX_BYTES', positiveInteger, 'Largest result of one debug_trace* call, in bytes, counted as it is built; beyond it the trace is refused.'),
  rpcMaxFilters: option(
    'RPC_MAX_FILTERS',
    positiveInteger,
    'Most filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter) installed at once; beyond it error -32005. A filter not polled for 5 minutes is removed.',
  ),
  wsMaxConnections: option(
    'WS_MAX_CONNECTIONS',
    positiveInteger,
    'Most WebSocket connections to the RPC port at once; beyond it the upgrade is refused with HTTP 503.',
  ),
  wsMaxSubscriptions: option('WS_MAX_SUBSCRIPTIONS', positiveInteger, 'Most eth_subscribe subscriptions of one WebSocket connection; beyond it error -32005.'),
  wsMaxInFlight: option(
    'WS_MAX_IN_FLIGHT',
    positiveInteger,
    'Most requests of one WebSocket connection handled at once; while it has that many, its further messages wait unread.',
  ),
  wsMaxBufferedBytes: option(
    'WS_MAX_BUFFERED_BYTES',
    positiveInteger,
    'Most bytes waiting to be sent to one WebSocket connection; a client reading slower than that is disconnected (close code 1008).',
  ),
  adminToken: option(
    'ADMIN_TOKEN',
    optional(string),
    'Bearer token for the admin_* RPC methods; they are disabled when unset.',
  ),
  logLevel: option('LOG_LEVEL', enumType(logLevels), 'Least severe log level printed.'),
  executor: option(
    'EXECUTOR',
    enumType(executors),
    'Transaction executor: sequential (the reference), or parallel (optimistic, on worker threads; identical result).',
  ),
  executorThreads: option(
    'EXECUTOR_THREADS',
    optional(integerType(1, 256, 'an integer between 1 and 256')),
    'Worker threads of the parallel executor, beside the main thread, which runs a share of every round itself; unset: one per core but one (at least 1).',
  ),
  recoveryThreads: option(
    'RECOVERY_THREADS',
    integerType(0, 64, 'an integer between 0 and 64'),
    'With EXECUTOR=sequential: worker threads that recover incoming transactions\' senders (ecrecover; each loads only libsecp256k1, ~3 MB); 0 recovers them on the main thread, as a lone transaction at a low rate is anyway (waking a worker costs more than the recovery). The parallel executor recovers on its own workers.',
  ),
  stateCommitment: option(
    'STATE_COMMITMENT',
    enumType(COMMITMENT_MODES),
    'State commitment: mpt (one Ethereum account trie; standard roots and eth_getProof) or sharded (16^SHARD_NIBBLES tries under a binary Merkle tree). Fixed per data dir.',
  ),
  shardNibbles: option(
    'SHARD_NIBBLES',
    integerType(1, MAX_SHARD_NIBBLES, `an integer between 1 and ${MAX_SHARD_NIBBLES}`),
    'k of the sharded commitment: 16^k shards chosen by the first k nibbles of keccak(address).',
  ),
  stateRootLag: option(
    'STATE_ROOT_LAG',
    integerType(0, 64, 'an integer between 0 and 64'),
    'L: the header of block N carries the state root after block N−L; block production waits when the root pipeline is further behind. 0 computes it before sealing.',
  ),
  commitmentThreads: option(
    'COMMITMENT_THREADS',
    optional(integerType(1, 256, 'an integer between 1 and 256')),
    'Worker threads updating and hashing the state tries; unset: one per core but one (at least 1, at most 8).',
  ),
  sequencerRpcUrl: option(
    'SEQUENCER_RPC_URL',
    optional(httpUrl),
    'mosaic verifier and mosaic replica: JSON-RPC URL of the sequencer whose blocks are verified or replicated (the verifier takes --files instead).',
    ['replica'],
    '--rpc',
  ),
  verifyFrom: option('VERIFY_FROM', positiveInteger, 'mosaic verifier: first block to verify.', [], '--from'),
  verifyTo: option(
    'VERIFY_TO',
    optional(positiveInteger),
    'mosaic verifier: last block to verify, then exit (non-zero if any failed); unset: follow the sequencer’s head.',
    [],
    '--to',
  ),
  verifyFiles: option(
    'VERIFY_FILES',
    optional(path),
    'mosaic verifier: verify the block bundles (block-<n>.json) in this directory instead of asking a sequencer.',
    [],
    '--files',
  ),
  verifyExport: option(
    'VERIFY_EXPORT',
    optional(path),
    'mosaic verifier: also write each block verified over --rpc as a bundle (block-<n>.json) into this directory.',
    [],
    '--export',
  ),
  verifyStatusPort: option(
    'VERIFY_STATUS_PORT',
    port,
    'mosaic verifier: port of its status server (GET /health, GET /metrics, JSON-RPC mosaic_verifierStatus); 0 picks a free port.',
    [],
    '--status-port',
  ),
  verifyTimestampDrift: option(
    'VERIFY_TIMESTAMP_DRIFT',
    integerType(0, 86_400, 'a number of seconds between 0 and 86400'),
    'mosaic verifier and replica: how far, in seconds, a block\'s timestamp may be after their clock (--rpc, --files) or after the L1 block that included its batch (verifier --l1).',
  ),
  verifyDeadlineMs: option(
    'VERIFY_DEADLINE_MS',
    positiveInteger,
    'mosaic verifier: a block whose data stays unavailable (or keeps not matching the L1\'s commitment) this long gets a FAILED verdict ("data withheld"); /health answers 503 while a block has waited this long without an OK verdict.',
  ),
  verifyMaxWitnessBytes: option('VERIFY_MAX_WITNESS_BYTES', positiveInteger, 'mosaic verifier and replica: largest witness, decompressed, in bytes; a larger one is a FAILED verdict.'),
  verifyMaxBatchBytes: option('VERIFY_MAX_BATCH_BYTES', positiveInteger, 'mosaic verifier: largest batch data read from the L1, decompressed, in bytes; larger is a FAILED verdict.'),
  verifyMaxResponseBytes: option(
    'VERIFY_MAX_RESPONSE_BYTES',
    positiveInteger,
    'mosaic verifier and replica: largest JSON-RPC or beacon API answer read, in bytes; a larger one is a transport error (retried until VERIFY_DEADLINE_MS).',
  ),
  verifyFetchTimeoutMs: option('VERIFY_FETCH_TIMEOUT_MS', positiveInteger, 'mosaic verifier and replica: timeout of each request to a sequencer, the L1 or a beacon API.'),
  verifyL1Confirmations: option(
    'VERIFY_L1_CONFIRMATIONS',
    integerType(1, 128, 'an integer between 1 and 128'),
    'mosaic verifier --l1: L1 blocks (including its own) before a batch is verified; 1 follows the L1\'s latest block. A batch an L1 reorg replaces is verified again.',
  ),
  l1RpcUrl: option(
    'L1_RPC_URL',
    optional(httpUrl),
    'JSON-RPC URL of the L1. devnet: unset starts anvil on a free port; sequencer: batches are posted only when set; verifier: with --inbox, verifies the batches on this L1.',
    [],
    '--l1',
  ),
  l1BeaconUrl: option('L1_BEACON_URL', optional(httpUrl), 'Beacon API URL blob frames are read from; unset: L1_RPC_URL (anvil serves both).'),
  inboxAddress: option(
    'INBOX_ADDRESS',
    optional(address),
    'Address of the inbox contract on the L1; devnet deploys one when unset.',
    [],
    '--inbox',
  ),
  l1PrivateKey: option(
    'L1_PRIVATE_KEY',
    optional(privateKey),
    'Key of the account that posts batches (the inbox\'s sequencer); devnet: anvil\'s first dev account.',
  ),
  daMode: option('DA_MODE', enumType(DA_MODES), 'Where batch data goes: calldata (postFrame calls) or blobs (EIP-4844 blob transactions).'),
  batchMaxBlocks: option('BATCH_MAX_BLOCKS', positiveInteger, 'Most blocks in one batch.'),
  batchMaxBytes: option('BATCH_MAX_BYTES', positiveInteger, 'Most bytes of compressed data in one batch (a batch over it is closed earlier; it is split into frames).'),
  batchMaxAgeMs: option('BATCH_MAX_AGE_MS', positiveInteger, 'A batch is posted once its first block has waited this long, even if not full.'),
  frameBytes: option('FRAME_BYTES', integerType(1, 126_976, 'an integer between 1 and 126976'), 'Largest calldata frame (one L1 transaction) of batch data.'),
  l1Confirmations: option('L1_CONFIRMATIONS', integerType(1, 128, 'an integer between 1 and 128'), 'L1 blocks (including its own) before a posted transaction counts.'),
  l1ResendMs: option('L1_RESEND_MS', positiveInteger, 'A posted L1 transaction not mined within this is replaced with fees bumped by 12.5%.'),
  redisUrl: option('REDIS_URL', optional(redisUrl), 'Redis for the job queues (BullMQ), shared by every process on it; unset: in-process queues.'),
  queuePrefix: option('QUEUE_PREFIX', string, 'Namespace of the queues in Redis; processes that share jobs use the same.'),
} as const

type ConfigOptions = typeof configOptions
type ConfigKey = keyof ConfigOptions
type ConfigValues = { readonly [K in ConfigKey]: ConfigOptions[K] extends ConfigOption<infer T> ? T : never }

export type Config = ConfigValues & { readonly mode: Mode }

/** The sequencer's history window when HISTORY_BLOCKS is unset: geth's (`--history.state`). */
export const DEFAULT_HISTORY_BLOCKS = 90_000

/** HISTORY_BLOCKS as it applies: Infinity keeps every block's state readable. */
export function historyWindow(config: Pick<Config, 'historyBlocks' | 'mode'>): number {
  return config.historyBlocks ?? (config.mode === 'devnet' ? Number.POSITIVE_INFINITY : DEFAULT_HISTORY_BLOCKS)
}

/** The commitment's trie window when TRIE_HISTORY_BLOCKS is unset: as many blocks as geth keeps tries for in memory. */
export const DEFAULT_TRIE_HISTORY_BLOCKS = 128

/** TRIE_HISTORY_BLOCKS as it applies: Infinity keeps every trie node. */
export function trieHistoryWindow(config: Pick<Config, 'trieHistoryBlocks' | 'mode'>): number {
  return config.trieHistoryBlocks ?? (config.mode === 'devnet' ? Number.POSITIVE_INFINITY : DEFAULT_TRIE_HISTORY_BLOCKS)
}

/**
 * Built-in defaults, the lowest-priority source. A default is treated exactly like the same
 * text given by the user (so `dataDir` is resolved against the working directory).
 */
export const defaults: ConfigValues = {
  chainId: 901,
  rpcHost: '127.0.0.1',
  rpcPort: 8545,
  dataDir: './data',
  blockTimeMs: 250,
  emptyBlocks: false,
  miniblockMs: 20,
  blockGasLimit: 30_000_000n,
  feeRecipient: '0x4200000000000000000000000000000000000011',
  genesisFile: undefined,
  hardfork: 'prague',
  baseFeeFloor: 1_000_000n, // 0.001 gwei
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
}

const configKeys = Object.keys(configOptions) as ConfigKey[]

const ENV_FILE_FLAG = '--env-file'

// ---------------------------------------------------------------------------------------------
// Loading.

export type LoadConfigParameters = {
  /** CLI arguments after the subcommand. */
  argv: readonly string[]
  /** The process environment (tests pass a plain object). */
  env: Readonly<Record<string, string | undefined>>
  /** Working directory: where `.env` is looked for and relative paths are resolved. */
  cwd: string
  mode: Mode
}

/** A raw value and where it came from, for error details. */
type Given = { raw: string; source: string }

/** Parses and validates the configuration. Throws `MosaicError('CONFIG_INVALID')`. */
export function loadConfig({ argv, env, cwd, mode }: LoadConfigParameters): Config {
  const cli = parseArgv(argv)
  const envFilePath = resolve(cwd, cli.envFile ?? '.env')
  const envFile = readEnvFile(envFilePath, cli.envFile !== undefined)

  const values: Record<string, unknown> = { mode }
  for (const key of configKeys) {
    const opt: ConfigOption<unknown> = configOptions[key]
    const envValue = env[opt.env]
    const given: Given | undefined =
      cli.flags.get(key) ??
      (envValue ? { raw: envValue, source: `environment variable ${opt.env}` } : undefined) ??
      envFile.get(opt.env)
    if (given === undefined && opt.requiredIn.includes(mode)) {
      throw configError(`Missing ${name(opt)}: required in ${mode} mode, which takes no default for it`)
    }
    const fallback = defaults[key]
    const { raw, source } = given ?? { raw: fallback === undefined ? undefined : String(fallback), source: 'default' }
    values[key] = raw === undefined ? undefined : parseValue(opt, raw, source, cwd)
  }
  const config = values as Config
  checkTogether(config)
  return Object.freeze(config)
}

/** Options that only make sense together. */
function checkTogether(config: Config): void {
  const opt = (key: ConfigKey) => name(configOptions[key])
  if (config.mode === 'sequencer' && config.l1RpcUrl !== undefined) {
    if (config.inboxAddress === undefined) throw configError(`Missing ${opt('inboxAddress')}: a sequencer posting to ${opt('l1RpcUrl')} needs its inbox`)
    if (config.l1PrivateKey === undefined) throw configError(`Missing ${opt('l1PrivateKey')}: a sequencer posting to ${opt('l1RpcUrl')} signs with it`)
  }
  if (config.mode === 'verifier' && (config.l1RpcUrl === undefined) !== (config.inboxAddress === undefined)) {
    throw configError(`${opt('l1RpcUrl')} and ${opt('inboxAddress')} go together: the verifier follows the batches of that inbox on that L1`)
  }
}

function parseValue(opt: ConfigOption<unknown>, raw: string, source: string, cwd: string): unknown {
  const value = opt.type.parse(raw, cwd)
  if (value === invalid) {
    throw configError(`Invalid ${name(opt)}: ${JSON.stringify(raw)} is not ${opt.type.expected}`, `from ${source}`)
  }
  return value
}

const name = (opt: ConfigOption<unknown>): string => `${opt.env} (${opt.flag})`

function configError(message: string, details?: string): MosaicError {
  return new MosaicError('CONFIG_INVALID', message, details === undefined ? {} : { details })
}

const keyByFlag = new Map<string, ConfigKey>(configKeys.map((key) => [configOptions[key].flag, key]))

/** `--flag value` and `--flag=value`; the last occurrence of a flag wins. */
function parseArgv(argv: readonly string[]): { flags: Map<ConfigKey, Given>; envFile: string | undefined } {
  const flags = new Map<ConfigKey, Given>()
  let envFile: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (!arg.startsWith('-')) {
      throw configError(`Unexpected argument ${JSON.stringify(arg)}: options are given as --name value (see mosaic --help)`)
    }
    const eq = arg.indexOf('=')
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const key = keyByFlag.get(flag)
    if (key === undefined && flag !== ENV_FILE_FLAG) throw configError(`Unknown option ${flag} (see mosaic --help)`)

    let raw = eq === -1 ? undefined : arg.slice(eq + 1)
    const next = argv[i + 1]
    if (raw === undefined && next !== undefined && !next.startsWith('--')) {
      raw = next
      i++
    }
    if (raw === undefined && key !== undefined && configOptions[key].type.isBoolean) raw = 'true'
    if (!raw) {
      const label = key === undefined ? flag : `${flag} (${configOptions[key].env})`
      throw configError(`Option ${label} is missing its value`)
    }

    if (key === undefined) envFile = raw
    else flags.set(key, { raw, source: `flag ${flag}` })
  }
  return { flags, envFile }
}

const envNames = new Set(configKeys.map((key) => configOptions[key].env))

/**
 * Reads a `.env` file: `KEY=VALUE` lines, `#` comments (whole lines, or after whitespace in an
 * unquoted value), an optional `export ` prefix, and values optionally in single quotes
 * (literal) or double quotes (`\n`, `\t`, `\"`, `\\` escapes). A missing file is fine unless it
 * was named with `--env-file`. Returns the non-empty values by key.
 */
function readEnvFile(file: string, explicit: boolean): Map<string, Given> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw new MosaicError('CONFIG_INVALID', `Cannot read env file ${file} (${ENV_FILE_FLAG})`, { cause: error })
  }

  const values = new Map<string, Given>()
  const lines = text.split(/\r?\n/)
  for (const [index, line] of lines.entries()) {
    const where = `${file}:${index + 1}`
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(trimmed)
    if (!match) throw configError(`Malformed line in env file ${where}: expected KEY=VALUE`)
    const [, key = '', rest = ''] = match
    if (!envNames.has(key)) throw configError(`Unknown key ${key} in env file ${where} (see mosaic --help)`)
    const raw = parseEnvValue(rest)
    if (raw === undefined) throw configError(`Malformed value of ${key} in env file ${where}: unterminated quote`)
    if (raw !== '') values.set(key, { raw, source: `env file ${where}` })
  }
  return values
}

const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' }

/** The value part of a `.env` line; `undefined` when a quote is unterminated or followed by junk. */
function parseEnvValue(rest: string): string | undefined {
  const quote = rest[0]
  if (quote !== '"' && quote !== "'") return rest.replace(/\s+#.*$/, '').trim()
  const pattern = quote === '"' ? /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/ : /^'([^']*)'\s*(?:#.*)?$/
  const body = pattern.exec(rest)?.[1]
  if (body === undefined || quote === "'") return body
  return body.replace(/\\(.)/g, (escape, char: string) => DOUBLE_QUOTE_ESCAPES[char] ?? escape)
}

// ---------------------------------------------------------------------------------------------
// Rendering the table.

const defaultText = (key: ConfigKey): string | undefined => {
  const value = defaults[key]
  return value === undefined ? undefined : String(value)
}

/** The options section of `mosaic --help`. */
export function formatConfigHelp(): string {
  const lines = [
    'Options (each also settable as an environment variable or in .env;',
    'flags override the environment, which overrides .env, which overrides the defaults):',
    '',
    `  ${ENV_FILE_FLAG} <path>`,
    '      Read settings from this file instead of ./.env.',
  ]
  for (const key of configKeys) {
    const opt: ConfigOption<unknown> = configOptions[key]
    const fallback = defaultText(key)
    lines.push(
      `  ${opt.flag} <value>, ${opt.env}`,
      `      ${opt.description}`,
      `      Value: ${opt.type.expected}. ${fallback === undefined ? 'Default: none.' : `Default: ${fallback}.`}`,
    )
  }
  return lines.join('\n')
}

/** The contents of `.env.example`: every option, commented out at its default. */
export function formatEnvExample(): string {
  const lines = [
    '# mosaic configuration. Copy to .env and uncomment what you change.',
    '# CLI flags override the environment, which overrides this file. Generated from src/config/config.ts.',
  ]
  for (const key of configKeys) {
    const opt: ConfigOption<unknown> = configOptions[key]
    lines.push('', `# ${opt.description} Value: ${opt.type.expected}.`, `# ${opt.env}=${defaultText(key) ?? ''}`)
  }
  return `${lines.join('\n')}\n`
}

/** The configuration table of README.md (a test keeps the README equal to it). */
export function formatConfigMarkdown(): string {
  const lines = ['| Environment variable | Flag | Default | Value | Meaning |', '|---|---|---|---|---|']
  for (const key of configKeys) {
    const opt: ConfigOption<unknown> = configOptions[key]
    const fallback = defaultText(key)
    const cell = (text: string) => text.replaceAll('|', '\\|')
    lines.push(`| \`${opt.env}\` | \`${opt.flag}\` | ${fallback === undefined ? '—' : `\`${fallback}\``} | ${cell(opt.type.expected)} | ${cell(opt.description)} |`)
  }
  lines.push(`| — | \`${ENV_FILE_FLAG}\` | \`./.env\` | path | Read settings from this file instead of ./.env. |`)
  return lines.join('\n')
}
