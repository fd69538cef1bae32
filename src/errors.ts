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
}

export function isMosaicError(error: unknown): error is MosaicError {
  return error instanceof MosaicError
}
