/**
 * Genesis from a geth-style genesis JSON (`config.chainId`, `alloc`, `gasLimit`,
 * `baseFeePerGas`, `timestamp`, `extraData`, `coinbase`), or the built-in devnet genesis.
 */
import { readFileSync } from 'node:fs'
import { createBlock, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { concatBytes, hexToBytes, isHexString, KECCAK256_NULL, setLengthLeft, unpadBytes } from '@ethereumjs/util'
import type { Config } from '../config/config.ts'
import { keccak256 } from '../crypto/crypto.ts'
import type { ChainBlock } from './chain.ts'
import { MosaicError } from '../errors.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { DEV_ACCOUNT_BALANCE, type DevAccount } from './dev-accounts.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export type GenesisAlloc = Record<
  string,
  { balance?: string; nonce?: string | number; code?: string; storage?: Record<string, string> }
>

export type GethGenesisJSON = {
  config?: { chainId?: number }
  alloc?: GenesisAlloc
  gasLimit?: string
  baseFeePerGas?: string
  timestamp?: string
  extraData?: string
  coinbase?: string
}

/** A validated genesis: the header fields of block 0 and the initial state. */
export type Genesis = {
  readonly chainId: number
  readonly gasLimit: bigint
  readonly baseFeePerGas: bigint
  readonly timestamp: bigint
  readonly extraData: Uint8Array
  readonly state: StateDelta
}

function fail(source: string, message: string): never {
  throw new MosaicError('GENESIS_INVALID', `Invalid genesis (${source}): ${message}`)
}

function parseQuantity(value: unknown, field: string, source: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) return BigInt(value)
  return fail(source, `${field} must be a non-negative integer (decimal or 0x-hex), got ${JSON.stringify(value)}`)
}

function parseBytes(value: unknown, field: string, source: string, length?: number): Uint8Array {
  if (typeof value !== 'string' || !isHexString(value) || value.length % 2 !== 0) {
    return fail(source, `${field} must be 0x-prefixed hex bytes, got ${JSON.stringify(value)}`)
  }
  const bytes = hexToBytes(value)
  if (length !== undefined && bytes.length > length) fail(source, `${field} is longer than ${length} bytes`)
  return bytes
}

export type ParseGenesisOptions = {
  /** Used when the JSON has no `config.chainId`. */
  defaultChainId: number
  defaultGasLimit: bigint
  defaultBaseFee: bigint
  source: string
}

export function parseGenesis(json: unknown, options: ParseGenesisOptions): Genesis {
  const { source } = options
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(source, 'not a JSON object')
  const g = json as GethGenesisJSON
  const chainId = g.config?.chainId ?? options.defaultChainId
  if (!Number.isSafeInteger(chainId) || chainId <= 0) fail(source, `config.chainId must be a positive integer`)
  const state = createStateDelta()
  for (const [addressHex, entry] of Object.entries(g.alloc ?? {})) {
    const prefixed = addressHex.startsWith('0x') ? addressHex : `0x${addressHex}`
    const address = parseBytes(prefixed, `alloc key ${addressHex}`, source)
    if (address.length !== 20) fail(source, `alloc key ${addressHex} is not a 20-byte address`)
    if (typeof entry !== 'object' || entry === null) fail(source, `alloc[${addressHex}] must be an object`)
    const key = bytesToUnprefixedHex(address)
    let codeHash = KECCAK256_NULL
    if (entry.code !== undefined && entry.code !== '0x' && entry.code !== '') {
      const code = parseBytes(entry.code, `alloc[${addressHex}].code`, source)
      codeHash = keccak256(code)
      state.code.set(bytesToUnprefixedHex(codeHash), code)
    }
    state.accounts.set(key, {
      nonce: parseQuantity(entry.nonce ?? 0, `alloc[${addressHex}].nonce`, source),
      balance: parseQuantity(entry.balance ?? 0, `alloc[${addressHex}].balance`, source),
      codeHash,
    })
    const slots = new Map<string, Uint8Array>()
    for (const [slot, value] of Object.entries(entry.storage ?? {})) {
      const slotBytes = setLengthLeft(parseBytes(slot, `alloc[${addressHex}].storage key`, source, 32), 32)
      const valueBytes = unpadBytes(parseBytes(value, `alloc[${addressHex}].storage[${slot}]`, source, 32))
      if (valueBytes.length > 0) slots.set(bytesToUnprefixedHex(slotBytes), valueBytes)
    }
    if (slots.size > 0) state.storage.set(key, slots)
  }
  return {
    chainId,
    gasLimit: g.gasLimit === undefined ? options.defaultGasLimit : parseQuantity(g.gasLimit, 'gasLimit', source),
    baseFeePerGas:
      g.baseFeePerGas === undefined ? options.defaultBaseFee : parseQuantity(g.baseFeePerGas, 'baseFeePerGas', source),
    timestamp: g.timestamp === undefined ? 0n : parseQuantity(g.timestamp, 'timestamp', source),
    extraData: g.extraData === undefined ? new Uint8Array() : parseBytes(g.extraData, 'extraData', source, 32),
    state,
  }
}

