/**
 * ethereumjs' interpreter loop without a promise per opcode.
 *
 * ethereumjs runs every opcode through `await this.runStep(…)`, an async method, and every
 * dynamic gas handler is an async function too: each step allocates promises and resumes through
 * the microtask queue, even for ADD or MSTORE, which never wait for anything. In `bench:exec`'s
 * sequential `erc20` that was ~160 KiB of garbage per token transfer, more than a third of all it
 * allocates, and the collector was ~30% of its time.
 *
 * The loop here runs the same steps in the same order with the same gas: it awaits only what can
 * wait (an opcode ethereumjs marks async: state access, calls, creates; a dynamic gas handler with
 * no synchronous twin here) and calls the rest directly. The synchronous gas handlers below are
 * those that only price memory expansion and copied words, written with ethereumjs' own
 * `subMemUsage`. Whatever this loop does not cover runs ethereumjs' own loop, unchanged:
 * anything listening to `step` (the tracers of `debug_trace*`), the EVM's DEBUG mode or profiler,
 * EOF code, and the stateless (Verkle) forks that charge code chunks.
 *
 * ethereumjs does not export its `Interpreter`; it is loaded from the file next to the package's
 * entry point, the module instance the EVM uses (as `jump-analysis.ts` does). If a later
 * ethereumjs moves it or changes the shapes used here, loading this module fails here, with this
 * file's name, rather than running something else.
 */

type Gas = bigint
type Stack = { peek(count?: number): bigint[] }
type RunState = {
  programCounter: number
  opCode: number
  code: Uint8Array
  stack: Stack
  memoryWordCount: bigint
  gasLeft: bigint
  validJumps: Uint8Array
  cachedPushes: object
  shouldDoJumpAnalysis: boolean
  env: { accessWitness?: { commit(): void; revert(): void } }
  eip8037BurnLeftoverAfterCreateHaltOntoAlive?: boolean
}
type Common = { isActivatedEIP(eip: number): boolean; param(name: string): bigint }
type OpcodeInfo = { code: number; feeBigInt: bigint; dynamicGas: boolean; isAsync: boolean; isInvalid: boolean }
export type GasHandler = (runState: RunState, gas: Gas, common: Common) => Promise<Gas> | Gas
type OpHandler = (runState: RunState, common: Common) => unknown
type OpcodeEntry = { opcodeInfo: OpcodeInfo; opHandler: OpHandler; gasHandler: GasHandler }
type RunResult = { runState: RunState; exceptionError: unknown }
type InterpreterThis = {
  _runState: RunState
  _evm: { DEBUG: boolean; events: { listenerCount(event: string): number }; _opcodeMap: OpcodeEntry[] }
  common: Common
  profilerOpts?: { enabled?: boolean }
  useGas(amount: Gas, context: OpcodeInfo): void
  lookupOpInfo(op: number): OpcodeEntry
  _getValidJumpDestinations(code: Uint8Array): { jumps: Uint8Array; pushes: object; opcodesCached: OpcodeEntry[] }
}
type Run = (this: InterpreterThis, code: Uint8Array, opts?: { pc?: number }) => Promise<RunResult>

