/**
 * A Merkle-Patricia trie exactly as Ethereum defines it (yellow paper, appendix D), built for
 * batched updates: a block's writes are applied to in-memory nodes, marking the paths they touch
 * dirty, and `commit()` then hashes every dirty node once — shared upper nodes are hashed once per
 * block, not once per key (how reth computes state roots). Nodes not in memory are loaded by hash
 * from a `NodeLoader` (LMDB) when a path reaches them.
 *
 * Keys are nibble arrays of any fixed length (64 nibbles for `keccak(key)`; fewer inside a shard
 * of the sharded commitment), so branch nodes never carry a value. Node encodings are written by
 * hand into one allocation each (RLP); `@ethereumjs/mpt` decodes and verifies the same bytes
 * (`trie.test.ts`).
 */
import { RLP } from '@ethereumjs/rlp'
import { equalsBytes, KECCAK256_RLP } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'

/** A node that is stored by hash and not loaded yet. */
export type HashRef = { readonly t: 3; readonly hash: Uint8Array }

type Cache = {
  /** RLP encoding; undefined while the node is dirty. */
  enc: Uint8Array | undefined
  /** keccak(enc) when the node is referenced by hash (encoding ≥ 32 bytes) or is a root. */
  hash: Uint8Array | undefined
}
export type LeafNode = Cache & { readonly t: 0; path: Uint8Array; value: Uint8Array }
export type ExtensionNode = Cache & { readonly t: 1; path: Uint8Array; child: Ref }
export type BranchNode = Cache & { readonly t: 2; readonly children: (Ref | undefined)[] }
export type TrieNode = LeafNode | ExtensionNode | BranchNode
export type Ref = TrieNode | HashRef

/**
 * Encoded trie nodes by hash (hash → RLP), as stored. `owner`: keccak(address) of the account
 * whose storage trie the node is in (undefined for the account trie): the store keeps each
 * storage trie's nodes apart, so that two accounts with equal storage never share a stored node
 * and pruning one cannot take the other's.
 */
export interface NodeLoader {
  loadNode(hash: Uint8Array, owner?: Uint8Array): Uint8Array | undefined
}

/** Collects the nodes a commit (or a read) wants stored or recorded, with the trie's owner. */
export type NodeSink = (hash: Uint8Array, encoding: Uint8Array, owner?: Uint8Array) => void

/** Hears each stored node that leaves the trie, with the trie's owner (see `MerkleTrie.stale`). */
export type StaleSink = (hash: Uint8Array, owner: Uint8Array | undefined) => void

export const EMPTY_ROOT = KECCAK256_RLP

export class MissingNodeError extends Error {
  constructor(readonly hash: Uint8Array) {
    super(`trie node ${Buffer.from(hash).toString('hex')} is not in the store`)
  }
}

// ---- nibbles ----

export function bytesToNibbles(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = bytes[i]! >> 4
    out[2 * i + 1] = bytes[i]! & 15
  }
  return out
}

function commonPrefix(path: Uint8Array, key: Uint8Array, offset: number): number {
  const max = Math.min(path.length, key.length - offset)
  let i = 0
  while (i < max && path[i] === key[offset + i]) i++
  return i
}

function concatNibbles(a: Uint8Array | number, b: Uint8Array): Uint8Array {
  const head = typeof a === 'number' ? Uint8Array.of(a) : a
  const out = new Uint8Array(head.length + b.length)
  out.set(head, 0)
  out.set(b, head.length)
  return out
}

/** Hex-prefix encoding (yellow paper, appendix C). */
export function hexPrefix(path: Uint8Array, leaf: boolean): Uint8Array {
  const odd = path.length & 1
  const out = new Uint8Array((path.length >> 1) + 1)
  const flag = (leaf ? 2 : 0) + odd
  let i = 0
  if (odd === 1) {
    out[0] = (flag << 4) | path[0]!
    i = 1
  } else out[0] = flag << 4
  for (let j = 1; i < path.length; i += 2, j++) out[j] = (path[i]! << 4) | path[i + 1]!
  return out
}

function hexPrefixDecode(bytes: Uint8Array): { path: Uint8Array; leaf: boolean } {
  const flag = bytes[0]! >> 4
  const nibbles = bytesToNibbles(bytes)
  return { path: nibbles.subarray(flag & 1 ? 1 : 2), leaf: flag >= 2 }
}

