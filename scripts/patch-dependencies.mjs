#!/usr/bin/env node
// Performance patches to installed dependencies, applied by `prepare` (which `npm ci` and
// `npm install` run) before the build. Each one rewrites an exact piece of a file into code with
// the same result, and says why; nothing here changes what a dependency computes.
//
// A patch whose text is not in the file any more (the dependency was upgraded) is reported and
// skipped: the code still runs as published, only slower. `test/dependency-patches.test.ts`
// fails until this table is brought up to date, so the loss does not go unnoticed.
//
// Usage: node scripts/patch-dependencies.mjs [--check]   (--check: report only, exit 1 if one is not applied)
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * On Node 20 (V8 11.3), every property added to an object made by a leading spread (`{ ...a, b }`,
 * `{ ...{ a }, ...b }`) creates a new hidden class: V8 does not share the transitions from the
 * map a spread gives its copy. Adding ~25 properties that way costs ~50 µs and ~30 KB of maps,
 * and ethereumjs' EVM does it twice for every message (every call, the transaction's own
 * included): ~130 µs on an ERC-20 transfer that takes mosaic ~330 µs in all. An object literal
 * that starts with a plain property, or `Object.assign` onto `{}`, takes the shared transitions
 * (~0.3 µs and ~6 µs for the same copies). The two EVM rewrites below keep the keys, their order
 * and their values: the sources are plain objects without `__proto__` keys or accessors, and the
 * target is fresh.
 *
 * Each `find` and `replace` is one expression over the names in `reads` (statements, where
 * `statements` says so), so that `test/dependency-patches.test.ts` evaluates both on the same
 * inputs — ethereumjs' own objects where it has them — and compares what they give.
 */
/** The fields of `runInterpreter`'s result after `runState`, the same before and after its patch. */
const RESULT_FIELDS = `            exceptionError: interpreterRes.exceptionError,
            gas: interpreterRes.runState?.gasLeft,
            executionGasUsed: gasUsed,
            gasRefund: interpreterRes.runState.gasRefund,
            stateGasSpilled: interpreterRes.runState.stateGasSpilled,
            returnValue: result.returnValue ?? new Uint8Array(0),
`

