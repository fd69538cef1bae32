/**
 * geth's `callTracer` (eth/tracers/native/call.go): the tree of call frames — type, from, to,
 * value, gas, gasUsed, input, output, error, revertReason, nested calls — with `onlyTopCall`
 * (the transaction's frame only) and `withLog` (each frame's logs, with `position`, the number of
 * sub-calls made before the log). Logs of failed frames are dropped with them, as geth does.
 */
import type { EVMResult, InterpreterStep } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import { bigIntToHex, bytesToHex, intToHex, setLengthLeft, bigIntToBytes } from '@ethereumjs/util'
import { gethError, revertReason } from './evm-names.ts'
import type { CallTracerOptions, CallType, EnterFrame, Tracer, TxTraceContext } from './types.ts'

export type CallLog = { address: string; topics: string[]; data: string; position: string }

export type CallFrame = {
  type: CallType
  from: string
  to?: string
  value?: string
  gas: string
  gasUsed: string
  input: string
  output?: string
  error?: string
  revertReason?: string
  calls?: CallFrame[]
  logs?: CallLog[]
}

type OpenFrame = { frame: CallFrame; enter: EnterFrame }

export class CallTracer implements Tracer {
  private context!: TxTraceContext
  private readonly stack: OpenFrame[] = []
  private root: CallFrame | undefined
  private depth = -1

  constructor(private readonly options: CallTracerOptions) {}

  onTxStart(context: TxTraceContext): void {
    this.context = context
  }

  onEnter(enter: EnterFrame): void {
    this.depth = enter.depth
    if (this.options.onlyTopCall && enter.depth > 0) return
    const { message, type } = enter
    const to = message.to === undefined ? undefined : type === 'DELEGATECALL' || type === 'CALLCODE' ? message.codeAddress : message.to
    const input = bytesToHex(message.data)
    const frame: CallFrame = {
      type,
      from: message.caller.toString(),
      ...(to === undefined ? {} : { to: to.toString() }),
      // geth: a STATICCALL carries no value.
      ...(type === 'STATICCALL' ? {} : { value: bigIntToHex(message.value) }),
      gas: bigIntToHex(enter.depth === 0 ? this.context.gasLimit : message.gasLimit),
      gasUsed: '0x0',
      input,
    }
    this.context.budget.charge(input.length + 200)
    const parent = this.stack[this.stack.length - 1]
    if (parent !== undefined) (parent.frame.calls ??= []).push(frame)
    else this.root = frame
    this.stack.push({ frame, enter })
  }

  onStep(step: InterpreterStep): void {
    if (!this.options.withLog) return
    const name = step.opcode.name
    if (!name.startsWith('LOG')) return
    const open = this.stack[this.stack.length - 1]
    if (open === undefined || step.depth !== this.depth) return
    const topicCount = Number(name.slice(3))
    const stack = step.stack
    if (stack.length < 2 + topicCount) return
    const offset = Number(stack[stack.length - 1])
    const size = Number(stack[stack.length - 2])
    const topics: string[] = []
    for (let i = 0; i < topicCount; i++) topics.push(bytesToHex(setLengthLeft(bigIntToBytes(stack[stack.length - 3 - i]!), 32)))
    // Memory beyond its current size reads as zeros (the LOG will expand it).
    const data = new Uint8Array(size)
    if (offset < step.memory.length) data.set(step.memory.subarray(offset, Math.min(offset + size, step.memory.length)))
    const log: CallLog = { address: step.address.toString(), topics, data: bytesToHex(data), position: intToHex(open.frame.calls?.length ?? 0) }
    this.context.budget.charge(log.data.length + topicCount * 70 + 120)
    ;(open.frame.logs ??= []).push(log)
  }

  onExit(result: EVMResult): void {
    const exitingDepth = this.depth
    this.depth--
    if (this.options.onlyTopCall && exitingDepth > 0) return
    const open = this.stack.pop()
    if (open === undefined) return
    const { frame, enter } = open
    const { execResult } = result
    const error = execResult.exceptionError
    if (frame.to === undefined && enter.message.to !== undefined) frame.to = enter.message.to.toString()
    frame.gasUsed = bigIntToHex(execResult.executionGasUsed)
    if (error === undefined || error.error === 'revert') {
      // For a CREATE, what the init code returned: the runtime code (geth alike).
      const output = execResult.returnValue
      if (output.length > 0) {
        frame.output = bytesToHex(output)
        this.context.budget.charge(frame.output.length)
      }
    }
    if (error !== undefined) {
      frame.error = gethError(error.error)
      if (error.error === 'revert') {
        const reason = revertReason(execResult.returnValue)
        if (reason !== undefined) frame.revertReason = reason
      }
      clearLogs(frame)
    }
  }

  onTxEnd(result: RunTxResult): void {
    if (this.root === undefined) return
    // The transaction's frame: all the gas it bought, and what the receipt says it used.
    this.root.gasUsed = bigIntToHex(result.totalGasSpent)
  }

  result(): CallFrame {
    if (this.root === undefined) throw new Error('CallTracer.result() before the transaction ran')
    return this.root
  }
}

function clearLogs(frame: CallFrame): void {
  delete frame.logs
  for (const call of frame.calls ?? []) clearLogs(call)
}