// ---- RLP, written straight into one buffer ----

function stringLength(bytes: Uint8Array): number {
  if (bytes.length === 1 && bytes[0]! < 0x80) return 1
  if (bytes.length <= 55) return 1 + bytes.length
  return 1 + lengthOfLength(bytes.length) + bytes.length
}

function lengthOfLength(n: number): number {
  let bytes = 0
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes++
  return bytes
}

function writeLength(out: Uint8Array, at: number, short: number, long: number, n: number): number {
  if (n <= 55) {
    out[at] = short + n
    return at + 1
  }
  const size = lengthOfLength(n)
  out[at] = long + size
  for (let i = size; i > 0; i--, n = Math.floor(n / 256)) out[at + i] = n & 0xff
  return at + 1 + size
}

function writeString(out: Uint8Array, at: number, bytes: Uint8Array): number {
  if (bytes.length === 1 && bytes[0]! < 0x80) {
    out[at] = bytes[0]!
    return at + 1
  }
  at = writeLength(out, at, 0x80, 0xb7, bytes.length)
  out.set(bytes, at)
  return at + bytes.length
}

function listPrefixLength(payload: number): number {
  return payload <= 55 ? 1 : 1 + lengthOfLength(payload)
}

/**
 * A child reference inside a parent's encoding: the child's own encoding when it is shorter than
 * 32 bytes (embedded as is), else its 32-byte hash (written as an RLP string). The length tells
 * which, so one byte array is the whole reference.
 */
type ChildRef = Uint8Array

function childRefLength(ref: ChildRef | undefined): number {
  if (ref === undefined) return 1
  return ref.length < 32 ? ref.length : 33
}

function writeChildRef(out: Uint8Array, at: number, ref: ChildRef | undefined): number {
  if (ref === undefined) {
    out[at] = 0x80
    return at + 1
  }
  if (ref.length < 32) {
    out.set(ref, at)
    return at + ref.length
  }
  out[at] = 0xa0
  out.set(ref, at + 1)
  return at + 33
}

export function encodeLeaf(path: Uint8Array, value: Uint8Array): Uint8Array {
  return encodeLeafWithKey(hexPrefix(path, true), value)
}

/** A leaf's encoding from its hex-prefixed key. */
function encodeLeafWithKey(key: Uint8Array, value: Uint8Array): Uint8Array {
  return encodeKeyed(key, value, false)
}

function encodeExtension(path: Uint8Array, child: ChildRef): Uint8Array {
  return encodeKeyed(hexPrefix(path, false), child, true)
}

/** RLP([key, second]) of a leaf (second: its value) or an extension (second: a child reference). */
function encodeKeyed(key: Uint8Array, second: Uint8Array, isChildRef: boolean): Uint8Array {
  const payload = stringLength(key) + (isChildRef ? childRefLength(second) : stringLength(second))
  const out = new Uint8Array(listPrefixLength(payload) + payload)
  const at = writeString(out, writeLength(out, 0, 0xc0, 0xf7, payload), key)
  if (isChildRef) writeChildRef(out, at, second)
  else writeString(out, at, second)
  return out
}

function encodeBranch(children: readonly (ChildRef | undefined)[]): Uint8Array {
  let payload = 1 // the empty value
  for (const child of children) payload += childRefLength(child)
  const out = new Uint8Array(listPrefixLength(payload) + payload)
  let at = writeLength(out, 0, 0xc0, 0xf7, payload)
  for (const child of children) at = writeChildRef(out, at, child)
  out[at] = 0x80
  return out
}

// ---- decoding stored nodes ----

type Decoded = Uint8Array | Decoded[]