const base = import.meta.resolve('@ethereumjs/evm')
const modules = {
  interpreter: new URL('./interpreter.js', base),
  errors: new URL('./errors.js', base),
  util: new URL('./opcodes/util.js', base),
  eip7928: new URL('./opcodes/EIP7928.js', base),
}
const { Interpreter } = (await import(modules.interpreter.href)) as { Interpreter?: { prototype: { run: Run } } }
const { EVMError, EVMErrorTypeString } = (await import(modules.errors.href)) as {
  EVMError?: { new (message: string): unknown; errorMessages: { INVALID_OPCODE: string; STOP: string; OUT_OF_GAS: string } }
  EVMErrorTypeString?: string
}
const { subMemUsage, divCeil } = (await import(modules.util.href)) as {
  subMemUsage?: (runState: RunState, offset: bigint, length: bigint, common: Common) => bigint
  divCeil?: (a: bigint, b: bigint) => bigint
}
const { consumeEip7928PostTargetCallOog } = (await import(modules.eip7928.href)) as { consumeEip7928PostTargetCallOog?: (runState: RunState) => void }
const stockRun = Interpreter?.prototype.run
if (
  typeof stockRun !== 'function' ||
  typeof EVMError !== 'function' ||
  typeof EVMErrorTypeString !== 'string' ||
  typeof EVMError.errorMessages?.INVALID_OPCODE !== 'string' ||
  typeof subMemUsage !== 'function' ||
  typeof divCeil !== 'function' ||
  typeof consumeEip7928PostTargetCallOog !== 'function'
) {
  throw new Error(`step-loop.ts: @ethereumjs/evm's interpreter, errors or opcode utilities are not where ${modules.interpreter.href} says; update this module for the installed ethereumjs`)
}

const JUMP = 0x56
const JUMPI = 0x57
const JUMPSUB = 0x5e
const EOF_FORMAT = 0xef
const WORD = 32n

const sub = (runState: RunState, offset: bigint, length: bigint, common: Common): Gas => subMemUsage!(runState, offset, length, common)
const words = (length: bigint): bigint => divCeil!(length, WORD)

/**
 * Synchronous twins of ethereumjs' dynamic gas handlers that only price memory (and copied or
 * hashed words), by opcode: the same arithmetic on the same stack words, through ethereumjs' own
 * `subMemUsage`, which also records the memory's new size and highest cost as ethereumjs' would.
 * `step-loop.test.ts` runs each against ethereumjs' handler on the same stacks.
 */
export const syncGasHandlers: ReadonlyMap<number, GasHandler> = new Map<number, GasHandler>([
  [0x20, (rs, gas, common) => { // KECCAK256 offset, length
    const [offset, length] = rs.stack.peek(2) as [bigint, bigint]
    return gas + sub(rs, offset, length, common) + common.param('keccak256WordGas') * words(length)
  }],
  [0x37, (rs, gas, common) => { // CALLDATACOPY memOffset, dataOffset, length
    const [offset, , length] = rs.stack.peek(3) as [bigint, bigint, bigint]
    gas += sub(rs, offset, length, common)
    return length === 0n ? gas : gas + common.param('copyGas') * words(length)
  }],
  [0x51, (rs, gas, common) => gas + sub(rs, rs.stack.peek(1)[0]!, 32n, common)], // MLOAD offset
  [0x52, (rs, gas, common) => gas + sub(rs, rs.stack.peek(1)[0]!, 32n, common)], // MSTORE offset
  [0x53, (rs, gas, common) => gas + sub(rs, rs.stack.peek(1)[0]!, 1n, common)], // MSTORE8 offset
  [0xf3, (rs, gas, common) => { // RETURN offset, length
    const [offset, length] = rs.stack.peek(2) as [bigint, bigint]
    return gas + sub(rs, offset, length, common)
  }],
  [0xfd, (rs, gas, common) => { // REVERT offset, length
    const [offset, length] = rs.stack.peek(2) as [bigint, bigint]
    return gas + sub(rs, offset, length, common)
  }],
])

/** Does this run need ethereumjs' own loop (see the module's comment)? */
function needsStockLoop(interpreter: InterpreterThis, code: Uint8Array): boolean {
  const { common, _evm: evm } = interpreter
  return (
    evm.DEBUG ||
    interpreter.profilerOpts?.enabled === true ||
    evm.events.listenerCount('step') > 0 ||
    (code[0] === EOF_FORMAT && common.isActivatedEIP(3540)) ||
    common.isActivatedEIP(6800) ||
    common.isActivatedEIP(7864)
  )
}

