/**
 * geth's `4byteTracer` (eth/tracers/native/4byte.go): how often each function selector was called,
 * keyed `0x<selector>-<calldata size without the selector>`. Counts the transaction's own call
 * and every CALL, CALLCODE, DELEGATECALL and STATICCALL with at least 4 bytes of input, except
 * calls to precompiles; creations are not counted.
 */
import type { EVMResult, InterpreterStep } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import type { EnterFrame, Tracer, TxTraceContext } from './types.ts'
import { bytesToHex } from '../utils/hex.ts'

export class FourByteTracer implements Tracer {
  private context!: TxTraceContext
  private readonly ids: Record<string, number> = {}

  onTxStart(context: TxTraceContext): void {
    this.context = context
  }

  onEnter({ message, type }: EnterFrame): void {
    if (type === 'CREATE' || type === 'CREATE2' || message.data.length < 4) return
    const target = message.codeAddress
    if (this.context.isPrecompile(target.bytes)) return
    const key = `${bytesToHex(message.data.subarray(0, 4))}-${message.data.length - 4}`
    if (this.ids[key] === undefined) this.context.budget.charge(key.length + 8)
    this.ids[key] = (this.ids[key] ?? 0) + 1
  }

  onStep(_step: InterpreterStep): void {}
  onExit(_result: EVMResult): void {}
  onTxEnd(_result: RunTxResult): void {}

  result(): Record<string, number> {
    return this.ids
  }
}
