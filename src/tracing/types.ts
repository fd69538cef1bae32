/**
 * The tracing interface: what a tracer hears while a transaction runs and what it can read.
 * Tracers hook the events `@ethereumjs/evm` emits — `beforeMessage` (a call frame starts),
 * `step` (an opcode is about to run), `afterMessage` (a frame ended) — plus the start and end of
 * the transaction, and produce geth's JSON shapes (`eth/tracers/logger`, `eth/tracers/native`).
 * `run.ts` drives them; each tracer is in its own file beside this one.
 */
import type { EVMResult, InterpreterStep, Message } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import type { AccountRecord } from '../state/types.ts'
import type { TraceBudget } from './budget.ts'

/** Synchronous reads of the state the traced transaction runs on, as it is at the moment of the read. */
export type TraceStateView = {
  /** `address`: lowercase hex without 0x, as flat state keys it. */
  account(address: string): AccountRecord | undefined
  /** `slot`: 64 hex chars without 0x; the value with leading zeros stripped. */
  storage(address: string, slot: string): Uint8Array
  code(address: string): Uint8Array
}

export type TxTraceContext = {
  readonly from: Uint8Array
  /** Undefined for a contract creation. */
  readonly to: Uint8Array | undefined
  readonly value: bigint
  readonly gasLimit: bigint
  readonly input: Uint8Array
  readonly coinbase: Uint8Array
  /** How many logs the block's earlier transactions emitted: where this one's log indexes start. */
  readonly firstLogIndex: number
  readonly state: TraceStateView
  readonly isPrecompile: (address: Uint8Array) => boolean
  readonly budget: TraceBudget
}

/**
 * One tracer for one transaction. Hooks run synchronously inside the EVM; a hook that throws
 * aborts the transaction (the budget does so on a limit).
 */
export interface Tracer {
  onTxStart(context: TxTraceContext): void
  onEnter(frame: EnterFrame): void
  onStep(step: InterpreterStep): void
  onExit(result: EVMResult): void
  onTxEnd(result: RunTxResult): void
  /** The JSON-ready result, once the transaction ended. */
  result(): unknown
}

export type CallType = 'CALL' | 'CALLCODE' | 'DELEGATECALL' | 'STATICCALL' | 'CREATE' | 'CREATE2'

/** A call frame starting: the EVM's message and the opcode that made it (the transaction's own: CALL or CREATE). */
export type EnterFrame = { readonly message: Message; readonly type: CallType; readonly depth: number }

export const TRACER_NAMES = ['callTracer', 'prestateTracer', '4byteTracer'] as const
export type TracerName = (typeof TRACER_NAMES)[number]

/** geth's `TraceConfig` / `TraceCallConfig`, parsed (`options.ts`). */
export type TraceOptions = {
  /** Undefined: the struct logger. */
  readonly tracer: TracerName | undefined
  readonly structLogger: StructLoggerOptions
  readonly callTracer: CallTracerOptions
  readonly prestateTracer: PrestateTracerOptions
  /** The per-call `timeout`, in milliseconds (it can only lower RPC_TRACE_TIMEOUT_MS). */
  readonly timeoutMs: number | undefined
  /** debug_traceCall's 3rd param only: geth's state and block overrides, unparsed. */
  readonly stateOverrides: unknown
  readonly blockOverrides: unknown
}

export type StructLoggerOptions = {
  readonly enableMemory: boolean
  readonly disableStack: boolean
  readonly disableStorage: boolean
  readonly enableReturnData: boolean
  /** Most struct logs recorded; 0 = no limit (geth). */
  readonly limit: number
}

export type CallTracerOptions = { readonly onlyTopCall: boolean; readonly withLog: boolean }
export type PrestateTracerOptions = { readonly diffMode: boolean; readonly disableCode: boolean; readonly disableStorage: boolean }