export const PATCHES = [
  {
    id: 'evm-call-message-copy',
    package: '@ethereumjs/evm',
    files: ['dist/esm/evm.js', 'dist/cjs/evm.js'],
    // `_executeCall`: the message it hands the interpreter. (`codeAddress` is a getter of
    // `Message`'s prototype, which a spread does not copy: hence the property before it.)
    reads: ['message', 'gasLimit'],
    find: `{
                ...{ codeAddress: message.codeAddress },
                ...message,
                gasLimit,
            }`,
    replace: `{
                codeAddress: message.codeAddress,
                ...message,
                gasLimit,
            }`,
  },
  {
    id: 'evm-interpreter-result-copy',
    package: '@ethereumjs/evm',
    files: ['dist/esm/evm.js', 'dist/cjs/evm.js'],
    // `runInterpreter`: its result, and the merged `runState` in it.
    reads: ['result', 'interpreterRes', 'interpreter', 'gasUsed'],
    find: `{
            ...result,
            runState: {
                ...interpreterRes.runState,
                ...result,
                ...interpreter._env,
            },
${RESULT_FIELDS}        }`,
    replace: `Object.assign({}, result, {
            runState: Object.assign({}, interpreterRes.runState, result, interpreter._env),
${RESULT_FIELDS}        })`,
  },
  {
    id: 'evm-journal-always-warm-no-slots',
    package: '@ethereumjs/evm',
    files: ['dist/esm/journal.js', 'dist/cjs/journal.js'],
    // The journal's always-warm addresses, re-made for every transaction: the ~18 precompiles,
    // the sender, its target and the coinbase (`runTx`), each with a new, empty `Set` of
    // always-warm slots that only an access list ever fills (~6 KB per ERC-20 transfer, 3% of
    // what executing it allocates). Such an address now maps to `undefined` until its first
    // slot: `has` still finds it, and the readers of its slots (`addAlwaysWarmSlot`, and
    // `isWarmedStorage` at two places: the three patches below) take `undefined` as the empty
    // set it replaced. `test/dependency-patches.test.ts` runs the published and the patched
    // journal through the same calls.
    reads: ['address'],
    statements: true,
    find: `            this.alwaysWarmJournal.set(address, new Set());`,
    replace: `            this.alwaysWarmJournal.set(address, undefined); // its slots' set made at the first one (scripts/patch-dependencies.mjs)`,
  },
  {
    id: 'evm-journal-always-warm-first-slot',
    package: '@ethereumjs/evm',
    files: ['dist/esm/journal.js', 'dist/cjs/journal.js'],
    // `addAlwaysWarmSlot`: the set of an address's always-warm slots, made at its first slot.
    reads: ['address'],
    statements: true,
    find: `        const slotsSet = this.alwaysWarmJournal.get(address);`,
    replace: `        let slotsSet = this.alwaysWarmJournal.get(address);
        if (slotsSet === undefined) this.alwaysWarmJournal.set(address, (slotsSet = new Set())); // (scripts/patch-dependencies.mjs)`,
  },
  {
    id: 'evm-journal-always-warm-slot-read',
    package: '@ethereumjs/evm',
    files: ['dist/esm/journal.js', 'dist/cjs/journal.js'],
    // `isWarmedStorage`, for an address not warmed in this transaction's frames: an always-warm
    // address without slots has none of them warm.
    reads: ['addressHex'],
    statements: true,
    find: `            if (this.alwaysWarmJournal.has(addressHex)) {
                return this.alwaysWarmJournal.get(addressHex).has(`,
    replace: `            if (this.alwaysWarmJournal.get(addressHex) !== undefined) { // an address without slots has none (scripts/patch-dependencies.mjs)
                return this.alwaysWarmJournal.get(addressHex).has(`,
  },
  {
    id: 'evm-journal-always-warm-slot-read-2',
    package: '@ethereumjs/evm',
    files: ['dist/esm/journal.js', 'dist/cjs/journal.js'],
    // `isWarmedStorage`, for an address warmed in this transaction's frames: the same.
    reads: ['addressHex'],
    statements: true,
    find: `        else if (this.alwaysWarmJournal.has(addressHex)) {
            return this.alwaysWarmJournal.get(addressHex).has(`,
    replace: `        else if (this.alwaysWarmJournal.get(addressHex) !== undefined) { // an address without slots has none (scripts/patch-dependencies.mjs)
            return this.alwaysWarmJournal.get(addressHex).has(`,
  },
  {
    id: 'util-set-length-pad',
    package: '@ethereumjs/util',
    files: ['dist/esm/bytes.js', 'dist/cjs/bytes.js'],
    // `setLength`, under `setLengthLeft` and `setLengthRight`: the EVM pads every storage key and
    // value it loads or stores to 32 bytes with it. Spreading two typed arrays into an array
    // goes through their iterators, an allocation per element step; this copies the bytes into a
    // zeroed array of the length instead, the same bytes in a new plain Uint8Array (`bench:exec`'s
    // sequential executor: `erc20` 5,353 and 5,550 tx/s unpatched against 5,910 and 6,170, `amm`
    // 3,415 and 3,833 against 4,690 and 4,347, alternating).
    reads: ['msg', 'length', 'right'],
    statements: true,
    find: `return right
            ? new Uint8Array([...msg, ...new Uint8Array(length - msg.length)])
            : new Uint8Array([...new Uint8Array(length - msg.length), ...msg]);`,
    replace: `const padded = new Uint8Array(length);
        padded.set(msg, right ? 0 : length - msg.length);
        return padded;`,
  },
  {
    id: 'util-bytes-to-bigint',
    package: '@ethereumjs/util',
    files: ['dist/esm/bytes.js', 'dist/cjs/bytes.js'],
    // `bytesToBigInt`, which every transaction constructor runs on each integer field (r and s are
    // 32 bytes), and the EVM and the state code on words and balances: it spelled the bytes out
    // as a hex string a character at a time, then parsed it — ~1.9 KiB of strings per transaction
    // admitted under bench:e2e, and 170–385 ns a call. Up to 6 bytes the value is a JavaScript
    // number (exact below 2^53; the cache ethereumjs keeps below 2^16); longer, it is put
    // together 48 bits at a time, most significant first: the same bigint, 9–40 ns up to 6 bytes
    // and ~270 ns for 32 (`test/dependency-patches.test.ts` compares it with the hex reading).
    reads: ['bytes', 'littleEndian', 'BIGINT_CACHE'],
    statements: true,
    find: `    if (littleEndian) {
        bytes = bytes.slice().reverse();
    }
`,
    replace: `    if (littleEndian)
        bytes = bytes.slice().reverse();
    const length = bytes.length;
    let head = length % 6 === 0 ? Math.min(length, 6) : length % 6;
    let word = 0;
    for (let i = 0; i < head; i++) word = word * 256 + bytes[i];
    if (head === length) return word < 65536 ? BIGINT_CACHE[word] : BigInt(word);
    let value = BigInt(word);
    for (let at = head; at < length; at += 6) {
        value = (value << 48n) + BigInt(bytes[at] * 1099511627776 + bytes[at + 1] * 4294967296 + bytes[at + 2] * 16777216 + bytes[at + 3] * 65536 + bytes[at + 4] * 256 + bytes[at + 5]);
    }
    return value;
`,
  },
  {
    id: 'util-bigint-to-bytes',
    package: '@ethereumjs/util',
    files: ['dist/esm/bytes.js', 'dist/cjs/bytes.js'],
    // `bigIntToBytes` (and `bigIntToUnpaddedBytes` over it), run on every nonce, balance and
    // cumulative gas the node stores, and by the EVM on every 256-bit word it turns into bytes
    // (storage keys and values, hashed words, `BALANCE` addresses): the value spelled out in hex
    // with a `0x` in front, checked with a regular expression, stripped, padded and parsed a
    // character pair at a time — ~1.4 KiB of strings per transaction sealed under bench:e2e, and
    // ~0.8 µs a 256-bit word. Below 2^53 the bytes are taken from the number itself; above, from
    // the one hex string `toString(16)` gives (only digits and lowercase letters), two digits a
    // byte from the end: ~0.35 µs. The same minimal big-endian bytes (one zero byte for 0) in a
    // plain Uint8Array; negative values go the published way, which refuses them.
    reads: ['num', 'littleEndian'],
    statements: true,
    find: `const bigIntToBytes = (num, littleEndian = false) => {
`,
    replace: `const bigIntToBytes = (num, littleEndian = false) => { // without a hex round trip (scripts/patch-dependencies.mjs)
    if (num >= 0n && num <= 9007199254740991n) {
        let value = Number(num);
        let size = 1;
        for (let rest = Math.floor(value / 256); rest > 0; rest = Math.floor(rest / 256))
            size++;
        const small = new Uint8Array(size);
        for (let i = size - 1; i >= 0; i--, value = Math.floor(value / 256))
            small[i] = value % 256;
        return littleEndian ? small.reverse() : small;
    }
    if (num > 9007199254740991n) {
        const digits = num.toString(16);
        const large = new Uint8Array((digits.length + 1) >> 1);
        for (let i = large.length - 1, at = digits.length; i >= 0; i--, at -= 2) {
            const low = digits.charCodeAt(at - 1);
            const high = at >= 2 ? digits.charCodeAt(at - 2) : 48;
            large[i] = ((high > 57 ? high - 87 : high - 48) << 4) | (low > 57 ? low - 87 : low - 48);
        }
        return littleEndian ? large.reverse() : large;
    }
`,
  },
  {
    id: 'util-bytes-to-unprefixed-hex',
    package: '@ethereumjs/util',
    files: ['dist/esm/bytes.js'],
    // `bytesToUnprefixedHex`, and `bytesToHex` over it: the keys of the EVM's warm-address and
    // warm-slot journal (several per storage access), of the state manager's caches, and every
    // `Address.toString()`. Published, it is @noble/hashes' encoder, which appends two characters
    // at a time: a 32-byte key is a string of 32 parts, which a Map keeps whole once it is a key
    // (~900 B per entry against ~120 B flat: bench/NOTES.md, "End to end", "Then every hex key"). Buffer's
    // native encoder gives the same lowercase digits as one flat string. It is called on the
    // array itself (`hexSlice`, what `buffer.toString('hex')` calls), which copies a small array
    // (64 bytes or less, which V8 keeps on its heap) onto the C++ stack rather than reading its
    // `.buffer`, which would move it off the heap for good (`ON_HEAP_MAX` and `hexSlice` in
    // src/utils/hex.ts). Anything but a Uint8Array goes to @noble/hashes as before, which
    // accepts or refuses it as published.
    reads: ['bytesToUnprefixedHexNoble'],
    find: `export const bytesToUnprefixedHex = bytesToUnprefixedHexNoble;`,
    replace: `export const bytesToUnprefixedHex = (bytes) => { // Buffer's encoder (scripts/patch-dependencies.mjs)
    if (!(bytes instanceof Uint8Array))
        return bytesToUnprefixedHexNoble(bytes);
    return Buffer.prototype.hexSlice.call(bytes, 0, bytes.length);
};`,
  },
  {
    id: 'util-bytes-to-unprefixed-hex-cjs',
    package: '@ethereumjs/util',
    files: ['dist/cjs/bytes.js'],
    // The same, in the CommonJS build.
    reads: ['utils_js_1', 'exports'],
    find: `exports.bytesToUnprefixedHex = utils_js_1.bytesToHex;`,
    replace: `exports.bytesToUnprefixedHex = (bytes) => { // Buffer's encoder (scripts/patch-dependencies.mjs)
    if (!(bytes instanceof Uint8Array))
        return (0, utils_js_1.bytesToHex)(bytes);
    return Buffer.prototype.hexSlice.call(bytes, 0, bytes.length);
};`,
  },
  {
    id: 'util-strip-hex-prefix',
    package: '@ethereumjs/util',
    files: ['dist/esm/internal.js', 'dist/cjs/internal.js'],
    // `stripHexPrefix`: it ran `isHexString`'s regular expression (`/^0x[0-9A-Fa-f]*$/`, through
    // `String.prototype.match`, an array per match) on every string, prefixed or not. The EVM's
    // journal strips each address it warms before every transaction (the origin, its target, the
    // coinbase and the ~18 precompiles, all of them unprefixed already), and `hexToBytes` strips
    // every hex string it decodes. A string that does not start with `0x` fails that expression
    // at its first two characters, so it is returned as it is without running it.
    reads: ['str', 'isHexString'],
    statements: true,
    find: `    return isHexString(str) ? str.slice(2) : str;`,
    replace: `    return str.charCodeAt(0) === 48 && str.charCodeAt(1) === 120 && isHexString(str) ? str.slice(2) : str; // "0x" before the expression (scripts/patch-dependencies.mjs)`,
  },
  {
    id: 'vm-bloom-add-bytes',
    package: '@ethereumjs/vm',
    files: ['dist/esm/bloom/index.js', 'dist/cjs/bloom/index.js'],
    // `Bloom.add`, once for each log's address and each of its topics (four times for an ERC-20
    // `Transfer`): it read each of the hash's first three 16-bit words through a `DataView` of the
    // hash's `.buffer`.
    // A 32-byte hash is an array V8 keeps on its heap, and reading its `.buffer` moves it to a
    // `malloc`'d store (`ON_HEAP_MAX` in src/utils/hex.ts); the DataView is one more object. The
    // same big-endian words are read from the bytes themselves. (The `DataView` read from the
    // start of the hash's buffer, not of the hash: the same bytes for a hash that starts its own
    // buffer, as keccak's output does; `test/dependency-patches.test.ts` checks ours.)
    reads: ['e', 'mask', 'BYTE_SIZE', 'bitvector'],
    statements: true,
    find: `        const mask = 2047; // binary 11111111111
        for (let i = 0; i < 3; i++) {
            const first2bytes = new DataView(e.buffer).getUint16(i * 2);`,
    replace: `        const mask = 2047; // binary 11111111111
        for (let i = 0; i < 3; i++) {
            const first2bytes = (e[i * 2] << 8) | e[i * 2 + 1]; // the bytes, not a DataView of their .buffer (scripts/patch-dependencies.mjs)`,
  },
  {
    id: 'vm-bloom-check-bytes',
    package: '@ethereumjs/vm',
    files: ['dist/esm/bloom/index.js', 'dist/cjs/bloom/index.js'],
    // `Bloom.check`, which `eth_getLogs` runs on each block's bloom per address and topic asked
    // for: the same rewrite.
    reads: ['e', 'mask', 'BYTE_SIZE', 'bitvector'],
    statements: true,
    find: `        for (let i = 0; i < 3 && match; i++) {
            const first2bytes = new DataView(e.buffer).getUint16(i * 2);`,
    replace: `        for (let i = 0; i < 3 && match; i++) {
            const first2bytes = (e[i * 2] << 8) | e[i * 2 + 1]; // the bytes, not a DataView of their .buffer (scripts/patch-dependencies.mjs)`,
  },
  {
    id: 'tx-floor-tokens-count',
    package: '@ethereumjs/tx',
    files: ['dist/esm/util/intrinsic.js', 'dist/cjs/util/intrinsic.js'],
    // `countCalldataFloorTokens` (EIP-7623's calldata floor), run twice per transaction executed:
    // it added a bigint per calldata byte, a new bigint each time (~3.8 KiB for an ERC-20
    // transfer's 68 bytes). The same count in a number, made a bigint once: exact up to 2^53
    // tokens, far past any calldata a block can hold.
    reads: ['tx', 'tokens'],
    statements: true,
    find: `        for (let i = 0; i < tx.data.length; i++) {
            tokens += tx.data[i] === 0 ? 1n : 4n;
        }`,
    replace: `        let count = 0; // a number, made a bigint once (scripts/patch-dependencies.mjs)
        for (let i = 0; i < tx.data.length; i++) {
            count += tx.data[i] === 0 ? 1 : 4;
        }
        tokens = BigInt(count);`,
  },
  {
    id: 'tx-validate-not-array-keys',
    package: '@ethereumjs/tx',
    files: ['dist/esm/util/internal.js', 'dist/cjs/util/internal.js'],
    // `validateNotArray`, run twice per transaction decoded: `Object.entries` made an array per
    // field. The keys, in the same order, and each value read as the loop reaches it: the input
    // is an object literal the constructor built, and the loop changes nothing.
    reads: ['values', 'txDataKeys'],
    statements: true,
    find: `    for (const [key, value] of Object.entries(values)) {
        if (txDataKeys.includes(key)) {`,
    replace: `    for (const key of Object.keys(values)) {
        const value = values[key];
        if (txDataKeys.includes(key)) {`,
  },
  {
    id: 'tx-value-overflow-keys',
    package: '@ethereumjs/tx',
    files: ['dist/esm/util/internal.js', 'dist/cjs/util/internal.js'],
    // `valueOverflowCheck`, run four times per transaction decoded: the same rewrite as above.
    reads: ['values', 'bits', 'cannotEqual', 'MAX_UINT64', 'MAX_INTEGER', 'EthereumJSErrorWithoutCode'],
    statements: true,
    find: `    for (const [key, value] of Object.entries(values)) {
        switch (bits) {`,
    replace: `    for (const key of Object.keys(values)) {
        const value = values[key];
        switch (bits) {`,
  },
]

