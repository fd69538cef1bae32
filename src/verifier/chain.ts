/**
 * Verifying a block as the child of a verified parent — the one sequence every mode runs
 * (`--rpc`, `--files`, `--l1`): decode the block and its witness within their limits, check the
 * header against the parent and the chain's rules, check that the witness starts from the
 * parent's verified post-state root, re-execute from the witness alone, then check the claims
 * made beside the block. Every failure is a `VerificationError` naming its rule.
 *
 * `ChainVerifier` keeps the verified chain for the sequential modes: the tip, and the verified
 * post-state roots the lagged header roots are checked against. After a failure it verifies
 * nothing more — never from an unchained pre-state.
 */
import type { Block } from '@ethereumjs/block'
import { decodeForeignBlock } from '../chain/block.ts'
import { equalsBytes } from '@ethereumjs/util'
import { laggedRootBlock, type ParentHeader, validateChildHeader } from '../chain/header-rules.ts'
import { isMosaicError, MosaicError, VerificationError } from '../errors.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import type { StateDelta } from '../state/types.ts'
import { type BlockWitness, decodeWitness } from '../witness/witness.ts'
import type { ChainRules } from './rules.ts'
import type { BlockSource, RawBlockData } from '../rpc/client.ts'
import { checkClaims, type Verdict, verifyBlock } from './verify.ts'
import { bytesToHex } from '../utils/hex.ts'

export type ChildContext = {
  readonly parent: ParentHeader
  /** The parent's verified post-state root: the witness must start from it. */
  readonly preStateRoot: Uint8Array
  /** The verified root after block max(N − L, 0), when known: the header must carry it. */
  readonly laggedRoot?: Uint8Array | undefined
  /** The latest timestamp the caller vouches for (its clock or the L1's, plus the drift). */
  readonly maxTimestamp?: bigint | undefined
}

export type ChildVerdict = Verdict & {
  readonly block: Block
  readonly hash: Uint8Array
  /** A claim beside the block (published delta, claimed root) that re-execution contradicts: the block itself is valid. */
  readonly claimFailure?: VerificationError
}

export function decodeBlock(rules: ChainRules, rlp: Uint8Array, number: bigint): Block {
  let block: Block
  try {
    block = decodeForeignBlock(rlp, rules.common)
  } catch (error) {
    throw new VerificationError('block.undecodable', `block ${number} does not decode: ${(error as Error).message.split('\n')[0]}`, { cause: error })
  }
  if (block.header.number !== number) throw new VerificationError('header.number', `block ${number} is numbered ${block.header.number}`)
  if (block.uncleHeaders.length > 0 || (block.withdrawals?.length ?? 0) > 0) throw new VerificationError('block.body', `block ${number} carries ommers or withdrawals, which this chain has none of`)
  return block
}

export function decodeWitnessWithin(rules: ChainRules, bytes: Uint8Array, number: bigint): BlockWitness {
  try {
    return decodeWitness(bytes, rules.limits.witnessBytes)
  } catch (error) {
    const reason = isMosaicError(error) && error.code === 'LIMIT_EXCEEDED' ? 'witness.too-large' : 'witness.undecodable'
    throw new VerificationError(reason, `the witness of block ${number}: ${(error as Error).message}`, { cause: error })
  }
}

function decodeDelta(bytes: Uint8Array | undefined, number: bigint): StateDelta | undefined {
  if (bytes === undefined) return undefined
  try {
    return decodeStateDelta(bytes)
  } catch (error) {
    throw new VerificationError('block.delta', `the published state delta of block ${number} does not decode: ${(error as Error).message}`, { cause: error })
  }
}

/**
 * Block `number` decoded and its header checked against its parent and the chain's rules: all
 * that can be judged before its witness (the L1's own data is judged by it even when no witness
 * ever comes).
 */
export function checkChildHeader(rules: ChainRules, rlp: Uint8Array, number: bigint, ctx: ChildContext): Block {
  const block = decodeBlock(rules, rlp, number)
  validateChildHeader(block.header, ctx.parent, rules, { laggedRoot: ctx.laggedRoot, maxTimestamp: ctx.maxTimestamp })
  return block
}

/** Verify block `data.number` as the child of `ctx.parent` (see the file comment); `checked`: its header, already checked. */
export async function verifyChild(rules: ChainRules, data: RawBlockData, ctx: ChildContext, checked?: Block): Promise<ChildVerdict> {
  const n = data.number
  const block = checked ?? checkChildHeader(rules, data.block, n, ctx)
  const witness = decodeWitnessWithin(rules, data.witness, n)
  if (!equalsBytes(witness.preStateRoot, ctx.preStateRoot)) {
    throw new VerificationError('witness.pre-state-root', `the witness of block ${n} starts from ${bytesToHex(witness.preStateRoot)}, but block ${n - 1n} ended at ${bytesToHex(ctx.preStateRoot)}`)
  }
  const verdict = await verifyBlock({ common: rules.common, layout: rules.layout, block, witness })
  let claimFailure: VerificationError | undefined
  try {
    checkClaims(verdict, { postStateRoot: data.postStateRoot, delta: decodeDelta(data.delta, n) })
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error
    claimFailure = error
  }
  return { ...verdict, block, hash: block.hash(), ...(claimFailure === undefined ? {} : { claimFailure }) }
}