function readGenesisFile(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (cause) {
    throw new MosaicError('GENESIS_INVALID', `Cannot read genesis file ${path}`, { cause })
  }
}

export function loadGenesisFile(path: string, options: Omit<ParseGenesisOptions, 'source'>): Genesis {
  const text = readGenesisFile(path).toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new MosaicError('GENESIS_INVALID', `Genesis file ${path} is not valid JSON`, { cause })
  }
  return parseGenesis(json, { ...options, source: path })
}

/** The devnet genesis: the dev accounts funded with 10,000 ETH each. */
export function devGenesisJSON(chainId: number, accounts: readonly DevAccount[]): GethGenesisJSON {
  return {
    config: { chainId },
    alloc: Object.fromEntries(accounts.map((a) => [a.address, { balance: `0x${DEV_ACCOUNT_BALANCE.toString(16)}` }])),
  }
}

/**
 * The configured genesis: GENESIS_FILE, or the built-in devnet genesis funding `devAccounts`
 * (the devnet's, its replicas' and its verifiers'; none for a sequencer, which needs a file).
 */
export function loadChainGenesis(config: Pick<Config, 'chainId' | 'blockGasLimit' | 'genesisFile'>, devAccounts: readonly DevAccount[]): Genesis {
  const defaults = { defaultChainId: config.chainId, defaultGasLimit: config.blockGasLimit, defaultBaseFee: 1_000_000_000n }
  if (config.genesisFile !== undefined) return loadGenesisFile(config.genesisFile, defaults)
  return parseGenesis(devGenesisJSON(config.chainId, devAccounts), { ...defaults, source: 'built-in devnet genesis' })
}

/**
 * What block 0 is built from, hashed: the genesis file's bytes (or the built-in devnet genesis),
 * the defaults a file may leave out (CHAIN_ID, BLOCK_GAS_LIMIT), the hardfork (header fields) and
 * the commitment layout (the state root). A data dir records it at its first start; a start whose
 * digest matches reads block 0 from the store instead of parsing the genesis and computing its
 * root again (at a million accounts, minutes and gigabytes). Any other start computes the root
 * and compares the genesis hash, so a file reformatted but equal is still accepted.
 */
export function genesisDigest(config: Pick<Config, 'chainId' | 'blockGasLimit' | 'genesisFile' | 'hardfork'>, devAccounts: readonly DevAccount[], layout: string): Uint8Array {
  const source = config.genesisFile !== undefined ? readGenesisFile(config.genesisFile) : new TextEncoder().encode(JSON.stringify(devGenesisJSON(config.chainId, devAccounts)))
  const context = new TextEncoder().encode(JSON.stringify({ digest: 1, chainId: config.chainId, blockGasLimit: String(config.blockGasLimit), hardfork: config.hardfork, layout }))
  return keccak256(concatBytes(context, source))
}

/** Block 0: the genesis header committing to the genesis state's root in the configured layout. */
export function genesisBlock(genesis: Genesis, common: Common, stateRoot: Uint8Array): ChainBlock {
  const header = createBlockHeader(
    {
      number: 0n,
      gasLimit: genesis.gasLimit,
      baseFeePerGas: genesis.baseFeePerGas,
      timestamp: genesis.timestamp,
      extraData: genesis.extraData,
      stateRoot,
    },
    { common, setHardfork: false },
  )
  const block = createBlock({ header, ...(common.isActivatedEIP(4895) ? { withdrawals: [] } : {}) }, { common, setHardfork: false })
  return { block, hash: block.hash(), senders: [], receipts: [] }
}