function nodeFromDecoded(raw: Decoded, enc: Uint8Array | undefined, hash: Uint8Array | undefined): TrieNode {
  if (!Array.isArray(raw)) throw new Error('malformed trie node: not a list')
  const childOf = (item: Decoded): Ref | undefined => {
    if (Array.isArray(item)) return nodeFromDecoded(item, RLP.encode(item), undefined)
    if (item.length === 0) return undefined
    if (item.length !== 32) throw new Error(`malformed trie node: child reference of ${item.length} bytes`)
    return hashRef(item)
  }
  if (raw.length === 17) {
    if ((raw[16] as Uint8Array).length !== 0) throw new Error('malformed trie node: branch with a value in a fixed-length-key trie')
    return node(2, undefined, undefined, undefined, raw.slice(0, 16).map(childOf), enc, hash) as BranchNode
  }
  const [first, second] = raw
  if (raw.length !== 2 || first === undefined || second === undefined || Array.isArray(first) || first.length === 0) {
    throw new Error(`malformed trie node: list of ${raw.length} items`)
  }
  const { path, leaf } = hexPrefixDecode(first)
  if (leaf) {
    if (Array.isArray(second)) throw new Error('malformed trie node: leaf value is a list')
    // As for a committed leaf: the value is a view of the encoding's last bytes.
    const value = enc === undefined ? second : enc.subarray(enc.length - second.length)
    return node(0, path, value, undefined, undefined, enc, hash) as LeafNode
  }
  const child = childOf(second)
  if (child === undefined) throw new Error('malformed trie node: extension without a child')
  return node(1, path, undefined, child, undefined, enc, hash) as ExtensionNode
}

/** Decode one stored node (its RLP encoding). */
export function decodeNode(enc: Uint8Array, hash?: Uint8Array): TrieNode {
  return nodeFromDecoded(RLP.decode(enc) as Decoded, enc, hash)
}

// ---- the trie ----

/**
 * Every node — leaf, extension, branch, hash reference — is built here with the same fields in
 * the same order, so V8 gives them one hidden class and the hot `node.t` checks stay monomorphic.
 */
function node(
  t: 0 | 1 | 2 | 3,
  path: Uint8Array | undefined,
  value: Uint8Array | undefined,
  child: Ref | undefined,
  children: (Ref | undefined)[] | undefined,
  enc: Uint8Array | undefined,
  hash: Uint8Array | undefined,
): Ref {
  return { t, path, value, child, children, enc, hash } as unknown as Ref
}

function hashRef(hash: Uint8Array): HashRef {
  return node(3, undefined, undefined, undefined, undefined, undefined, hash) as HashRef
}

function leaf(path: Uint8Array, value: Uint8Array): LeafNode {
  return node(0, path, value, undefined, undefined, undefined, undefined) as LeafNode
}

function extension(path: Uint8Array, child: Ref): ExtensionNode {
  return node(1, path, undefined, child, undefined, undefined, undefined) as ExtensionNode
}

function branch(): BranchNode {
  return node(2, undefined, undefined, undefined, new Array<Ref | undefined>(16).fill(undefined), undefined, undefined) as BranchNode
}

/**
 * What one node costs on the V8 heap, estimated: the node object, each typed array it holds
 * (~100 bytes of object and buffer besides its contents), and a branch's 16-slot array.
 * `bench:accounts` checks the estimate against the heap.
 */
const NODE_OBJECT_BYTES = 88
const TYPED_ARRAY_BYTES = 100
/** A released node: a node object and the hash it keeps. */
const HASH_REF_BYTES = NODE_OBJECT_BYTES + TYPED_ARRAY_BYTES + 32

/** Estimated bytes by nibble depth: as held, and as hash references. */
export type DepthMemory = { readonly bytes: number[]; readonly refs: number[] }
function nodeBytes(node: TrieNode): number {
  let bytes = NODE_OBJECT_BYTES
  if (node.enc !== undefined) bytes += TYPED_ARRAY_BYTES + node.enc.length
  if (node.hash !== undefined) bytes += TYPED_ARRAY_BYTES + 32
  if (node.t === 2) return bytes + 16 * 8 + 16
  bytes += TYPED_ARRAY_BYTES + node.path.length
  // A committed leaf's value is a view into its encoding: no buffer of its own.
  if (node.t === 0) bytes += TYPED_ARRAY_BYTES + (node.enc === undefined ? node.value.length : 0)
  return bytes
}

function isDirty(ref: Ref): boolean {
  return ref.t !== 3 && ref.enc === undefined
}

function markDirty(node: TrieNode): void {
  node.enc = undefined
  node.hash = undefined
}