/**
 * One patch on one file's text: `applied` (rewritten now), `present` (rewritten before), or
 * `missing` (neither text is there, or the original more than once).
 */
export function patchText(text, patch) {
  const found = text.split(patch.find).length - 1
  if (found === 1) return { state: 'applied', text: text.replace(patch.find, () => patch.replace) }
  if (found === 0 && text.split(patch.replace).length - 1 === 1) return { state: 'present', text }
  return { state: 'missing', text }
}

/** Applies every patch under `root`'s node_modules (or only checks, with `write: false`); one line per patch and file. */
export function patchDependencies({ root = ROOT, write = true } = {}) {
  const results = []
  for (const patch of PATCHES) {
    for (const file of patch.files) {
      const path = join(root, 'node_modules', patch.package, file)
      let text
      try {
        text = readFileSync(path, 'utf8')
      } catch {
        results.push({ id: patch.id, file: path, state: 'missing' })
        continue
      }
      const result = patchText(text, patch)
      if (result.state === 'applied' && write) writeFileSync(path, result.text)
      results.push({ id: patch.id, file: path, state: write || result.state !== 'applied' ? result.state : 'not applied' })
    }
  }
  return results
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check')
  const results = patchDependencies({ write: !check })
  let failed = false
  for (const { id, file, state } of results) {
    if (state === 'missing') {
      failed = true
      console.warn(`patch-dependencies: ${id} does not apply to ${file} (the dependency changed?): it runs unpatched; update scripts/patch-dependencies.mjs`)
    } else if (state === 'not applied') {
      failed = true
      console.warn(`patch-dependencies: ${id} is not applied to ${file}`)
    }
  }
  if (!check) console.log(`patch-dependencies: ${results.filter((r) => r.state === 'applied').length} applied, ${results.filter((r) => r.state === 'present').length} already there, ${results.filter((r) => r.state === 'missing').length} not applicable`)
  process.exit(check && failed ? 1 : 0)
}
