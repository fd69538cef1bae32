/**
 * Hex, lowercase, for what the node sends and for the keys it keeps (`bytesToHex` 0x-prefixed,
 * as `@ethereumjs/util`'s), through Buffer's native encoder — the one hex encoder of mosaic's own
 * code. The JavaScript one `@ethereumjs/util` re-exports from noble builds the string a character
 * pair at a time: ~70 ms a megabyte against Buffer's ~2.5 ms (serving a full block's witness to
 * the devnet's verifier held the main thread — and preconfirmations — for ~100 ms at a time), and
 * for a 32-byte hash ~1 KB of garbage against ~180 B. Worse, a key made that way is a rope of
 * one cell per character pair, and a Map keeps the whole rope alive as long as the entry: ~900 B
 * per entry of 100,000 keyed by 32-byte hashes, against ~120 B for Buffer's flat strings (after a
 * full collection). A pooled transaction's hash and sender keys held that until the block was
 * sealed. With every key
 * through Buffer, bench:e2e `transfers-single` promoted 100–102 MB instead of 119–122 over a run
 * of the sequencer, allocated 6% less and ran 8% fewer young-generation collections
 * (`--trace-gc-nvp`, before and after alternating twice).
 */
import { hexToBytes as smallHexToBytes, type PrefixedHexString } from '@ethereumjs/util'

/**
 * The largest typed array V8 keeps on its own heap (`V8_TYPED_ARRAY_MAX_SIZE_IN_HEAP`): hashes,
 * addresses, slots and keys all fit. Reading such an array's `.buffer` moves its bytes off the
 * heap for good — a `malloc`'d backing store and an ArrayBuffer extension that the collector then
 * tracks, sweeps and frees — so the encoders below never read the `.buffer` of one. On fresh
 * 32-byte arrays, a fifth of them kept alive a while, hex through `Buffer.from(bytes.buffer, …)`
 * took ~2.8 µs of CPU each against ~0.4 µs through a copy (`.dev`-style microbenchmark, 3 million
 * arrays).
 */
export const ON_HEAP_MAX = 64

/**
 * Buffer's native hex encoder (what `buffer.toString('hex')` calls), called on the array itself:
 * it reads any `Uint8Array`, and copies one of at most 64 bytes onto the C++ stack without
 * reading its `.buffer` (Node's `ArrayBufferViewContents`; `%DebugPrint` shows the array still on
 * V8's heap afterwards). That skips the Buffer that `Buffer.from(bytes)` would allocate, fill and
 * wrap: ~100 ns for a 20- or 32-byte key against ~250–350 (3 rounds of 2 million), and in
 * `bench:exec`'s sequential `erc20`, where the EVM's journal and the state manager hex every
 * address and slot they touch, the copies were ~6% of the thread.
 */
const hexSlice = (Buffer.prototype as unknown as { hexSlice: (this: Uint8Array, start: number, end: number) => string }).hexSlice

export function bytesToHex(bytes: Uint8Array): PrefixedHexString {
  return `0x${hexSlice.call(bytes, 0, bytes.length)}`
}

export function bytesToUnprefixedHex(bytes: Uint8Array): string {
  return hexSlice.call(bytes, 0, bytes.length)
}

/**
 * Bytes from hex that the caller has checked already (`0x`, then an even number of hex digits),
 * through Buffer's native decoder for arrays kept off V8's heap anyway (see `ON_HEAP_MAX`):
 * `@ethereumjs/util`'s `hexToBytes` checks the string again with a regular expression and
 * decodes it a character pair at a time, ~5 µs per raw transaction on the sequencing thread. The
 * answer owns its buffer (not a slice of Buffer's shared pool).
 */
export function checkedHexToBytes(hex: string): Uint8Array {
  const length = (hex.length - 2) >>> 1
  if (length <= ON_HEAP_MAX) return smallHexToBytes(hex as PrefixedHexString)
  const bytes = new Uint8Array(length)
  Buffer.from(bytes.buffer, bytes.byteOffset, length).write(hex.slice(2), 'hex')
  return bytes
}

const HEX_DATA = /^0x([0-9a-fA-F]{2})*$/

/**
 * Bytes from hex read from outside (an RPC answer: a witness, a block, a state delta), or
 * undefined where it is not `0x` and whole bytes of hex digits. Above `ON_HEAP_MAX` bytes, Buffer's
 * native decoder is the check: it stops at the first pair that is not two hex digits, so what it
 * wrote falls short. The regular expression and the pair-at-a-time decoding of `@ethereumjs/util`
 * were ~3% of the devnet's verifier while it verified `bench:e2e`'s `erc20` blocks.
 */
export function hexToBytesIfValid(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !hex.startsWith('0x')) return undefined
  const length = (hex.length - 2) >>> 1
  if (length <= ON_HEAP_MAX) return HEX_DATA.test(hex) ? smallHexToBytes(hex as PrefixedHexString) : undefined
  const bytes = new Uint8Array(length)
  return Buffer.from(bytes.buffer, bytes.byteOffset, length).write(hex.slice(2), 'hex') === length ? bytes : undefined
}
