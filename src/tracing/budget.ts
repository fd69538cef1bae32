/**
 * The limits of one trace call (RPC_TRACE_TIMEOUT_MS, RPC_TRACE_MAX_BYTES): a deadline and a
 * byte count of the result as it is built. Tracers charge bytes as they record; the runner
 * checks the clock on every step. Either limit throws `TraceLimitError`, which aborts the EVM
 * mid-transaction, so a trace never holds the node's memory or time beyond them.
 */
import { MosaicError } from '../errors.ts'

export class TraceLimitError extends MosaicError {
  override name = 'TraceLimitError'
  constructor(
    readonly limit: 'timeout' | 'size',
    message: string,
  ) {
    super('LIMIT_EXCEEDED', message)
  }
}

export function isTraceLimitError(error: unknown): error is TraceLimitError {
  return error instanceof TraceLimitError
}

export class TraceBudget {
  private bytes = 0
  private readonly deadline: number
  /** The first limit hit; the runner reports it even if the EVM wrapped the thrown error. */
  exceeded: TraceLimitError | undefined

  constructor(
    readonly timeoutMs: number,
    readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.deadline = now() + timeoutMs
  }

  get used(): number {
    return this.bytes
  }

  /** Counts `n` more bytes of result; throws once over the cap. */
  charge(n: number): void {
    this.bytes += n
    if (this.bytes > this.maxBytes) {
      throw this.fail(new TraceLimitError('size', `trace result exceeds the size cap of ${this.maxBytes} bytes (RPC_TRACE_MAX_BYTES)`))
    }
  }

  checkTime(): void {
    if (this.now() > this.deadline) {
      throw this.fail(new TraceLimitError('timeout', `trace exceeded its timeout of ${this.timeoutMs} ms (RPC_TRACE_TIMEOUT_MS or the call's timeout option)`))
    }
  }

  private fail(error: TraceLimitError): TraceLimitError {
    this.exceeded ??= error
    return this.exceeded
  }
}