export type TrieOptions = {
  /** Where nodes referenced by hash are loaded from; without one, every node must be in memory. */
  readonly loader?: NodeLoader | undefined
  /** keccak(address) when this is that account's storage trie (see `NodeLoader`). */
  readonly owner?: Uint8Array | undefined
  /** Called with every node loaded from the loader (witnesses, prefetch statistics). */
  readonly onLoad?: NodeSink | undefined
}

export class MerkleTrie {
  private root: Ref | undefined
  /** Nodes loaded from the loader since creation (a measure of cold reads). */
  loads = 0
  /**
   * While set, receives the stored nodes a change needs besides the paths `recordPath` covers:
   * the sibling a deletion pulls up into its parent (a stateless verifier must see it to apply
   * the deletion). Only nodes still as committed are recorded.
   */
  witness: NodeSink | undefined
  /**
   * While set, hears every stored node (committed, referenced by hash, or the top node) that
   * leaves the trie — changed, replaced or removed —, once per node: what becomes garbage in the
   * store once no kept root needs it (pruning). A node made again with the same encoding is
   * handed to the commit's sink again, so a store that keeps the last block each node was
   * written at can tell it is still live.
   */
  stale: StaleSink | undefined

  constructor(
    root: Uint8Array = EMPTY_ROOT,
    private readonly options: TrieOptions = {},
  ) {
    this.root = equalsBytes(root, EMPTY_ROOT) ? undefined : hashRef(root)
  }

  /** A trie whose root node is given by its encoding (e.g. a sub-trie's top node under an inline reference). */
  static fromTopNode(enc: Uint8Array | undefined, options: TrieOptions = {}): MerkleTrie {
    const trie = new MerkleTrie(EMPTY_ROOT, options)
    if (enc !== undefined) trie.root = decodeNode(enc)
    return trie
  }

  get isEmpty(): boolean {
    return this.root === undefined
  }

  private resolve(ref: Ref): TrieNode {
    if (ref.t !== 3) return ref
    const enc = this.options.loader?.loadNode(ref.hash, this.options.owner)
    if (enc === undefined) throw new MissingNodeError(ref.hash)
    this.loads++
    this.options.onLoad?.(ref.hash, enc)
    return decodeNode(enc, ref.hash)
  }

  /** `node` leaves the trie as stored: tell `stale` (only a committed node that is stored). */
  private dropped(node: TrieNode): void {
    if (this.stale !== undefined && node.enc !== undefined && node.hash !== undefined) this.stale(node.hash, this.options.owner)
  }

  /** `node` changes: its stored form leaves the trie. */
  private dirty(node: TrieNode): void {
    this.dropped(node)
    markDirty(node)
  }

  /** The value under `key` (nibbles), or undefined. Loads and keeps the nodes on the path. */
  get(key: Uint8Array): Uint8Array | undefined {
    let ref = this.root
    let parent: BranchNode | ExtensionNode | undefined
    let slot = -1
    let offset = 0
    while (ref !== undefined) {
      const node = this.resolve(ref)
      // Keep what was loaded, so later reads and writes on this path do not load it again.
      if (ref.t === 3) {
        if (parent === undefined) this.root = node
        else if (parent.t === 2) parent.children[slot] = node
        else parent.child = node
      }
      if (node.t === 0) {
        return node.path.length === key.length - offset && commonPrefix(node.path, key, offset) === node.path.length ? node.value : undefined
      }
      if (node.t === 1) {
        if (commonPrefix(node.path, key, offset) !== node.path.length) return undefined
        offset += node.path.length
        parent = node
        ref = node.child
      } else {
        slot = key[offset]!
        offset++
        parent = node
        ref = node.children[slot]
      }
    }
    return undefined
  }

  /** Set `key` (nibbles) to `value` (non-empty); an empty value deletes the key. */
  put(key: Uint8Array, value: Uint8Array): void {
    if (value.length === 0) this.del(key)
    else this.root = this.insert(this.root, key, 0, () => value)
  }

  /**
   * Set `key` to `next(current value)` in one walk down the path (`current` undefined when the
   * key is absent); `next` must return a non-empty value.
   */
  update(key: Uint8Array, next: (current: Uint8Array | undefined) => Uint8Array): void {
    this.root = this.insert(this.root, key, 0, next)
  }

