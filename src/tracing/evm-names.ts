/**
 * Where ethereumjs and geth word the same thing differently: the gas an opcode costs in a trace
 * (geth counts the gas a CALL forwards), error strings, and revert reasons.
 */
import type { InterpreterStep } from '@ethereumjs/evm'

const CALLS = new Set(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL'])

/**
 * The `gasCost` geth reports: the opcode's own cost, plus for the CALL family the gas forwarded to
 * the callee (EIP-150: all but 1/64 of what is left, at most what the stack asks for; geth's
 * `callGas`, without the 2300 stipend, which is free). ethereumjs charges the forwarded gas apart.
 */
export function callGasCost(step: InterpreterStep): bigint {
  const cost = step.opcode.dynamicFee ?? BigInt(step.opcode.fee)
  if (!CALLS.has(step.opcode.name)) return cost
  const requested = step.stack[step.stack.length - 1]
  const available = step.gasLeft - cost
  if (requested === undefined || available < 0n) return cost
  const allowed = available - available / 64n
  return cost + (requested < allowed ? requested : allowed)
}

/** The step a frame last ran: what its failure is worded after. */
export type LastStep = { readonly op: string; readonly gasLeft: bigint }

/** EIP-2200: an SSTORE with at most the call stipend left fails (geth wraps the reason in "out of gas"). */
const SSTORE_SENTRY_GAS = 2300n

/** ethereumjs' `EVMError` messages as geth words them (core/vm/errors.go), given the step that failed. */
export function gethError(error: string, last?: LastStep): string {
  const op = last?.op
  switch (error) {
    case 'out of gas':
      return op === 'SSTORE' && last!.gasLeft <= SSTORE_SENTRY_GAS ? 'out of gas: not enough gas for reentrancy sentry' : 'out of gas'
    case 'revert':
      return 'execution reverted'
    case 'invalid JUMP':
      return 'invalid jump destination'
    case 'static state change':
      return 'write protection'
    case 'invalid opcode':
      return op === undefined ? 'invalid opcode' : `invalid opcode: ${op}`
    case 'create collision':
      return 'contract address collision'
    case 'code store out of gas':
      return 'contract creation code storage out of gas'
    case 'code size to deposit exceeds maximum code size':
      return 'max code size exceeded'
    case 'insufficient balance':
      return 'insufficient balance for transfer'
    case 'value overflow':
      return 'gas uint64 overflow'
    case 'invalid input length':
      return 'invalid input length'
    default:
      return error
  }
}

const PANIC_REASONS: Record<number, string> = {
  0x00: 'generic panic',
  0x01: 'assert(false)',
  0x11: 'arithmetic underflow or overflow',
  0x12: 'division or modulo by zero',
  0x21: 'enum overflow',
  0x22: 'invalid encoded storage byte array accessed',
  0x31: 'out-of-bounds array access; popping on an empty array',
  0x32: 'out-of-bounds access of an array or bytesN',
  0x41: 'out of memory',
  0x51: 'uninitialized function',
}

/** geth's `abi.UnpackRevert`: the message of an `Error(string)` or `Panic(uint256)` revert, else undefined. */
export function revertReason(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const selector = view.readUInt32BE(0)
  if (selector === 0x08c379a0 && data.length >= 68) {
    const offset = view.readBigUInt64BE(4 + 24)
    const at = 4 + Number(offset)
    if (offset > BigInt(data.length) || at + 32 > data.length) return undefined
    const length = Number(view.readBigUInt64BE(at + 24))
    if (at + 32 + length > data.length) return undefined
    return view.subarray(at + 32, at + 32 + length).toString('utf8')
  }
  if (selector === 0x4e487b71 && data.length === 36) {
    const code = view.readBigUInt64BE(4 + 24)
    return PANIC_REASONS[Number(code)] ?? `unknown panic code: 0x${code.toString(16)}`
  }
  return undefined
}