/** The verified chain of a sequential verifier (`--rpc`, `--files`). */
export class ChainVerifier {
  private tip: ParentHeader
  /** Post-state roots by block: verified ones, and below a `--from`, the ones the checked header chain commits to. */
  private readonly roots = new Map<bigint, Uint8Array>()
  private failedAt: bigint | undefined
  /**
   * Below a `--from` with a lagged root, the post-state root of block from − 1 is taken from the
   * witness of block `from` until the header of block from − 1 + L confirms it.
   */
  private unconfirmed: bigint | undefined

  private constructor(private readonly rules: ChainRules) {
    this.tip = rules.genesis
    this.roots.set(0n, rules.genesis.stateRoot)
  }

  /** Verification from the genesis of the verifier's own configuration. */
  static fromGenesis(rules: ChainRules): ChainVerifier {
    return new ChainVerifier(rules)
  }

  /**
   * Verification from block `from` > 1: the header chain from the verifier's genesis to block
   * from − 1 is checked against the chain's rules (not re-executed), so block `from` chains to
   * the chain the source committed to from the genesis.
   */
  static async fromHeaders(rules: ChainRules, source: BlockSource, from: bigint, now = () => Date.now()): Promise<ChainVerifier> {
    const chain = new ChainVerifier(rules)
    const BATCH = 32n
    for (let start = 1n; start < from; start += BATCH) {
      const numbers = Array.from({ length: Number(from - start < BATCH ? from - start : BATCH) }, (_, i) => start + BigInt(i))
      const blocks = await Promise.all(numbers.map((n) => source.rawBlock(n)))
      for (const [i, rlp] of blocks.entries()) chain.acceptHeader(decodeBlock(rules, rlp, numbers[i]!), now())
    }
    return chain
  }

  /** Check a header below `--from` and take what it commits to (no execution). */
  private acceptHeader(block: Block, now: number): void {
    const lagged = laggedRootBlock(block.header.number, this.rules.stateRootLag)
    validateChildHeader(block.header, this.tip, this.rules, { laggedRoot: this.roots.get(lagged), maxTimestamp: this.maxTimestamp(now) })
    if (!this.roots.has(lagged)) this.roots.set(lagged, block.header.stateRoot)
    if (lagged === this.unconfirmed) this.unconfirmed = undefined
    this.tip = { header: block.header, hash: block.hash() }
    this.prune()
  }

  private maxTimestamp(now: number): bigint {
    return BigInt(Math.floor(now / 1000)) + this.rules.timestampDrift
  }

  private prune(): void {
    const keep = this.tip.header.number - BigInt(this.rules.stateRootLag) - 1n
    for (const k of this.roots.keys()) if (k < keep && k !== this.unconfirmed) this.roots.delete(k)
  }

  /** The next block to verify. */
  get next(): bigint {
    return this.tip.header.number + 1n
  }

  /** Whether the post-state root of the block below `--from` still awaits its lagged header (and which header confirms it). */
  get awaitingConfirmation(): bigint | undefined {
    return this.unconfirmed === undefined ? undefined : this.unconfirmed + BigInt(this.rules.stateRootLag)
  }

  /** Block `n` got a FAILED verdict some other way (its data withheld): nothing after it verifies. */
  markFailed(n: bigint): void {
    this.failedAt ??= n
  }

  /** Verify the next block; throws a `VerificationError` when it fails (and then verifies nothing more). */
  async verify(data: RawBlockData, now = Date.now()): Promise<ChildVerdict> {
    const n = data.number
    if (this.failedAt !== undefined) {
      throw new VerificationError('block.unverified-parent', `block ${this.failedAt} failed verification, so no later block verifies (never from an unchained pre-state)`)
    }
    if (n !== this.next) throw new MosaicError('INTERNAL', `block ${n} is not the next block to verify (${this.next})`)
    let preStateRoot = this.roots.get(n - 1n)
    if (preStateRoot === undefined) {
      // The --from anchor: taken from this witness, confirmed by the header of block n − 1 + L.
      preStateRoot = decodeWitnessWithin(this.rules, data.witness, n).preStateRoot
      this.roots.set(n - 1n, preStateRoot)
      this.unconfirmed = n - 1n
    }
    const lagged = laggedRootBlock(n, this.rules.stateRootLag)
    let verdict: ChildVerdict
    try {
      verdict = await verifyChild(this.rules, data, { parent: this.tip, preStateRoot, laggedRoot: this.roots.get(lagged), maxTimestamp: this.maxTimestamp(now) })
    } catch (error) {
      this.failedAt = n
      throw error
    }
    if (lagged === this.unconfirmed) this.unconfirmed = undefined
    this.tip = { header: verdict.block.header, hash: verdict.hash }
    this.roots.set(n, verdict.postStateRoot)
    this.prune()
    return verdict
  }

  /**
   * At the end of a range that began at a `--from` anchor: check the headers after it up to the
   * one whose lagged root confirms the anchor's pre-state (headers only; they are not verdicts).
   */
  async confirmAnchor(source: BlockSource, now = Date.now()): Promise<void> {
    const through = this.awaitingConfirmation
    if (through === undefined) return
    const head = await source.head()
    if (head < through) throw new VerificationError('witness.pre-state-root', `the pre-state of block ${this.unconfirmed! + 1n} is confirmed by the header of block ${through}, which does not exist yet`)
    const saved = { tip: this.tip }
    for (let k = this.next; k <= through; k++) this.acceptHeader(decodeBlock(this.rules, await source.rawBlock(k), k), now)
    this.tip = saved.tip
  }
}
