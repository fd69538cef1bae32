/**
 * geth's default tracer (`eth/tracers/logger.StructLogger`, what `debug_traceTransaction` runs
 * without a `tracer`): one entry per executed opcode with the gas left before it, its cost, the
 * call depth (1 = the transaction's frame), the stack, and optionally memory, the storage the
 * contract touched so far, and the last call's return data. The JSON is geth's `ExecutionResult`
 * as geth and anvil print it: `{ gas, failed, returnValue, structLogs }`.
 */
import type { EVMResult, InterpreterStep } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import { setLengthLeft, bigIntToBytes } from '@ethereumjs/util'
import type { EnterFrame, StructLoggerOptions, Tracer, TxTraceContext } from './types.ts'
import { callGasCost, gethError } from './evm-names.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'

export type StructLog = {
  pc: number
  op: string
  gas: number
  gasCost: number
  depth: number
  stack?: string[]
  memory?: string[]
  storage?: Record<string, string>
  returnData?: string
  refund?: number
  error?: string
}

export type StructLoggerResult = { gas: number; failed: boolean; returnValue: string; structLogs: StructLog[] }

/** Bytes a log's JSON takes beyond its variable parts (keys, punctuation, numbers). */
const LOG_OVERHEAD = 90

export class StructLogger implements Tracer {
  private context!: TxTraceContext
  private readonly logs: StructLog[] = []
  /** Per contract, the slots its SLOAD/SSTOREs touched and their values (geth keeps them per address). */
  private readonly storage = new Map<string, Map<string, string>>()
  /** Per depth, the return data of the last call that frame made. */
  private readonly returnData: Uint8Array[] = []
  private result_: StructLoggerResult | undefined

  constructor(private readonly options: StructLoggerOptions) {}

  onTxStart(context: TxTraceContext): void {
    this.context = context
  }

  onEnter(frame: EnterFrame): void {
    this.returnData[frame.depth] = new Uint8Array()
  }

  onStep(step: InterpreterStep): void {
    const { options } = this
    if (options.limit !== 0 && this.logs.length >= options.limit) return
    const stack = step.stack
    const log: StructLog = {
      pc: step.pc,
      op: step.opcode.name,
      gas: Number(step.gasLeft),
      gasCost: Number(callGasCost(step)),
      depth: step.depth + 1,
    }
    let bytes = LOG_OVERHEAD + log.op.length
    if (!options.disableStack) {
      log.stack = stack.map((v) => `0x${v.toString(16)}`)
      for (const item of log.stack) bytes += item.length + 3
    }
    if (options.enableMemory) {
      const memory: string[] = []
      for (let i = 0; i < step.memory.length; i += 32) memory.push(bytesToUnprefixedHex(step.memory.subarray(i, i + 32)))
      log.memory = memory
      bytes += memory.length * 67
    }
    if (options.enableReturnData) {
      const data = this.returnData[step.depth]
      if (data !== undefined && data.length > 0) {
        log.returnData = bytesToHex(data)
        bytes += log.returnData.length + 16
      }
    }
    if (!options.disableStorage && (step.opcode.name === 'SLOAD' || step.opcode.name === 'SSTORE')) {
      const address = bytesToUnprefixedHex(step.address.bytes)
      let touched = this.storage.get(address)
      if (touched === undefined) this.storage.set(address, (touched = new Map()))
      const top = stack[stack.length - 1]
      if (top !== undefined) {
        const slot = word(top)
        if (step.opcode.name === 'SLOAD') {
          touched.set(slot, bytesToUnprefixedHex(setLengthLeft(this.context.state.storage(address, slot), 32)))
        } else if (stack.length >= 2) {
          touched.set(slot, word(stack[stack.length - 2]!))
        }
        log.storage = Object.fromEntries(touched)
        bytes += touched.size * 134
      }
    }
    if (step.gasRefund > 0n) log.refund = Number(step.gasRefund)
    this.context.budget.charge(bytes)
    this.logs.push(log)
  }

  onExit(result: EVMResult): void {
    const error = result.execResult.exceptionError
    const depth = this.returnData.length - 1
    const last = this.logs[this.logs.length - 1]
    // geth records the error on the opcode that faulted (not on REVERT, which ends the frame normally).
    if (error !== undefined && error.error !== 'revert' && last !== undefined && last.error === undefined && last.depth === depth + 1) {
      last.error = gethError(error.error, { op: last.op, gasLeft: BigInt(last.gas) })
    }
    // The frame's output is now its caller's return data.
    if (depth >= 1) this.returnData[depth - 1] = result.createdAddress !== undefined && error === undefined ? new Uint8Array() : result.execResult.returnValue
    this.returnData.length = Math.max(depth, 0)
  }

  onTxEnd(result: RunTxResult): void {
    const returnValue = bytesToHex(result.execResult.returnValue)
    this.context.budget.charge(returnValue.length + 64)
    this.result_ = { gas: Number(result.totalGasSpent), failed: result.execResult.exceptionError !== undefined, returnValue, structLogs: this.logs }
  }

  result(): StructLoggerResult {
    if (this.result_ === undefined) throw new Error('StructLogger.result() before the transaction ended')
    return this.result_
  }
}

function word(value: bigint): string {
  return bytesToUnprefixedHex(setLengthLeft(bigIntToBytes(value), 32))
}
