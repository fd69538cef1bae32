/**
 * HTTP reads from outside, bounded in size and time: the verifier's and replica's calls to a
 * sequencer, and beacon API reads. Every failure to get an answer — refused, timed out, an HTTP
 * error, an answer over its size limit — is a `TRANSPORT` error, the one kind a verifier retries.
 */
import { MosaicError } from '../errors.ts'

export type FetchLimits = {
  /** Largest body read, in bytes. */
  readonly maxBytes: number
  /** Time for the whole exchange, body included, in ms. */
  readonly timeoutMs: number
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { maxBytes: 512 * 1024 * 1024, timeoutMs: 30_000 }

function transport(what: string, message: string, cause?: unknown): MosaicError {
  return new MosaicError('TRANSPORT', `${what}: ${message}`, { cause })
}

/** GET or POST `url` and read the body as text, within `limits`; `what` names it in errors. */
export async function fetchText(url: string, init: RequestInit, limits: FetchLimits, what: string): Promise<{ status: number; text: string }> {
  const signal = AbortSignal.timeout(limits.timeoutMs)
  let response: Response
  try {
    response = await fetch(url, { ...init, signal })
  } catch (error) {
    throw transport(what, signal.aborted ? `no answer within ${limits.timeoutMs} ms` : `cannot reach ${url} (${(error as Error).message})`, error)
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > limits.maxBytes) {
    await response.body?.cancel().catch(() => {})
    throw transport(what, `the answer of ${declared} bytes exceeds the limit of ${limits.maxBytes}`)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    if (response.body !== null) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length
        if (size > limits.maxBytes) {
          await response.body.cancel().catch(() => {})
          throw transport(what, `the answer exceeds the limit of ${limits.maxBytes} bytes`)
        }
        chunks.push(chunk)
      }
    }
  } catch (error) {
    if (error instanceof MosaicError) throw error
    throw transport(what, signal.aborted ? `the answer did not arrive within ${limits.timeoutMs} ms` : `the answer broke off (${(error as Error).message})`, error)
  }
  return { status: response.status, text: Buffer.concat(chunks).toString('utf8') }
}

/**
 * A `fetch` for clients that take one (viem's http transport `fetchFn`): the same bounds, the
 * body read in full within them and handed back as a fresh `Response`.
 */
export function boundedFetch(limits: FetchLimits, what: string): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const { status, text } = await fetchText(url, init, limits, what)
    return new Response(text, { status, headers: { 'content-type': 'application/json' } })
  }
}