  del(key: Uint8Array): void {
    this.root = this.remove(this.root, key, 0)
  }

  private insert(ref: Ref | undefined, key: Uint8Array, offset: number, next: (current: Uint8Array | undefined) => Uint8Array): TrieNode {
    if (ref === undefined) return leaf(key.subarray(offset), next(undefined))
    const node = this.resolve(ref)
    if (node.t === 2) {
      const i = key[offset]!
      node.children[i] = this.insert(node.children[i], key, offset + 1, next)
      this.dirty(node)
      return node
    }
    const common = commonPrefix(node.path, key, offset)
    if (node.t === 0 && common === node.path.length && common === key.length - offset) {
      const value = next(node.value)
      if (!equalsBytes(node.value, value)) {
        node.value = value
        this.dirty(node)
      }
      return node
    }
    if (node.t === 1 && common === node.path.length) {
      node.child = this.insert(node.child, key, offset + common, next)
      this.dirty(node)
      return node
    }
    if (common === node.path.length || common === key.length - offset) {
      throw new Error('trie keys must all have the same length')
    }
    // Split at the first differing nibble: a branch holding the old node's rest and the new leaf.
    this.dropped(node)
    const split = branch()
    const rest = node.path.subarray(common + 1)
    if (node.t === 0) split.children[node.path[common]!] = leaf(rest, node.value)
    else split.children[node.path[common]!] = rest.length === 0 ? node.child : extension(rest, node.child)
    split.children[key[offset + common]!] = leaf(key.subarray(offset + common + 1), next(undefined))
    return common === 0 ? split : extension(node.path.subarray(0, common), split)
  }

  /**
   * Remove `key`; returns the new reference. A result that is not dirty means nothing changed
   * below (it may be the loaded form of a hash reference, which the parent keeps without
   * re-hashing).
   */
  private remove(ref: Ref | undefined, key: Uint8Array, offset: number): Ref | undefined {
    if (ref === undefined) return undefined
    const node = this.resolve(ref)
    if (node.t === 0) {
      const match = node.path.length === key.length - offset && commonPrefix(node.path, key, offset) === node.path.length
      if (!match) return node
      this.dropped(node)
      return undefined
    }
    if (node.t === 1) {
      if (commonPrefix(node.path, key, offset) !== node.path.length) return node
      const child = this.remove(node.child, key, offset + node.path.length)
      if (child === undefined) {
        this.dropped(node)
        return undefined
      }
      const changed = isDirty(child)
      node.child = child
      if (!changed) return node
      // The child collapsed (a branch left with one entry): merge it into this extension.
      const merged = this.resolve(child)
      if (merged.t !== 2) this.dropped(node)
      if (merged.t === 0) return leaf(concatNibbles(node.path, merged.path), merged.value)
      if (merged.t === 1) return extension(concatNibbles(node.path, merged.path), merged.child)
      this.dirty(node)
      return node
    }
    const i = key[offset]!
    const before = node.children[i]
    if (before === undefined) return node
    const child = this.remove(before, key, offset + 1)
    node.children[i] = child
    if (child !== undefined && !isDirty(child)) return node
    let remaining = -1
    for (let j = 0; j < 16; j++) {
      if (node.children[j] === undefined) continue
      if (remaining !== -1) {
        this.dirty(node)
        return node
      }
      remaining = j
    }
    // One child left: the branch collapses into it (loading it if it is only a hash — the
    // sibling a stateless verifier needs for this deletion).
    const only = this.resolve(node.children[remaining]!)
    if (this.witness !== undefined && only.enc !== undefined && only.hash !== undefined) this.witness(only.hash, only.enc)
    this.dropped(node)
    // A leaf or extension moves up one nibble as a new node; a branch stays as it is, below a new extension.
    if (only.t !== 2) this.dropped(only)
    if (only.t === 0) return leaf(concatNibbles(remaining, only.path), only.value)
    if (only.t === 1) return extension(concatNibbles(remaining, only.path), only.child)
    return extension(Uint8Array.of(remaining), only)
  }