function isEVMError(error: unknown): error is { error: string } {
  return typeof error === 'object' && error !== null && (error as { errorType?: unknown }).errorType === EVMErrorTypeString
}

/**
 * One message's code, step by step: ethereumjs' `Interpreter.run` for legacy code, awaiting only
 * the steps that can wait.
 */
async function run(this: InterpreterThis, code: Uint8Array, opts: { pc?: number } = {}): Promise<RunResult> {
  if (needsStockLoop(this, code)) return stockRun!.call(this, code, opts)
  const runState = this._runState
  const common = this.common
  runState.code = code
  runState.programCounter = opts.pc ?? runState.programCounter
  const start = runState.programCounter
  if (start !== 0 && (start < 0 || start >= code.length)) throw new Error('Internal error: program counter not in range')
  // As ethereumjs: the jump analysis (with its table of each offset's opcode entry) is made at
  // the first JUMP, JUMPI or JUMPSUB; code that never jumps looks each opcode up.
  let cached: OpcodeEntry[] | undefined
  let error: unknown
  while (runState.programCounter < code.length) {
    const pc = runState.programCounter
    let entry: OpcodeEntry
    let opCode: number
    if (cached === undefined) {
      opCode = code[pc]!
      if (opCode === JUMP || opCode === JUMPI || opCode === JUMPSUB) {
        const { jumps, pushes, opcodesCached } = this._getValidJumpDestinations(code)
        runState.validJumps = jumps
        runState.cachedPushes = pushes
        runState.shouldDoJumpAnalysis = false
        cached = opcodesCached
      }
      entry = this.lookupOpInfo(opCode)
    } else {
      entry = cached[pc]!
      opCode = entry.opcodeInfo.code
    }
    const info = entry.opcodeInfo
    runState.opCode = opCode
    try {
      let gas = info.feeBigInt
      if (info.dynamicGas) {
        const twin = syncGasHandlers.get(opCode)
        gas = twin !== undefined ? (twin(runState, gas, common) as Gas) : await entry.gasHandler(runState, gas, common)
      }
      if (info.isInvalid) throw new EVMError!(EVMError!.errorMessages.INVALID_OPCODE)
      this.useGas(gas, info)
      runState.programCounter++
      consumeEip7928PostTargetCallOog!(runState)
      // ethereumjs marks the whole 0x30–0x45 range async, CALLER and CALLDATALOAD included, whose
      // handlers are plain functions: only a promise is awaited.
      if (info.isAsync) {
        const pending = entry.opHandler(runState, common)
        if (pending instanceof Promise) await pending
      } else entry.opHandler(runState, common)
      runState.env.accessWitness?.commit()
    } catch (caught) {
      runState.env.accessWitness?.revert()
      if (!isEVMError(caught)) throw caught
      // STOP ends the code without an error.
      if (caught.error !== EVMError!.errorMessages.STOP) error = caught
      break
    }
  }
  if (error === undefined && runState.eip8037BurnLeftoverAfterCreateHaltOntoAlive === true && runState.gasLeft > 0n) {
    // As ethereumjs (EIP-8037): the leftover is burnt and the frame halts exceptionally.
    runState.gasLeft = 0n
    error = new EVMError!(EVMError!.errorMessages.OUT_OF_GAS)
  }
  return { runState, exceptionError: error }
}

let installed = false

/**
 * Installs the loop for this thread (module instances are per thread); `createExecutionVM` calls
 * it, so every VM mosaic runs has it, and a thread that never builds one (bench:exec's stock
 * ethereumjs baseline) keeps ethereumjs as it ships.
 */
export function installStepLoop(): void {
  if (installed) return
  installed = true
  useStepLoop(true)
}

/**
 * Which loop this thread's interpreters run from now on: this module's, or ethereumjs' own
 * (`false`; the tests compare the two on the same blocks).
 */
export function useStepLoop(on: boolean): void {
  Interpreter!.prototype.run = on ? run : stockRun!
}
