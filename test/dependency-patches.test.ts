import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Message } from '@ethereumjs/evm'
import { Address, createAddressFromString } from '@ethereumjs/util'
// @ts-expect-error: a plain JavaScript module without declarations
import { PATCHES, patchDependencies, patchText } from '../scripts/patch-dependencies.mjs'

type Patch = { id: string; find: string; replace: string; reads: string[]; statements?: boolean }
const patches = PATCHES as Patch[]
const patch = (id: string): Patch => patches.find((p) => p.id === id)!

/** A patch's `find` or `replace` as a function of the names it reads. */
function evaluate<T = Record<string, unknown>>(patch: Patch, which: 'find' | 'replace', ...values: unknown[]): T {
  return new Function(...patch.reads, patch.statements === true ? patch[which] : `return (${patch[which]})`)(...values) as T
}

/** Same keys in the same order, the same values: the same objects, but for byte arrays each side makes anew. */
function assertSameCopy(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected))
  for (const key of Object.keys(expected)) {
    if (expected[key] instanceof Uint8Array) assert.deepEqual(actual[key], expected[key], key)
    else assert.equal(actual[key], expected[key], key)
  }
}

const TO = createAddressFromString('0x00000000000000000000000000000000000000aa')
const CALLER = createAddressFromString('0x00000000000000000000000000000000000000bb')

describe('dependency patches (scripts/patch-dependencies.mjs)', () => {
  it('are applied to the installed dependencies', () => {
    // `npm ci` applies them (`prepare`); an upgrade they no longer fit fails here.
    const results = patchDependencies({ write: false }) as { id: string; file: string; state: string }[]
    assert.ok(results.length >= patches.length)
    for (const { id, file, state } of results) assert.equal(state, 'present', `${id} in ${file}`)
  })

  it('rewrite the original once, know their own output, and report a file they do not fit', () => {
    for (const p of patches) {
      const original = `before\n${p.find}\nafter`
      const once = patchText(original, p)
      assert.equal(once.state, 'applied')
      assert.equal(once.text, `before\n${p.replace}\nafter`)
      assert.deepEqual(patchText(once.text, p), { state: 'present', text: once.text })
      assert.equal(patchText('something else', p).state, 'missing')
      // Twice in one file: which one was meant is not known, so neither is touched.
      assert.equal(patchText(`${p.find}\n${p.find}`, p).state, 'missing')
    }
  })

  it("the call's message: the same copy of an ethereumjs Message, with and without a code address", () => {
    const p = patch('evm-call-message-copy')
    for (const codeAddress of [undefined, new Address(new Uint8Array(20).fill(0xcc))]) {
      const message = new Message({ to: TO, caller: CALLER, gasLimit: 100_000n, value: 5n, data: new Uint8Array([1, 2]), depth: 1, ...(codeAddress === undefined ? {} : { codeAddress }) })
      const expected = evaluate(p, 'find', message, 90_000n)
      const actual = evaluate(p, 'replace', message, 90_000n)
      assertSameCopy(actual, expected)
      assert.equal(actual.codeAddress, codeAddress ?? TO)
      assert.equal(actual.gasLimit, 90_000n)
    }
    // Negative control: the code address put after the message's own properties is a different copy.
    const message = new Message({ to: TO, caller: CALLER, gasLimit: 1n })
    const moved = new Function('message', 'gasLimit', 'return { ...message, codeAddress: message.codeAddress, gasLimit }')(message, 1n) as Record<string, unknown>
    assert.throws(() => assertSameCopy(moved, evaluate(p, 'find', message, 1n)))
  })

  it("the interpreter's result: the same object and merged runState, keys shared between the parts included", () => {
    const p = patch('evm-interpreter-result-copy')
    const stack = {}
    const memory = {}
    const runState = { programCounter: 7, opCode: 0xf3, memory, stack, gasLeft: 21n, gasRefund: 3n, stateGasSpilled: 0n, returnBytes: new Uint8Array(0), logs: 'runState logs' }
    const env = { address: TO, caller: CALLER, callData: new Uint8Array(0), depth: 0, isStatic: false, gasRefund: 9n }
    for (const result of [
      { logs: [], returnValue: new Uint8Array([1]), selfdestruct: new Map() },
      { logs: [], returnValue: undefined, selfdestruct: new Map(), createdAddresses: new Set(), gasRefund: 4n },
    ]) {
      const interpreterRes = { runState, exceptionError: undefined }
      const expected = evaluate(p, 'find', result, interpreterRes, { _env: env }, 50n)
      const actual = evaluate(p, 'replace', result, interpreterRes, { _env: env }, 50n)
      assertSameCopy(actual, { ...expected, runState: actual.runState })
      assertSameCopy(actual.runState as Record<string, unknown>, expected.runState as Record<string, unknown>)
      assert.equal((actual.runState as { stack: unknown }).stack, stack)
    }
    // Negative control: merged in another order, the shared keys (logs, gasRefund) come out differently.
    const result = { logs: [], returnValue: undefined, selfdestruct: new Map() }
    const wrong = { ...evaluate(p, 'replace', result, { runState }, { _env: env }, 50n), runState: Object.assign({}, env, result, runState) }
    assert.throws(() => assertSameCopy(wrong.runState as Record<string, unknown>, evaluate(p, 'find', result, { runState }, { _env: env }, 50n).runState as Record<string, unknown>))
  })

  it('the padding of bytes to a length: the same bytes, in a new plain Uint8Array, on either side', () => {
    const p = patch('util-set-length-pad')
    const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + n * 11 + 1) & 0xff)
    for (const length of [4, 8, 32]) {
      for (let n = 0; n < length; n++) {
        for (const msg of [random(n), Buffer.from(random(n))]) {
          for (const right of [false, true]) {
            const expected = evaluate<Uint8Array>(p, 'find', msg, length, right)
            const actual = evaluate<Uint8Array>(p, 'replace', msg, length, right)
            assert.equal(actual.constructor, Uint8Array)
            assert.equal(expected.constructor, Uint8Array)
            assert.notEqual(actual.buffer, msg.buffer)
            assert.deepEqual(actual, expected)
          }
        }
      }
    }
    // Negative control: padded on the other side, a non-empty value comes out differently.
    const msg = random(3)
    const wrong = new Function('msg', 'length', 'right', p.replace.replace('right ? 0 : length - msg.length', 'right ? length - msg.length : 0'))(msg, 32, false) as Uint8Array
    assert.notDeepEqual(wrong, evaluate<Uint8Array>(p, 'find', msg, 32, false))
  })
})
