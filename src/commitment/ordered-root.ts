/**
 * Root of an "ordered" trie (key = RLP(index)), as the transactions and receipts roots of a
 * header are defined (yellow paper §4.3). Every block the sequencer seals computes two, and so
 * does every verifier and replica that checks one.
 *
 * The keys are known in advance, so the trie is never built: the indices are taken in their keys'
 * order (RLP(1)…RLP(127), then RLP(0) = 0x80, then RLP(128)… — longer encodings start with a
 * larger byte), and each node is encoded, bottom up, into one scratch buffer and hashed there, the
 * way geth's stack trie and reth's hash builder compute a root from sorted keys. Per node that
 * leaves one 32-byte hash (or the short encoding a parent embeds) behind. Putting each key into an
 * in-memory trie first (`MerkleTrie`) made node objects, nibble arrays and a copy of every value
 * in its leaf's encoding: ~2 KiB of garbage per transaction of a block, for its two roots.
 * RLP-encoded indices are prefix-free, so no branch carries a value. `ordered-root.test.ts` holds
 * it to `@ethereumjs/mpt`.
 */
import { KECCAK256_RLP } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'

/** Where nodes are encoded: off V8's heap (an ArrayBuffer of its own), grown when a value needs it. */
let scratch = new Uint8Array(new ArrayBuffer(4096))

export function orderedTrieRoot(values: readonly Uint8Array[]): Uint8Array {
  const count = values.length
  if (count === 0) return KECCAK256_RLP.slice()
  let longest = 0
  for (const value of values) if (value.length > longest) longest = value.length
  // A leaf: list prefix (≤ 9), hex-prefixed path (≤ 1 + 5 + 1 bytes here), value prefix (≤ 9); a branch: ≤ 17 × 33 + 9.
  if (scratch.length < longest + 64) scratch = new Uint8Array(new ArrayBuffer(Math.max(longest + 64, 2 * scratch.length)))
  const keys = orderedKeys(values)
  if (keys.index.length === 0) return KECCAK256_RLP.slice()
  const root = encodeRange(keys, values, 0, keys.index.length, 0)
  return root.length === 32 ? root : keccak256(root)
}

/** The indices in their keys' order, with each key's nibbles (`width` per key) and nibble count. */
type OrderedKeys = { readonly index: Uint32Array; readonly nibbles: Uint8Array; readonly length: Uint8Array; readonly width: number }

/**
 * The indices of `values` in their keys' order. An empty value is no entry, as a trie takes
 * writing one (a deletion): never so for a transaction or a receipt, but the root is the trie's.
 */
function orderedKeys(values: readonly Uint8Array[]): OrderedKeys {
  const count = values.length
  let entries = 0
  for (const value of values) if (value.length > 0) entries++
  // RLP(i): one byte below 128 (0x80 for 0), else 0x80 + its byte count, then its big-endian bytes.
  let bytes = 1
  for (let rest = count - 1; rest > 0; rest = Math.floor(rest / 256)) bytes++
  const width = 2 * Math.max(bytes, 1)
  const index = new Uint32Array(entries)
  const nibbles = new Uint8Array(entries * width)
  const length = new Uint8Array(entries)
  let at = 0
  const put = (i: number): void => {
    if (values[i]!.length === 0) return
    const base = at * width
    index[at] = i
    if (i > 0 && i < 128) {
      nibbles[base] = i >> 4
      nibbles[base + 1] = i & 15
      length[at] = 2
    } else {
      let size = 0
      for (let rest = i; rest > 0; rest = Math.floor(rest / 256)) size++
      nibbles[base] = 8
      nibbles[base + 1] = size
      for (let b = 0; b < size; b++) {
        const byte = Math.floor(i / 256 ** (size - 1 - b)) % 256
        nibbles[base + 2 + 2 * b] = byte >> 4
        nibbles[base + 3 + 2 * b] = byte & 15
      }
      length[at] = 2 + 2 * size
    }
    at++
  }
  for (let i = 1; i < Math.min(count, 128); i++) put(i)
  if (count > 0) put(0)
  for (let i = 128; i < count; i++) put(i)
  return { index, nibbles, length, width }
}

/**
 * The reference to the node over keys `from`…`to` (in key order) below nibble `depth`: its hash
 * (32 bytes), or its encoding when shorter than 32 bytes (a parent embeds it).
 */
