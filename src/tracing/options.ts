/**
 * geth's trace options (`TraceConfig`, `TraceCallConfig`): parsed once, each bad value refused
 * with an error naming it; and the tracer they select.
 */
import { MosaicError } from '../errors.ts'
import { CallTracer } from './call-tracer.ts'
import { FourByteTracer } from './four-byte-tracer.ts'
import { PrestateTracer } from './prestate-tracer.ts'
import { StructLogger } from './struct-logger.ts'
import { TRACER_NAMES, type TraceOptions, type Tracer, type TracerName } from './types.ts'

const STRUCT_LOGGER_KEYS = ['enableMemory', 'disableMemory', 'disableStack', 'disableStorage', 'enableReturnData', 'disableReturnData', 'limit', 'debug'] as const
const COMMON_KEYS = ['tracer', 'tracerConfig', 'timeout', 'reexec', 'txIndex', ...STRUCT_LOGGER_KEYS]
const CALL_KEYS = [...COMMON_KEYS, 'stateOverrides', 'blockOverrides']
const TRACER_CONFIG_KEYS: Record<TracerName, readonly string[]> = {
  callTracer: ['onlyTopCall', 'withLog'],
  prestateTracer: ['diffMode', 'disableCode', 'disableStorage'],
  '4byteTracer': [],
}

function invalid(message: string): MosaicError {
  return new MosaicError('INVALID_PARAMS', message)
}

function flag(object: Record<string, unknown>, key: string, where: string): boolean {
  const value = object[key]
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean') throw invalid(`invalid ${where}.${key}: expected true or false, got ${JSON.stringify(value)}`)
  return value
}

/** Go's `time.ParseDuration` (what geth's `timeout` is), in milliseconds: "10s", "1m30s", "500ms", "1.5s". */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  if (!/^([0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined
  let total = 0
  for (const [, number, unit] of text.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) total += Number(number) * units[unit!]!
  return total
}

/** `kind`: which method's options — debug_traceCall's may carry state and block overrides. */
export function parseTraceOptions(value: unknown, kind: 'transaction' | 'call' = 'transaction'): TraceOptions {
  const where = kind === 'call' ? 'trace call config' : 'trace config'
  if (value === undefined || value === null) value = {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`invalid ${where}: expected an object, got ${JSON.stringify(value)}`)
  const o = value as Record<string, unknown>
  const allowed = kind === 'call' ? CALL_KEYS : COMMON_KEYS
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw invalid(`invalid ${where}: unknown option "${key}" (known: ${allowed.join(', ')})`)
  }
  let tracer: TracerName | undefined
  if (o.tracer !== undefined && o.tracer !== null && o.tracer !== '') {
    if (typeof o.tracer !== 'string' || !(TRACER_NAMES as readonly string[]).includes(o.tracer)) {
      const shown = typeof o.tracer === 'string' ? JSON.stringify(o.tracer.length > 40 ? `${o.tracer.slice(0, 40)}…` : o.tracer) : JSON.stringify(o.tracer)
      throw invalid(`tracer not found: ${shown} (available: ${TRACER_NAMES.join(', ')}, or none for the struct logger; JavaScript tracers are not supported)`)
    }
    tracer = o.tracer as TracerName
  }
  let timeoutMs: number | undefined
  if (o.timeout !== undefined && o.timeout !== null) {
    timeoutMs = typeof o.timeout === 'string' ? parseDuration(o.timeout) : undefined
    if (timeoutMs === undefined) throw invalid(`invalid ${where}.timeout: expected a duration like "10s" or "500ms", got ${JSON.stringify(o.timeout)}`)
  }
  let limit = 0
  if (o.limit !== undefined && o.limit !== null) {
    if (typeof o.limit !== 'number' || !Number.isSafeInteger(o.limit) || o.limit < 0) throw invalid(`invalid ${where}.limit: expected a non-negative integer, got ${JSON.stringify(o.limit)}`)
    limit = o.limit
  }
  const config = o.tracerConfig ?? {}
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw invalid(`invalid ${where}.tracerConfig: expected an object, got ${JSON.stringify(config)}`)
  const c = config as Record<string, unknown>
  const configKeys = tracer === undefined ? [] : TRACER_CONFIG_KEYS[tracer]
  for (const key of Object.keys(c)) {
    if (!configKeys.includes(key)) {
      throw invalid(`invalid ${where}.tracerConfig: unknown option "${key}" for ${tracer ?? 'the struct logger'}${configKeys.length > 0 ? ` (known: ${configKeys.join(', ')})` : ''}`)
    }
  }
  const tc = `${where}.tracerConfig`
  return {
    tracer,
    structLogger: {
      enableMemory: flag(o, 'enableMemory', where) && !flag(o, 'disableMemory', where),
      disableStack: flag(o, 'disableStack', where),
      disableStorage: flag(o, 'disableStorage', where),
      enableReturnData: flag(o, 'enableReturnData', where) && !flag(o, 'disableReturnData', where),
      limit,
    },
    callTracer: { onlyTopCall: flag(c, 'onlyTopCall', tc), withLog: flag(c, 'withLog', tc) },
    prestateTracer: { diffMode: flag(c, 'diffMode', tc), disableCode: flag(c, 'disableCode', tc), disableStorage: flag(c, 'disableStorage', tc) },
    timeoutMs,
    stateOverrides: o.stateOverrides ?? undefined,
    blockOverrides: o.blockOverrides ?? undefined,
  }
}

export function createTracer(options: TraceOptions): Tracer {
  switch (options.tracer) {
    case undefined:
      return new StructLogger(options.structLogger)
    case 'callTracer':
      return new CallTracer(options.callTracer)
    case 'prestateTracer':
      return new PrestateTracer(options.prestateTracer)
    case '4byteTracer':
      return new FourByteTracer()
  }
}
