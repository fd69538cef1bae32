import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { Message } from '@ethereumjs/evm'
import { Address, BIGINT_0, bytesToHex, bytesToUnprefixedHex, createAddressFromString, EthereumJSErrorWithoutCode, hexToBytes, MAX_INTEGER, MAX_UINT64, padToEven, stripHexPrefix } from '@ethereumjs/util'
import { Capability, createFeeMarket1559Tx } from '@ethereumjs/tx'
import { Bloom } from '@ethereumjs/vm'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex as nobleBytesToHex } from '@noble/hashes/utils.js'
import { createChainCommon } from '../src/chain/common.ts'
import { keccak256 } from '../src/crypto/crypto.ts'
// @ts-expect-error: a plain JavaScript module without declarations
import { PATCHES, patchDependencies, patchText } from '../scripts/patch-dependencies.mjs'

type Patch = { id: string; package: string; files: string[]; find: string; replace: string; reads: string[]; statements?: boolean }
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

/**
 * A function of an installed dependency's ESM file as it is there (patched) or as published
 * (`unpatched`: each patch on that file reverted), built over the free names it reads: so the two
 * can be run on the same inputs.
 */
function installedFunction<F>(pkg: string, file: string, start: string, free: Record<string, unknown>, { unpatched = false } = {}): F {
  const path = fileURLToPath(new URL(`../node_modules/${pkg}/${file}`, import.meta.url))
  let text = readFileSync(path, 'utf8')
  if (unpatched) for (const p of patches) if (p.package === pkg && p.files.includes(file)) text = text.replace(p.replace, () => p.find)
  const at = text.indexOf(start)
  assert.ok(at >= 0, `${start} in ${path}`)
  const end = text.indexOf('\n}', at)
  const source = text.slice(at, end + 2).replace(/^export /, '')
  const name = /(?:function|const|class) (\w+)/.exec(source)![1]!
  return new Function(...Object.keys(free), `${source}${source.startsWith('const') ? ';' : ''}\nreturn ${name}`)(...Object.values(free)) as F
}

