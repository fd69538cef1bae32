/**
 * MLOAD and MSTORE without ethereumjs' detours through strings.
 *
 * ethereumjs' MSTORE turns the stack word into bytes with `bigIntToBytes` (a hex string, parsed
 * back) and pads them to 32 with `setLengthLeft`, which builds two JavaScript arrays by spreading
 * typed arrays; its MLOAD reads the word back through a hex string. ~1.4 µs a store and ~0.4 µs a
 * load on this machine, where these take 0.05–0.2 µs: in `bench:e2e`'s `erc20` they were ~40 µs
 * of the ~550 µs a token transfer costs the main thread (`setLength`, `bigIntToBytes`,
 * `bytesToBigInt` in its profile). The handlers here do the same to the stack and to memory, with
 * the same gas: only the handler functions are replaced, in the opcode table each EVM copies when
 * it is built, so the base and memory-expansion gas stay ethereumjs' own.
 *
 * ethereumjs does not export that table from its entry point; it is loaded from the file next to
 * it, the module instance the EVM uses (as `jump-analysis.ts` loads the interpreter). If a later
 * ethereumjs moves it or changes these handlers' shape, loading this module fails here, with this
 * file's name, rather than running something else.
 */

type Stack = { pop(): bigint; popN(count: number): bigint[]; push(value: bigint): void }
type Memory = { read(offset: number, size: number, avoidCopy?: boolean): Uint8Array; write(offset: number, size: number, value: Uint8Array): void }
type RunState = { stack: Stack; memory: Memory }
type Handler = (runState: RunState) => void

const MLOAD = 0x51
const MSTORE = 0x52

const functionsUrl = new URL('./opcodes/functions.js', import.meta.resolve('@ethereumjs/evm'))
const { handlers } = (await import(functionsUrl.href)) as { handlers?: Map<number, Handler> }
if (!(handlers instanceof Map) || typeof handlers.get(MLOAD) !== 'function' || typeof handlers.get(MSTORE) !== 'function') {
  throw new Error(`word-opcodes.ts: @ethereumjs/evm's opcode handler table is not at ${functionsUrl.href}; update this module for the installed ethereumjs`)
}

/** ethereumjs' own handlers, as shipped (tests compare against them). */
export const stockHandlers: { readonly mload: Handler; readonly mstore: Handler } = { mload: handlers.get(MLOAD)!, mstore: handlers.get(MSTORE)! }

/** Value of each ASCII hex digit (lower case, as `BigInt.prototype.toString(16)` writes them). */
const HEX_VALUE = new Uint8Array(128)
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i

/** A stack word (0 ≤ word < 2^256) as 32 big-endian bytes. */
export function wordBytes(word: bigint): Uint8Array {
  const bytes = new Uint8Array(32)
  if (word === 0n) return bytes
  const hex = word.toString(16)
  let digit = hex.length
  let at = 31
  for (; digit >= 2; digit -= 2, at--) bytes[at] = (HEX_VALUE[hex.charCodeAt(digit - 2)]! << 4) | HEX_VALUE[hex.charCodeAt(digit - 1)]!
  if (digit === 1) bytes[at] = HEX_VALUE[hex.charCodeAt(0)]!
  return bytes
}

/** 32 big-endian bytes as a stack word: four 64-bit limbs, each from two 32-bit halves. */
export function wordValue(bytes: Uint8Array): bigint {
  let value = 0n
  for (let at = 0; at < 32; at += 8) {
    const high = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
    const low = ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!) >>> 0
    if (value === 0n) {
      if (high === 0 && low === 0) continue
      value = (BigInt(high) << 32n) | BigInt(low)
    } else {
      value = (value << 64n) | (BigInt(high) << 32n) | BigInt(low)
    }
  }
  return value
}

export const wordHandlers: { readonly mload: Handler; readonly mstore: Handler } = {
  mload(runState) {
    const offset = runState.stack.pop()
    runState.stack.push(wordValue(runState.memory.read(Number(offset), 32, true)))
  },
  mstore(runState) {
    const [offset, word] = runState.stack.popN(2)
    runState.memory.write(Number(offset), 32, wordBytes(word!))
  },
}

let installed = false

/**
 * Installs the handlers for this thread (module instances are per thread), before its first EVM
 * is built: `createExecutionVM` calls it, so every VM mosaic runs has them; a thread that never
 * builds one (bench:exec's stock ethereumjs baseline) keeps ethereumjs as it ships.
 */
export function installWordOpcodes(): void {
  if (installed) return
  installed = true
  handlers!.set(MLOAD, wordHandlers.mload)
  handlers!.set(MSTORE, wordHandlers.mstore)
}
