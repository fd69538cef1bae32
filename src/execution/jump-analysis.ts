/**
 * One jump analysis per contract code, not one per call.
 *
 * On every call into code that jumps, ethereumjs' interpreter analyses the whole code before its
 * first JUMP: which offsets are JUMPDESTs, every PUSH operand decoded to a bigint, and every
 * opcode's table entry: a scan of the code, an array of one entry per code byte and a bigint per
 * PUSH, on each call. That is 35 KB of garbage per call into MosaicToken (1,850 bytes of code),
 * and was ~6% of `bench:exec`'s sequential `erc20` time before the collector's share.
 *
 * The analysis depends only on the code and on the EVM's opcode table. The EVM builds a new table
 * object when its hardfork changes, so the cache is keyed by that table, then by the code's
 * `Uint8Array`. The state's code caches (`FlatState`, the workers' sources) hand out the same
 * array for the same code, and code is never written in place. The interpreter only reads the
 * analysis (`validJumps`, `cachedPushes`, the opcode entries), so calls share it, re-entrant ones
 * included. Both maps are weak: an analysis goes when its code or its EVM does.
 *
 * ethereumjs does not export its `Interpreter`; it is loaded from the file next to the package's
 * entry point, which is the same module instance the EVM uses. If a later ethereumjs moves or
 * renames it, loading this module fails here, with this file's name, rather than running slower.
 */

type JumpAnalysis = object
type InterpreterPrototype = {
  _getValidJumpDestinations(this: InterpreterThis, code: Uint8Array): JumpAnalysis
}
type InterpreterThis = { _evm: { _opcodeMap: object } }
/** What the maps hold: the analysis, in an object of its own so that its release can be seen. */
type Kept = { readonly analysis: JumpAnalysis }

/**
 * Code bytes whose analyses this thread keeps, at most. An analysis takes ~19 times its code's
 * bytes (an array slot per byte, a bigint per PUSH: 35 KB for MosaicToken's 1,850), so this bounds
 * them at ~20 MB per thread that executes (the sequencer's, each parallel executor worker's):
 * without it, a state cache full of large contracts that were called would hold many times its
 * budget in analyses. Past it, calls analyse as ethereumjs does, until kept ones are released.
 */
export const ANALYSED_CODE_BYTES = 1024 * 1024

const analyses = new WeakMap<object, WeakMap<Uint8Array, Kept>>()
let analysedBytes = 0
// A kept analysis goes when its code or its EVM's table does; either way its bytes are freed.
const released = new FinalizationRegistry<number>((bytes) => {
  analysedBytes -= bytes
})
let computed = 0

const interpreterUrl = new URL('./interpreter.js', import.meta.resolve('@ethereumjs/evm'))
const { Interpreter } = (await import(interpreterUrl.href)) as { Interpreter?: { prototype: InterpreterPrototype } }
const analyse = Interpreter?.prototype._getValidJumpDestinations
if (Interpreter === undefined || typeof analyse !== 'function' || analyse.length !== 1) {
  throw new Error(`jump-analysis.ts: @ethereumjs/evm's Interpreter._getValidJumpDestinations(code) is not at ${interpreterUrl.href}; update this module for the installed ethereumjs`)
}
let installed = false

/**
 * Installs the cache for this thread (module instances are per thread). `createExecutionVM` calls
 * it, so every VM mosaic runs has it; a thread that never builds one (bench:exec's stock
 * ethereumjs baseline) keeps ethereumjs as it ships.
 */
export function installJumpAnalysisCache(): void {
  if (installed) return
  installed = true
  Interpreter!.prototype._getValidJumpDestinations = function cachedJumpAnalysis(this: InterpreterThis, code: Uint8Array): JumpAnalysis {
    const table = this._evm._opcodeMap
    let byCode = analyses.get(table)
    if (byCode === undefined) {
      byCode = new WeakMap()
      analyses.set(table, byCode)
    }
    const kept = byCode.get(code)
    if (kept !== undefined) return kept.analysis
    const analysis = analyse!.call(this, code)
    computed++
    if (analysedBytes + code.length <= ANALYSED_CODE_BYTES) {
      const entry: Kept = { analysis }
      byCode.set(code, entry)
      analysedBytes += code.length
      released.register(entry, code.length)
    }
    return analysis
  }
}

/** How many analyses this thread has computed (the rest were reused), and the code bytes of those kept: for tests. */
export function jumpAnalysisStats(): { computed: number; keptBytes: number } {
  return { computed, keptBytes: analysedBytes }
}
