/**
 * geth's `callTracer` (eth/tracers/native/call.go): the tree of call frames — type, from, to,
 * value, gas, gasUsed, input, output, error, revertReason, nested calls — with `onlyTopCall`
 * (the transaction's frame only) and `withLog` (each frame's logs, with `position`, the number of
 * sub-calls made before the log). Logs of failed frames are dropped with them, as geth does.
 */
import type { EVMResult, InterpreterStep } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import { bigIntToHex, intToHex, setLengthLeft, bigIntToBytes } from '@ethereumjs/util'
import { gethError, type LastStep, revertReason } from './evm-names.ts'
import type { CallTracerOptions, CallType, EnterFrame, Tracer, TxTraceContext } from './types.ts'
import { bytesToHex } from '../utils/hex.ts'

export type CallLog = { address: string; topics: string[]; data: string; position: string; index: string }

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
  /** The block-wide index the next log gets; per open frame, its value when the frame began (a failed frame's logs are undone, as the state's log list is). */
  private logIndex = 0
  private readonly logMarks: number[] = []
  private last: LastStep | undefined

  constructor(private readonly options: CallTracerOptions) {}

  onTxStart(context: TxTraceContext): void {
    this.context = context
    this.logIndex = context.firstLogIndex
  }

  onEnter(enter: EnterFrame): void {
    this.depth = enter.depth
    this.logMarks.push(this.logIndex)
    if (this.options.onlyTopCall && enter.depth > 0) return
    const { message, type } = enter
    const to = message.to === undefined ? undefined : type === 'DELEGATECALL' || type === 'CALLCODE' ? message.codeAddress : message.to
    const input = bytesToHex(message.data)
    const frame: CallFrame = {
      type,
      // A DELEGATECALL's message keeps the caller's caller; the frame is from the contract delegating.
      from: (type === 'DELEGATECALL' && message.to !== undefined ? message.to : message.caller).toString(),
      ...(to === undefined ? {} : { to: to.toString() }),
      // geth: a STATICCALL carries no value.
      ...(type === 'STATICCALL' ? {} : { value: bigIntToHex(message.value) }),
      gas: bigIntToHex(message.gasLimit),
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
    const name = step.opcode.name
    this.last = { op: name, gasLeft: step.gasLeft }
    if (!this.options.withLog || !name.startsWith('LOG')) return
    const index = this.logIndex++
    const open = this.stack[this.stack.length - 1]
    if (open === undefined || open.enter.depth !== step.depth) return
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
    const log: CallLog = { address: step.address.toString(), topics, data: bytesToHex(data), position: intToHex(open.frame.calls?.length ?? 0), index: intToHex(index) }
    this.context.budget.charge(log.data.length + topicCount * 70 + 120)
    ;(open.frame.logs ??= []).push(log)
  }

  onExit(result: EVMResult): void {
    const exitingDepth = this.depth
    this.depth--
    const mark = this.logMarks.pop()
    if (result.execResult.exceptionError !== undefined && mark !== undefined) this.logIndex = mark
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
      frame.error = gethError(error.error, this.last)
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
