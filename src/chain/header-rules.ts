/**
 * The chain's header rules — one owner for what a block's header must be given its parent: the
 * sequencer builds each header template from them (`sequencer.ts` `nextHeader`), and verifiers
 * and replicas check every header against them (`validateChildHeader`), naming the field that
 * breaks a rule.
 *
 * A header of block N is fixed by its parent and the chain's configuration except for:
 * - the timestamp: not before the parent's (several blocks may share a second), and not after
 *   what the checker can vouch for (its clock, or the L1 block that included the batch, plus a
 *   drift);
 * - the execution results (gas used, transactions, receipts and bloom), which re-execution checks;
 * - the state root, which is the root after block max(N − L, 0) (the lagged root).
 */
import { type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { blockCommonFor } from './common.ts'
import { type Address, createAddressFromString, equalsBytes } from '@ethereumjs/util'
import type { Config } from '../config/config.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { VerificationError } from '../errors.ts'
import { nextBaseFee } from './base-fee.ts'
import { bytesToHex } from '../utils/hex.ts'

export type HeaderRules = {
  readonly common: Common
  /** Every block's gas limit (the chain keeps one limit). */
  readonly gasLimit: bigint
  /** The coinbase of every block. */
  readonly feeRecipient: Address
  readonly baseFeeFloor: bigint
  /** L: the header of block N carries the state root after block max(N − L, 0). */
  readonly stateRootLag: number
}

/** The header rules a configuration sets (the sequencer's, and its verifiers' and replicas' own). */
export function headerRulesOf(config: Pick<Config, 'blockGasLimit' | 'feeRecipient' | 'baseFeeFloor' | 'stateRootLag'>, common: Common): HeaderRules {
  return {
    common,
    gasLimit: config.blockGasLimit,
    feeRecipient: createAddressFromString(config.feeRecipient),
    baseFeeFloor: config.baseFeeFloor,
    stateRootLag: config.stateRootLag,
  }
}

export type ParentHeader = { readonly header: BlockHeader; readonly hash: Uint8Array }

/** The fields of the child's header that the parent and the rules fix. */
export function childHeaderFields(parent: ParentHeader, rules: HeaderRules) {
  const p = parent.header
  return {
    parentHash: parent.hash,
    number: p.number + 1n,
    gasLimit: rules.gasLimit,
    coinbase: rules.feeRecipient,
    baseFeePerGas: nextBaseFee({ gasLimit: p.gasLimit, gasUsed: p.gasUsed, baseFeePerGas: p.baseFeePerGas ?? 0n }, rules.baseFeeFloor),
    // prevRandao: deterministic from the parent, so a verifier can re-derive it.
    mixHash: keccak256(parent.hash),
  }
}

/** The header template of the child of `parent` at `timestamp` (never before the parent's). */
export function childHeaderTemplate(parent: ParentHeader, rules: HeaderRules, timestamp: bigint): BlockHeader {
  const t = timestamp > parent.header.timestamp ? timestamp : parent.header.timestamp
  return createBlockHeader({ ...childHeaderFields(parent, rules), timestamp: t }, { common: blockCommonFor(rules.common), setHardfork: false })
}

/** The block number whose post-state root the header of block `number` carries. */
export function laggedRootBlock(number: bigint, lag: number): bigint {
  const committed = number - BigInt(lag)
  return committed < 0n ? 0n : committed
}

/** Header fields in RLP order, as `header.raw()` lists them, for naming the one that differs. */
const FIELD_NAMES = [
  'parentHash',
  'ommersHash',
  'coinbase',
  'stateRoot',
  'transactionsRoot',
  'receiptsRoot',
  'logsBloom',
  'difficulty',
  'number',
  'gasLimit',
  'gasUsed',
  'timestamp',
  'extraData',
  'mixHash',
  'nonce',
  'baseFeePerGas',
  'withdrawalsRoot',
  'blobGasUsed',
  'excessBlobGas',
  'parentBeaconBlockRoot',
  'requestsHash',
] as const

export type HeaderCheck = {
  /** The latest timestamp the checker vouches for (its clock or the L1's, plus the drift). */
  readonly maxTimestamp?: bigint | undefined
  /** The verified post-state root of block max(N − L, 0), when the checker knows it. */
  readonly laggedRoot?: Uint8Array | undefined
}

/**
 * Check `header` as the child of `parent` under `rules`; throws a `VerificationError` naming
 * the first rule broken. Execution results are not checked here (re-execution does that).
 */
export function validateChildHeader(header: BlockHeader, parent: ParentHeader, rules: HeaderRules, check: HeaderCheck = {}): void {
  const n = header.number
  const fail = (reason: ConstructorParameters<typeof VerificationError>[0], message: string): never => {
    throw new VerificationError(reason, `block ${n}: ${message}`)
  }
  if (!equalsBytes(header.parentHash, parent.hash)) fail('header.parent-hash', `its parent hash is ${bytesToHex(header.parentHash)}, but block ${parent.header.number} is ${bytesToHex(parent.hash)}`)
  if (n !== parent.header.number + 1n) fail('header.number', `it follows block ${parent.header.number}, so its number must be ${parent.header.number + 1n}`)
  if (header.timestamp < parent.header.timestamp) fail('header.timestamp', `timestamp ${header.timestamp} is before its parent's ${parent.header.timestamp}`)
  if (check.maxTimestamp !== undefined && header.timestamp > check.maxTimestamp) {
    fail('header.timestamp-future', `timestamp ${header.timestamp} is after ${check.maxTimestamp}, the latest the verifier vouches for`)
  }
  if (header.gasUsed > header.gasLimit) fail('header.gas-used', `gas used ${header.gasUsed} exceeds its gas limit ${header.gasLimit}`)
  // Every other field: what the rules and the parent make it, with the block's own timestamp,
  // execution results and state root.
  const expected = createBlockHeader(
    {
      ...childHeaderFields(parent, rules),
      timestamp: header.timestamp,
      gasUsed: header.gasUsed,
      transactionsTrie: header.transactionsTrie,
      receiptTrie: header.receiptTrie,
      logsBloom: header.logsBloom,
      stateRoot: header.stateRoot,
    },
    { common: blockCommonFor(rules.common), setHardfork: false },
  ).raw()
  const actual = header.raw()
  if (actual.length !== expected.length) fail('header.fields', `its header has ${actual.length} fields, the chain's have ${expected.length}`)
  for (const [i, value] of expected.entries()) {
    if (!equalsBytes(value, actual[i]!)) {
      const field = FIELD_NAMES[i] ?? `field ${i}`
      fail(`header.${HEADER_REASON[field as keyof typeof HEADER_REASON] ?? 'fields'}`, `${field} is ${bytesToHex(actual[i]!)}, the chain's rules make it ${bytesToHex(value)}`)
    }
  }
  if (check.laggedRoot !== undefined && !equalsBytes(header.stateRoot, check.laggedRoot)) {
    const lagged = laggedRootBlock(n, rules.stateRootLag)
    fail('header.lagged-root', `its stateRoot ${bytesToHex(header.stateRoot)} is not the verified root after block ${lagged}, ${bytesToHex(check.laggedRoot)}`)
  }
}

/** The reason code of each field the rules fix (`header.<code>`). */
const HEADER_REASON = {
  ommersHash: 'ommers',
  coinbase: 'coinbase',
  difficulty: 'difficulty',
  gasLimit: 'gas-limit',
  extraData: 'extra-data',
  mixHash: 'mix-hash',
  nonce: 'nonce',
  baseFeePerGas: 'base-fee',
  withdrawalsRoot: 'withdrawals',
  blobGasUsed: 'blob-gas',
  excessBlobGas: 'blob-gas',
  parentBeaconBlockRoot: 'beacon-root',
  requestsHash: 'requests',
} as const