/** What a call gives: its value, or the message it threw. */
function outcome(call: () => unknown): unknown {
  try {
    return { value: call() }
  } catch (error) {
    return { threw: (error as Error).message }
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

  it('bytes to bigint: the same value as the hex reading, at every length, either byte order, from a Buffer too', () => {
    const BIGINT_CACHE = Array.from({ length: 65536 }, (_, i) => BigInt(i))
    const free = { assertIsBytes: () => {}, BIGINT_CACHE, BIGINT_0, bytesToHex: (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}` }
    type ToBigInt = (bytes: Uint8Array, littleEndian?: boolean) => bigint
    const patched = installedFunction<ToBigInt>('@ethereumjs/util', 'dist/esm/bytes.js', 'export const bytesToBigInt', free)
    const published = installedFunction<ToBigInt>('@ethereumjs/util', 'dist/esm/bytes.js', 'export const bytesToBigInt', free, { unpatched: true })
    const hexReading = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`))
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff
    for (let length = 0; length <= 40; length++) {
      for (const fill of ['random', 'ones', 'zeros', 'leading zero'] as const) {
        const bytes = Uint8Array.from({ length }, (_, i) => (fill === 'ones' ? 0xff : fill === 'zeros' || (fill === 'leading zero' && i === 0) ? 0 : next()))
        // A copy per call: little-endian, ethereumjs reverses `bytes.slice()`, which for a Buffer is a view of the caller's bytes.
        for (const copy of [() => bytes.slice(), () => Buffer.from(bytes)]) {
          for (const littleEndian of [false, true]) {
            const expected = hexReading(littleEndian ? bytes.slice().reverse() : bytes)
            assert.equal(patched(copy(), littleEndian), expected, `${length} ${fill} ${littleEndian}`)
            assert.equal(published(copy(), littleEndian), expected, `${length} ${fill} ${littleEndian}, published`)
          }
        }
      }
    }
    // The installed module is the patched one.
    assert.equal(evaluate<bigint>(patch('util-bytes-to-bigint'), 'replace', new Uint8Array(32).fill(0xab), false, BIGINT_CACHE), hexReading(new Uint8Array(32).fill(0xab)))
    // Negative control: chunks shifted by 40 bits instead of 48 give another value past 6 bytes.
    const p = patch('util-bytes-to-bigint')
    const wrong = new Function(...p.reads, p.replace.replace('<< 48n', '<< 40n')) as (b: Uint8Array, l: boolean, c: bigint[]) => bigint
    assert.notEqual(wrong(Uint8Array.from({ length: 13 }, (_, i) => i + 1), false, BIGINT_CACHE), hexReading(Uint8Array.from({ length: 13 }, (_, i) => i + 1)))
    assert.equal(wrong(Uint8Array.from([1, 2, 3]), false, BIGINT_CACHE), 0x010203n)
  })

  it('bigint to bytes: the same minimal big-endian bytes as published, around 2^53 and up to 2^256, either byte order', () => {
    type ToBytes = (num: bigint, littleEndian?: boolean) => Uint8Array
    const free = { hexToBytes, padToEven }
    const patched = installedFunction<ToBytes>('@ethereumjs/util', 'dist/esm/bytes.js', 'export const bigIntToBytes', free)
    const published = installedFunction<ToBytes>('@ethereumjs/util', 'dist/esm/bytes.js', 'export const bigIntToBytes', free, { unpatched: true })
    assert.notEqual(String(patched), String(published), 'the installed file is patched')
    const values = [0n, 1n, 127n, 255n, 256n, 65_535n, 65_536n, 21_000n, 10n ** 18n, 2n ** 48n - 1n, 2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n, 2n ** 256n - 1n]
    let x = 0x9e3779b97f4a7c15n
    for (let i = 0; i < 200; i++) values.push((x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n) >> BigInt(i % 64))
    // Past 2^53, every number of hex digits (odd ones start with a lone digit), and words of every letter.
    for (let bits = 53n; bits <= 300n; bits++) values.push(2n ** bits, 2n ** bits - 1n, 2n ** bits + 0xabcdefn)
    let w = 0x0123456789abcdefn
    for (let i = 0; i < 200; i++) values.push((w = (w * 6364136223846793005n + 1442695040888963407n) % 2n ** 256n) >> BigInt(i % 200))
    for (const value of values) {
      for (const littleEndian of [false, true]) {
        const actual = patched(value, littleEndian)
        assert.equal(actual.constructor, Uint8Array)
        assert.deepEqual(actual, published(value, littleEndian), `${value} ${littleEndian}`)
      }
    }
    // A negative value is refused as before.
    assert.deepEqual(outcome(() => patched(-1n)), outcome(() => published(-1n)))
    assert.ok('threw' in (outcome(() => patched(-1n)) as object))
    // Negative control: one byte too few for a value that needs 7 is another value.
    const p = patch('util-bigint-to-bytes')
    const wrong = new Function(...p.reads, p.replace.replace('let size = 1;', 'let size = 0;').split('\n').slice(1).join('\n')) as ToBytes
    assert.notDeepEqual(wrong(2n ** 50n, false), published(2n ** 50n, false))
    // Negative control past 2^53: the digits of a byte taken in the other order are another value.
    const swapped = new Function(...p.reads, p.replace.replace('((high > 57 ? high - 87 : high - 48) << 4) | (low > 57 ? low - 87 : low - 48)', '((low > 57 ? low - 87 : low - 48) << 4) | (high > 57 ? high - 87 : high - 48)').split('\n').slice(1).join('\n')) as ToBytes
    assert.notDeepEqual(swapped(2n ** 200n + 0x12n, false), published(2n ** 200n + 0x12n, false))
    assert.deepEqual(swapped(2n ** 50n, false), published(2n ** 50n, false))
  })

  it("bytes to hex: Buffer's digits are @noble/hashes' digits, for views, Buffers and every length, and the same refusals", () => {
    const cjs = createRequire(import.meta.url)('@ethereumjs/util') as { bytesToUnprefixedHex: (b: unknown) => string; bytesToHex: (b: unknown) => string }
    assert.notEqual(bytesToUnprefixedHex as unknown, nobleBytesToHex, 'the installed ESM build is patched')
    assert.notEqual(cjs.bytesToUnprefixedHex as unknown, nobleBytesToHex, 'the installed CommonJS build is patched')
    const pool = Uint8Array.from({ length: 400 }, (_, i) => (i * 151 + 7) & 0xff)
    const inputs: Uint8Array[] = []
    for (let length = 0; length <= 140; length++) {
      const bytes = pool.slice(0, length)
      // A view that starts inside its buffer, on V8's heap (≤ 64 bytes) or off it, and a Buffer.
      inputs.push(bytes, pool.subarray(length % 7 + 1, length % 7 + 1 + length), Buffer.from(bytes), new Uint8Array(new ArrayBuffer(length + 3), 3).fill(0xa5))
    }
    for (const bytes of inputs) {
      const expected = nobleBytesToHex(bytes)
      assert.equal(bytesToUnprefixedHex(bytes), expected)
      assert.equal(bytesToHex(bytes), `0x${expected}`)
      assert.equal(cjs.bytesToUnprefixedHex(bytes), expected)
      assert.equal(cjs.bytesToHex(bytes), `0x${expected}`)
    }
    for (const notBytes of [[1, 2], 'ab', undefined, null, 5, new Uint16Array(2), new DataView(new ArrayBuffer(2)), { length: 1, 0: 1 }]) {
      const expected = outcome(() => nobleBytesToHex(notBytes as unknown as Uint8Array))
      assert.ok('threw' in (expected as object))
      assert.deepEqual(outcome(() => bytesToUnprefixedHex(notBytes as unknown as Uint8Array)), expected)
      assert.deepEqual(outcome(() => cjs.bytesToUnprefixedHex(notBytes)), expected)
    }
    // Negative control: an encoder that viewed a large array's buffer from its start would differ on these inputs.
    const fromStart = (b: Uint8Array) => (b.length <= 64 ? Buffer.from(b) : Buffer.from(b.buffer, 0, b.length)).toString('hex')
    assert.ok(inputs.some((b) => fromStart(b) !== nobleBytesToHex(b)))
  })

  it("the journal's always-warm addresses: the same answers as published, access lists and slots included, from both hex forms", () => {
    type Journal = {
      addAlwaysWarmAddress(address: string, toAccessList?: boolean): void
      addAlwaysWarmSlot(address: string, slot: string, toAccessList?: boolean): void
      isWarmedAddress(address: Uint8Array): boolean
      isWarmedStorage(address: Uint8Array, slot: Uint8Array): boolean
      addWarmedAddress(address: Uint8Array): void
      addWarmedStorage(address: Uint8Array, slot: Uint8Array): void
      startReportingAccessList(): void
      cleanJournal(): void
      accessList?: Map<string, Set<string>>
    }
    type JournalClass = new (stateManager: unknown, common: unknown) => Journal
    const file = 'dist/esm/journal.js'
    const free = { stripHexPrefix, bytesToUnprefixedHex, isDebugEnabled: () => false, debugDefault: () => () => {} }
    const patched = installedFunction<JournalClass>('@ethereumjs/evm', file, 'export class Journal', free)
    const published = installedFunction<JournalClass>('@ethereumjs/evm', file, 'export class Journal', free, { unpatched: true })
    assert.notEqual(String(patched), String(published), 'the installed file is patched')
    const word = (byte: number, length: number) => new Uint8Array(length).fill(byte)
    const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
    const [a, b, c, d] = [0xaa, 0xbb, 0xcc, 0xdd].map((byte) => word(byte, 20)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
    const [s1, s2, s3] = [1, 2, 3].map((byte) => word(byte, 32)) as [Uint8Array, Uint8Array, Uint8Array]
    /** Every answer a sequence of calls gives, with what the access list holds at the end. */
    const script = (Class: JournalClass): unknown[] => {
      const journal = new Class({}, {})
      const answers: unknown[] = []
      const ask = () => {
        for (const address of [a, b, c, d]) {
          answers.push(journal.isWarmedAddress(address))
          for (const slot of [s1, s2, s3]) answers.push(outcome(() => journal.isWarmedStorage(address, slot)))
        }
      }
      ask()
      journal.startReportingAccessList()
      journal.addAlwaysWarmAddress(hex(a)) // unprefixed, as runTx warms the precompiles
      journal.addAlwaysWarmAddress(`0x${hex(b)}`, true) // prefixed, into the access list
      ask()
      journal.addAlwaysWarmSlot(hex(a), hex(s1))
      journal.addAlwaysWarmSlot(`0x${hex(c)}`, `0x${hex(s2)}`, true) // an address first warmed with its slot
      ask()
      journal.addWarmedAddress(a) // warm in this transaction's frames too: isWarmedStorage's other branch
      journal.addWarmedStorage(b, s3)
      journal.addWarmedStorage(d, s1)
      ask()
      answers.push([...(journal.accessList ?? [])].map(([k, v]) => [k, [...v]]))
      journal.cleanJournal()
      ask()
      return answers
    }
    const expected = script(published)
    assert.deepEqual(script(patched), expected)
    assert.ok(expected.includes(true) && expected.includes(false))
    // Negative control: the empty sets gone (and made at the first slot) but isWarmedStorage left
    // reading them as published throws where the published journal answers.
    let source = String(published)
    for (const id of ['evm-journal-always-warm-no-slots', 'evm-journal-always-warm-first-slot']) source = source.replace(patch(id).find.trim(), patch(id).replace.trim())
    const halfPatched = new Function(...Object.keys(free), `return ${source}`)(...Object.values(free)) as JournalClass
    assert.notDeepEqual(script(halfPatched), expected)
  })

  it('stripping a hex prefix: the same string as published for prefixed, unprefixed, invalid and odd inputs', () => {
    const p = patch('util-strip-hex-prefix')
    const isHexString = (value: string) => /^0x[0-9A-Fa-f]*$/.test(value)
    let calls = 0
    const counted = (value: string) => (calls++, isHexString(value))
    const inputs = ['', '0', 'x', '0x', '0X', '0X12', '0x12', '0xAbC', '0x0x', '0xzz', 'x0', '00x1', 'ab', 'deadbeef', '00'.repeat(20), `0x${'00'.repeat(20)}`, ' 0x1', '0x1 ', '\u00300x']
    for (const input of inputs) assert.equal(evaluate(p, 'replace', input, counted), evaluate(p, 'find', input, isHexString), JSON.stringify(input))
    // What it saves: no unprefixed input reached the expression.
    calls = 0
    for (const input of inputs) if (!input.startsWith('0x')) evaluate(p, 'replace', input, counted)
    assert.equal(calls, 0)
    // Negative control: a check of the prefix in either case would strip "0X12", which the expression keeps.
    const eitherCase = new Function(...p.reads, p.replace.replace('str.charCodeAt(1) === 120', '(str.charCodeAt(1) | 32) === 120').replace('isHexString(str)', '/^0[xX][0-9A-Fa-f]*$/.test(str)')) as (str: string, is: unknown) => string
    assert.notEqual(eitherCase('0X12', isHexString), evaluate(p, 'find', '0X12', isHexString))
  })

  it('the bloom: the same bits as the published class and as the definition, from both keccaks; the same checks', () => {
    type BloomClass = new (bitvector?: Uint8Array, common?: unknown) => { bitvector: Uint8Array; add(e: Uint8Array): void; check(e: Uint8Array): boolean }
    const free = { EthereumJSErrorWithoutCode, keccak_256, BYTE_SIZE: 256 }
    const Patched = Bloom as unknown as BloomClass
    const Published = installedFunction<BloomClass>('@ethereumjs/vm', 'dist/esm/bloom/index.js', 'export class Bloom', free, { unpatched: true })
    assert.notEqual(String(Published), String(installedFunction<BloomClass>('@ethereumjs/vm', 'dist/esm/bloom/index.js', 'export class Bloom', free)), 'the installed file is patched')
    // The definition (yellow paper, M3:2048): bits from the first three 16-bit words of the hash.
    const definition = (items: Uint8Array[]) => {
      const bits = new Uint8Array(256)
      for (const item of items) {
        const hash = keccak_256(item)
        for (let i = 0; i < 6; i += 2) {
          const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047
          bits[255 - (bit >> 3)]! |= 1 << (bit & 7)
        }
      }
      return bits
    }
    // The hashes both read start their own buffers (what the published DataView read assumed).
    assert.equal(keccak256(new Uint8Array(20)).byteOffset, 0)
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    let seed = 11
    const item = (length: number) => Uint8Array.from({ length }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff)
    for (let round = 0; round < 40; round++) {
      const items = Array.from({ length: 1 + (round % 9) }, (_, i) => item(i % 2 === 0 ? 20 : 32))
      for (const crypto of [undefined, common]) {
        const patched = new Patched(undefined, crypto)
        const published = new Published(undefined, crypto)
        for (const e of items) {
          patched.add(e)
          published.add(e)
        }
        assert.deepEqual(patched.bitvector, published.bitvector)
        assert.deepEqual(patched.bitvector, definition(items))
        for (const e of [...items, item(20), item(32), item(20)]) assert.equal(patched.check(e), published.check(e))
        for (const e of items) assert.equal(patched.check(e), true)
      }
    }
    // Negative control: the words read little-endian set other bits.
    const p = patch('vm-bloom-add-bytes')
    const words = (read: string) => {
      const bitvector = new Uint8Array(256)
      const e = keccak_256(new Uint8Array([1, 2, 3]))
      new Function(...p.reads, `${read}\n}`)(e, 2047, 256, bitvector)
      return bitvector
    }
    const body = (text: string) => `${text.split('\n').slice(1).join('\n')}\n            const loc = mask & first2bytes;\n            bitvector[BYTE_SIZE - (loc >> 3) - 1] |= 1 << (loc % 8);`
    assert.deepEqual(words(body(p.replace)), words(body(p.find)))
    assert.deepEqual(words(body(p.replace)), definition([new Uint8Array([1, 2, 3])]))
    assert.notDeepEqual(words(body(p.replace).replace('(e[i * 2] << 8) | e[i * 2 + 1]', '(e[i * 2 + 1] << 8) | e[i * 2]')), definition([new Uint8Array([1, 2, 3])]))
  })

  it("the calldata floor's tokens: the same count as published, for every mix of zero and other bytes", () => {
    type Count = (tx: unknown) => bigint
    const file = 'dist/esm/util/intrinsic.js'
    const patched = installedFunction<Count>('@ethereumjs/tx', file, 'export function countCalldataFloorTokens', { Capability })
    const published = installedFunction<Count>('@ethereumjs/tx', file, 'export function countCalldataFloorTokens', { Capability }, { unpatched: true })
    assert.notEqual(String(patched), String(published), 'the installed file is patched')
    const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
    assert.ok(common.isActivatedEIP(7623) && !common.isActivatedEIP(7976), 'the hardfork counts zero and other bytes apart')
    let seed = 3
    const byte = (zeroShare: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 100 < zeroShare ? 0 : 1 + (seed % 255))
    const datas = [new Uint8Array(0), new Uint8Array(68), new Uint8Array(68).fill(7), new Uint8Array(100_000).fill(1)]
    for (const zeroShare of [0, 10, 50, 90, 100]) for (const length of [1, 4, 36, 68, 1000]) datas.push(Uint8Array.from({ length }, () => byte(zeroShare)))
    for (const data of datas) {
      const tx = createFeeMarket1559Tx({ to: TO, data, gasLimit: 10_000_000n, maxFeePerGas: 10n, chainId: 901n }, { common })
      const expected = published(tx)
      assert.equal(patched(tx), expected)
      assert.equal(expected, BigInt(data.reduce((sum, b) => sum + (b === 0 ? 1 : 4), 0)))
    }
    // Negative control: zero and other bytes weighed the other way round give another count.
    const p = patch('tx-floor-tokens-count')
    const wrong = new Function('Capability', `${String(patched).replace('? 1 : 4', '? 4 : 1')}\nreturn countCalldataFloorTokens`)(Capability) as Count
    assert.ok(p.replace.includes('? 1 : 4'))
    assert.notEqual(wrong(createFeeMarket1559Tx({ to: TO, data: new Uint8Array([0, 0, 1]), gasLimit: 100_000n, maxFeePerGas: 10n, chainId: 901n }, { common })), 6n)
  })

  it("the transaction field checks: the same errors as published, for the same fields, in the same order", () => {
    const free = { EthereumJSErrorWithoutCode, MAX_INTEGER, MAX_UINT64 }
    const file = 'dist/esm/util/internal.js'
    type Check = (values: Record<string, unknown>, bits?: number, cannotEqual?: boolean) => void
    const notArray = installedFunction<Check>('@ethereumjs/tx', file, 'export function validateNotArray', free)
    const notArrayPublished = installedFunction<Check>('@ethereumjs/tx', file, 'export function validateNotArray', free, { unpatched: true })
    const overflow = installedFunction<Check>('@ethereumjs/tx', file, 'export function valueOverflowCheck', free)
    const overflowPublished = installedFunction<Check>('@ethereumjs/tx', file, 'export function valueOverflowCheck', free, { unpatched: true })
    assert.notEqual(String(overflow), String(overflowPublished), 'the installed file is patched')
    const cases: [Record<string, unknown>, number?, boolean?][] = [
      [{ nonce: 1n, value: 2n }],
      [{ value: MAX_INTEGER }],
      [{ value: MAX_INTEGER + 1n, r: MAX_INTEGER + 2n }],
      [{ r: 1n, s: MAX_INTEGER + 1n }, 256, true],
      [{ a: MAX_INTEGER }, 256, true],
      [{ gasLimit: MAX_UINT64 }, 64],
      [{ gasLimit: MAX_UINT64 + 1n }, 64],
      [{ nonce: MAX_UINT64 - 1n }, 64, true],
      [{ nonce: MAX_UINT64, other: MAX_UINT64 + 5n }, 64, true],
      [{ skipped: undefined, nonce: undefined }, 64, true],
      [{ x: 1n }, 128],
    ]
    for (const [values, bits, cannotEqual] of cases) {
      assert.deepEqual(outcome(() => overflow(values, bits, cannotEqual)), outcome(() => overflowPublished(values, bits, cannotEqual)), JSON.stringify(values, (_, v) => (typeof v === 'bigint' ? String(v) : v)))
    }
    for (const values of [{ chainId: 1n, v: 0n }, { chainId: [1], v: 0n }, { nonce: 1n, v: [0], r: [1] }, { accessList: [[1]], data: [] }, {}]) {
      assert.deepEqual(outcome(() => notArray(values)), outcome(() => notArrayPublished(values)))
    }
    assert.match(String((outcome(() => overflow({ value: 1n, r: MAX_INTEGER + 1n })) as { threw: string }).threw), /^r cannot exceed MAX_INTEGER/)
    assert.match(String((outcome(() => notArray({ nonce: 1n, v: [0], r: [1] })) as { threw: string }).threw), /^v cannot be an array/)
    // Negative control: a check that read the keys in reverse would name another field first.
    const reversed = new Function(...Object.keys(free), `${String(overflow).replace('Object.keys(values)', 'Object.keys(values).reverse()')}\nreturn valueOverflowCheck`)(...Object.values(free)) as Check
    assert.notDeepEqual(outcome(() => reversed({ value: MAX_INTEGER + 1n, r: MAX_INTEGER + 2n })), outcome(() => overflowPublished({ value: MAX_INTEGER + 1n, r: MAX_INTEGER + 2n })))
  })
})
