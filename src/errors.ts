/**
 * One base error for all of mosaic (the viem `BaseError` pattern): a stable string `code`
 * that callers and tests match on, a one-line `shortMessage`, optional `details`, and the
 * `cause`. RPC-facing errors are mapped to JSON-RPC codes in one place: `rpc/errors.ts`.
 */
export type MosaicErrorCode =
  | 'CONFIG_INVALID'
  | 'GENESIS_INVALID'
  | 'TX_INVALID'
  | 'TX_REJECTED'
  | 'EXECUTION_REVERTED'
  | 'NOT_FOUND'
  /** State at a block outside the history window (`HISTORY_BLOCKS`): pruned, or never kept. */
  | 'HISTORY_UNAVAILABLE'
  | 'INVALID_PARAMS'
  | 'LIMIT_EXCEEDED'
  | 'STORE_CORRUPT'
  | 'DELTA_INVALID'
  | 'WITNESS_INVALID'
  | 'VERIFICATION_FAILED'
  | 'COMMITMENT'
  /** The L1 is unreachable, refused a transaction, or holds something unexpected. */
  | 'L1'
  /** The job queue backend (Redis) is unreachable or refused an operation. */
  | 'QUEUE'
  /**
   * Something could not be reached or read in time: a refused connection, a timeout, an HTTP
   * error, an answer over its size limit. The one kind of failure a verifier retries; anything
   * else about authenticated data is a verdict.
   */
  | 'TRANSPORT'
  | 'INTERNAL'

export type MosaicErrorOptions = {
  details?: string
  cause?: unknown
  /** Extra data carried to the client (JSON-RPC `error.data`), e.g. revert bytes. */
  data?: unknown
}

export class MosaicError extends Error {
  override name = 'MosaicError'
  readonly code: MosaicErrorCode
  readonly shortMessage: string
  readonly details: string | undefined
  readonly data: unknown

  constructor(code: MosaicErrorCode, shortMessage: string, options: MosaicErrorOptions = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    })
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
    this.data = options.data
  }

  /**
   * The first error along the `cause` chain (this one included) for which `match` holds, or —
   * with no `match` — the innermost cause (viem's `BaseError.walk`).
   */
  walk(match?: (error: unknown) => boolean): unknown {
    return walkCauses(this, match)
  }
}

export function walkCauses(error: unknown, match?: (error: unknown) => boolean): unknown {
  let current: unknown = error
  for (let depth = 0; depth < 32; depth++) {
    if (match?.(current)) return current
    const cause = current instanceof Error ? current.cause : undefined
    if (cause === undefined) return match === undefined ? current : undefined
    current = cause
  }
  return match === undefined ? current : undefined
}

/**
 * One line saying why `error` happened, for logs and error messages: the first line of the
 * transport failure under it if there is one (viem wraps a bounded read's refusal as "HTTP request
 * failed.", which says nothing of why), else of its own message.
 */
export function reasonLine(error: unknown): string {
  const transport = walkCauses(error, (e) => isMosaicError(e) && e.code === 'TRANSPORT')
  const message = ((transport ?? error) as Error | undefined)?.message ?? String(error)
  return message.split('\n')[0]!
}

/** Whether `error`, or any error it was caused by, is a `TRANSPORT` failure: worth retrying. */
export function isTransportError(error: unknown): boolean {
  return walkCauses(error, (e) => isMosaicError(e) && e.code === 'TRANSPORT') !== undefined
}

/**
 * Why a verifier rejects a block: a stable code per rule (tests, metrics and the README's table
 * of lies match on it), the message says the particulars.
 */
export type VerdictReason =
  // The header against its parent and the chain's rules (`chain/header-rules.ts`).
  | 'header.parent-hash'
  | 'header.number'
  | 'header.timestamp'
  | 'header.timestamp-future'
  | 'header.gas-used'
  | 'header.gas-limit'
  | 'header.base-fee'
  | 'header.coinbase'
  | 'header.mix-hash'
  | 'header.extra-data'
  | 'header.ommers'
  | 'header.difficulty'
  | 'header.nonce'
  | 'header.withdrawals'
  | 'header.blob-gas'
  | 'header.beacon-root'
  | 'header.requests'
  | 'header.fields'
  | 'header.lagged-root'
  // The block's body and its re-execution.
  | 'block.undecodable'
  | 'block.body'
  | 'block.transaction-type'
  | 'block.signature'
  /** A sender the source claims (a receipt's `from`) is not the one the signature recovers. */
  | 'block.sender'
  | 'block.invalid-transaction'
  | 'block.gas-used'
  | 'block.receipts-root'
  | 'block.transactions-root'
  | 'block.logs-bloom'
  | 'block.post-state-root'
  | 'block.delta'
  | 'block.unverified-parent'
  // The witness.
  | 'witness.undecodable'
  | 'witness.too-large'
  | 'witness.block-number'
  | 'witness.pre-state-root'
  | 'witness.ancestor-header'
  | 'witness.unprovable'
  | 'witness.unreachable-node'
  | 'witness.missing-code'
  | 'witness.keys'
  | 'witness.mismatch'
  | 'witness.withheld'
  // The L1's data.
  | 'batch.undecodable'
  | 'batch.too-large'
  | 'batch.commitment'
  | 'batch.start-root'
  | 'batch.withheld'

/** A block failed verification: a verdict on whoever produced it, never worth retrying. */
export class VerificationError extends MosaicError {
  override name = 'VerificationError'

  constructor(
    readonly reason: VerdictReason,
    shortMessage: string,
    options: MosaicErrorOptions = {},
  ) {
    super('VERIFICATION_FAILED', shortMessage, options)
  }
}

/** The verdict reason of `error` (its own, or its causes'); undefined when it is none. */
export function verdictReasonOf(error: unknown): VerdictReason | undefined {
  return (walkCauses(error, (e) => e instanceof VerificationError) as VerificationError | undefined)?.reason
}

export function isMosaicError(error: unknown): error is MosaicError {
  return error instanceof MosaicError
}