  /**
   * Hand `sink` every stored node on the path of `key` as it is now — the top node and each node
   * referenced by hash (nodes under inline references are inside their parent's encoding). Call
   * before changing the trie: the nodes that prove the key's current value, or its absence.
   */
  recordPath(key: Uint8Array, sink: NodeSink): void {
    this.get(key) // loads and keeps the path
    let ref = this.root
    let offset = 0
    let top = true
    while (ref !== undefined && ref.t !== 3) {
      const node = ref
      const enc = this.encode(node)
      if (top || enc.length >= 32) sink(node.hash ?? keccak256(enc), enc)
      top = false
      if (node.t === 0) return
      if (node.t === 1) {
        if (commonPrefix(node.path, key, offset) !== node.path.length) return
        offset += node.path.length
        ref = node.child
      } else {
        ref = node.children[key[offset]!]
        offset++
      }
    }
  }

  /**
   * Estimated bytes of the nodes held in memory, by the nibble depth they start at (relative to
   * this trie's top; index 0 is the top node), added into `into.bytes`; and into `into.refs`, what
   * the same nodes would cost as hash references (what stays of them when released). Walks only
   * what is in memory.
   */
  memoryByDepth(into: DepthMemory = { bytes: [], refs: [] }, offset = 0): DepthMemory {
    const walk = (ref: Ref, depth: number) => {
      into.refs[depth] = (into.refs[depth] ?? 0) + HASH_REF_BYTES
      if (ref.t === 3) {
        into.bytes[depth] = (into.bytes[depth] ?? 0) + HASH_REF_BYTES
        return
      }
      into.bytes[depth] = (into.bytes[depth] ?? 0) + nodeBytes(ref)
      if (ref.t === 1) walk(ref.child, depth + ref.path.length)
      else if (ref.t === 2) for (const child of ref.children) if (child !== undefined) walk(child, depth + 1)
    }
    if (this.root !== undefined) walk(this.root, offset)
    return into
  }

  /**
   * Release every node that starts at nibble depth `depth` or deeper, keeping a hash reference in
   * its parent: it is loaded again from the store when a path reaches it. Only for a committed
   * trie whose nodes are all stored (durable); nodes under an inline reference (encoding < 32
   * bytes) go with their parent. The top node always stays.
   */
  prune(depth: number): void {
    const walk = (ref: Ref, at: number): Ref => {
      if (ref.t === 3) return ref
      // A node changed since the last commit (none between blocks) stays, with what is under it.
      if (ref.enc === undefined) return ref
      if (at >= depth && ref.hash !== undefined && ref.enc.length >= 32) return hashRef(ref.hash)
      if (ref.t === 1) ref.child = walk(ref.child, at + ref.path.length)
      else if (ref.t === 2) {
        for (let i = 0; i < 16; i++) {
          const child = ref.children[i]
          if (child !== undefined) ref.children[i] = walk(child, at + 1)
        }
      }
      return ref
    }
    const root = this.root
    if (root === undefined || root.t === 3) return
    if (root.t === 1) root.child = walk(root.child, root.path.length)
    else if (root.t === 2) for (let i = 0; i < 16; i++) if (root.children[i] !== undefined) root.children[i] = walk(root.children[i]!, 1)
  }

  /** Load every node on the path of `key` (prefetch); returns how many came from the loader. */
  touch(key: Uint8Array): number {
    const before = this.loads
    this.get(key)
    return this.loads - before
  }

  /**
   * Hash every dirty node once, bottom up; hand each node that is referenced by hash (encoding of
   * 32 bytes or more) and the top node to `sink`. Returns the root hash.
   */
  commit(sink?: NodeSink): Uint8Array {
    if (this.root === undefined) return EMPTY_ROOT
    if (this.root.t === 3) return this.root.hash
    const enc = this.encode(this.root, sink)
    if (this.root.hash === undefined) {
      this.root.hash = keccak256(enc)
      if (enc.length < 32) sink?.(this.root.hash, enc, this.options.owner)
    }
    return this.root.hash
  }

  /** The encoding of the top node (after `commit`), or undefined for an empty trie. */
  topNode(): Uint8Array | undefined {
    if (this.root === undefined) return undefined
    if (this.root.t === 3) this.root = this.resolve(this.root)
    return this.encode(this.root)
  }