function encodeRange(keys: OrderedKeys, values: readonly Uint8Array[], from: number, to: number, depth: number): Uint8Array {
  const { nibbles, width, length } = keys
  if (to - from === 1) return leaf(keys, values[keys.index[from]!]!, from, depth)
  // Sorted, so what the first and last keys share below `depth`, every key in between shares.
  const first = from * width
  const last = (to - 1) * width
  let shared = 0
  while (depth + shared < length[from]! && nibbles[first + depth + shared] === nibbles[last + depth + shared]) shared++
  if (shared > 0) {
    const child = branch(keys, values, from, to, depth + shared)
    return extension(nibbles.subarray(first + depth, first + depth + shared), child)
  }
  return branch(keys, values, from, to, depth)
}

function branch(keys: OrderedKeys, values: readonly Uint8Array[], from: number, to: number, depth: number): Uint8Array {
  const { nibbles, width } = keys
  const children: (Uint8Array | undefined)[] = new Array(16)
  let payload = 1 // the empty value slot
  for (let start = from; start < to; ) {
    const nibble = nibbles[start * width + depth]!
    let end = start + 1
    while (end < to && nibbles[end * width + depth] === nibble) end++
    children[nibble] = encodeRange(keys, values, start, end, depth + 1)
    start = end
  }
  for (let i = 0; i < 16; i++) payload += refSize(children[i])
  let at = writeListPrefix(payload)
  for (let i = 0; i < 16; i++) at = writeRef(at, children[i])
  scratch[at++] = 0x80
  return finish(at)
}

function extension(path: Uint8Array, child: Uint8Array): Uint8Array {
  const pathBytes = (path.length >> 1) + 1
  let at = writeListPrefix(stringSize(pathBytes, 0) + refSize(child))
  at = writeHexPrefix(at, path, 0, path.length, false)
  return finish(writeRef(at, child))
}

function leaf(keys: OrderedKeys, value: Uint8Array, position: number, depth: number): Uint8Array {
  const start = position * keys.width + depth
  const pathLength = keys.length[position]! - depth
  const pathBytes = (pathLength >> 1) + 1
  const first = pathLength & 1 ? 0x30 | keys.nibbles[start]! : 0x20
  let at = writeListPrefix(stringSize(pathBytes, first) + stringSize(value.length, value[0] ?? 0))
  at = writeHexPrefix(at, keys.nibbles, start, pathLength, true)
  at = writeStringPrefix(at, value.length, value[0] ?? 0)
  scratch.set(value, at)
  return finish(at + value.length)
}

/** The node encoded in `scratch[0, end)`: its hash, or a copy of it when shorter than 32 bytes. */
function finish(end: number): Uint8Array {
  return end < 32 ? scratch.slice(0, end) : keccak256(scratch.subarray(0, end))
}

function refSize(ref: Uint8Array | undefined): number {
  if (ref === undefined) return 1
  return ref.length === 32 ? 33 : ref.length
}

function writeRef(at: number, ref: Uint8Array | undefined): number {
  if (ref === undefined) {
    scratch[at] = 0x80
    return at + 1
  }
  if (ref.length === 32) scratch[at++] = 0xa0
  scratch.set(ref, at)
  return at + ref.length
}

/** The size of a byte string of `length` bytes, RLP-encoded (`first`: its first byte). */
function stringSize(length: number, first: number): number {
  if (length === 1 && first < 0x80) return 1
  return length <= 55 ? 1 + length : 1 + lengthOfLength(length) + length
}

function writeStringPrefix(at: number, length: number, first: number): number {
  if (length === 1 && first < 0x80) return at
  return writeLength(at, 0x80, length)
}

/** Writes a list prefix for `payload` bytes at the start of `scratch`; where the payload starts. */
function writeListPrefix(payload: number): number {
  return writeLength(0, 0xc0, payload)
}

function writeLength(at: number, base: number, length: number): number {
  if (length <= 55) {
    scratch[at] = base + length
    return at + 1
  }
  const size = lengthOfLength(length)
  scratch[at] = base + 55 + size
  for (let b = size; b >= 1; b--, length = Math.floor(length / 256)) scratch[at + b] = length % 256
  return at + 1 + size
}

function lengthOfLength(length: number): number {
  let size = 0
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) size++
  return size
}

/** The hex-prefixed path (yellow paper, appendix C) as an RLP string; nibbles `start`… of `nibbles`. */
function writeHexPrefix(at: number, nibbles: Uint8Array, start: number, count: number, isLeaf: boolean): number {
  const odd = count & 1
  const flag = (isLeaf ? 2 : 0) + odd
  const first = odd === 1 ? (flag << 4) | nibbles[start]! : flag << 4
  at = writeStringPrefix(at, (count >> 1) + 1, first)
  scratch[at++] = first
  for (let i = odd; i < count; i += 2) scratch[at++] = (nibbles[start + i]! << 4) | nibbles[start + i + 1]!
  return at
}