  private encode(node: TrieNode, sink?: NodeSink): Uint8Array {
    if (node.enc !== undefined) return node.enc
    let enc: Uint8Array
    if (node.t === 0) {
      enc = encodeLeafWithKey(hexPrefix(node.path, true), node.value)
      // The value is the encoding's last bytes: share them rather than keep a second copy (a
      // trie holds one leaf per account).
      node.value = enc.subarray(enc.length - node.value.length)
    }
    else if (node.t === 1) enc = encodeExtension(node.path, this.childRef(node.child, sink))
    else {
      const refs = new Array<ChildRef | undefined>(16)
      for (let i = 0; i < 16; i++) {
        const child = node.children[i]
        refs[i] = child === undefined ? undefined : this.childRef(child, sink)
      }
      enc = encodeBranch(refs)
    }
    node.enc = enc
    if (enc.length >= 32) {
      node.hash = keccak256(enc)
      sink?.(node.hash, enc, this.options.owner)
    }
    return enc
  }

  private childRef(child: Ref, sink?: NodeSink): ChildRef {
    if (child.t === 3) return child.hash
    const enc = this.encode(child, sink)
    return enc.length < 32 ? enc : child.hash!
  }

  /**
   * The encodings of the nodes on the path of `key` that are referenced by hash, top first —
   * an EIP-1186 proof once the top node is committed (nodes under an inline reference are inside
   * their parent's encoding, as in geth's proofs).
   */
  proof(key: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    this.recordPath(key, (_hash, enc) => out.push(enc))
    return out
  }
}

/**
 * Combine sub-tries under the 16 children of one node into that node (used by the `mpt`
 * commitment, whose account trie is split by first nibble across threads): a branch when two or
 * more are non-empty; when only one is, that sub-trie's top node moves up one nibble, exactly as
 * a branch collapses. `tops[i]` is the encoding of sub-trie i's top node, or undefined when empty.
 * Returns the encoding of the combined node, or undefined when every sub-trie is empty.
 */
export function combineSubtries(tops: readonly (Uint8Array | undefined)[]): Uint8Array | undefined {
  let count = 0
  let only = -1
  tops.forEach((top, i) => {
    if (top !== undefined) {
      count++
      only = i
    }
  })
  if (count === 0) return undefined
  if (count >= 2) {
    return encodeBranch(tops.map((top) => (top === undefined ? undefined : top.length < 32 ? top : keccak256(top))))
  }
  const top = tops[only]!
  const node = decodeNode(top)
  if (node.t === 0) return encodeLeaf(concatNibbles(only, node.path), node.value)
  // A decoded child is a hash reference or an inline node (whose encoding decoding kept).
  const childRef = (ref: Ref): ChildRef => (ref.t === 3 ? ref.hash : ref.enc!)
  if (node.t === 1) return encodeExtension(concatNibbles(only, node.path), childRef(node.child))
  return encodeExtension(Uint8Array.of(only), top.length < 32 ? top : keccak256(top))
}

/**
 * The inverse of `combineSubtries`: the top nodes of the 16 sub-tries under a stored root (undefined
 * where empty). A sub-trie's top node is read from the store unless the root embeds it.
 */
export function splitIntoSubtries(root: Uint8Array, loader: NodeLoader): (Uint8Array | undefined)[] {
  const tops = new Array<Uint8Array | undefined>(16).fill(undefined)
  if (equalsBytes(root, EMPTY_ROOT)) return tops
  const load = (hash: Uint8Array) => {
    const enc = loader.loadNode(hash)
    if (enc === undefined) throw new MissingNodeError(hash)
    return enc
  }
  const encodingOf = (ref: Ref) => (ref.t === 3 ? load(ref.hash) : ref.enc!)
  const node = decodeNode(load(root))
  if (node.t === 2) node.children.forEach((child, i) => (tops[i] = child === undefined ? undefined : encodingOf(child)))
  else if (node.t === 0) tops[node.path[0]!] = encodeLeaf(node.path.subarray(1), node.value)
  else if (node.path.length === 1) tops[node.path[0]!] = encodingOf(node.child)
  else tops[node.path[0]!] = encodeExtension(node.path.subarray(1), node.child.t === 3 ? node.child.hash : node.child.enc!)
  return tops
}
