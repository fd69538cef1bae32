/**
 * The binary Merkle tree over shard roots of the `sharded` commitment (layout in `layout.ts`):
 * leaves are shard roots, a node is keccak256(left ‖ right), and a subtree of empty shards has a
 * precomputed value per level, so only paths of changed shards are re-hashed.
 *
 * Storage: the tree's depth is 4k, so it is cut into pages of 4 levels. A page is stored under
 * the hash of its top node as the 16 hashes at its bottom (512 bytes); the 14 nodes in between
 * are recomputed when a page is read. One page per changed 16-shard group instead of one record
 * per changed node: ~10× fewer LMDB writes, and any stored root still yields every leaf and path.
 */
import { concatBytes, equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { EMPTY_ROOT, MissingNodeError, type NodeLoader, type NodeSink } from './trie.ts'
import { bytesToHex } from '../utils/hex.ts'

/** zero[d] = the root of a subtree of height d whose leaves are all empty shards. */
const PAGE_LEVELS = 4
const PAGE_WIDTH = 2 ** PAGE_LEVELS

export function zeroHashes(depth: number): Uint8Array[] {
  const zero = [EMPTY_ROOT]
  for (let d = 1; d <= depth; d++) zero.push(keccak256(concatBytes(zero[d - 1]!, zero[d - 1]!)))
  return zero
}

export class BinaryMerkleTree {
  /** levels[0] = leaves, levels[depth] = [root]; holes read as the zero hash of their level. */
  private readonly levels: (Uint8Array | undefined)[][]
  private readonly zero: Uint8Array[]
  private dirty = new Set<number>()

  constructor(readonly depth: number) {
    this.zero = zeroHashes(depth)
    this.levels = Array.from({ length: depth + 1 }, (_, d) => new Array<Uint8Array | undefined>(2 ** (depth - d)))
  }

  private at(level: number, index: number): Uint8Array {
    return this.levels[level]![index] ?? this.zero[level]!
  }

  setLeaf(index: number, hash: Uint8Array): void {
    this.levels[0]![index] = equalsBytes(hash, EMPTY_ROOT) ? undefined : hash
    this.dirty.add(index)
  }

  leaf(index: number): Uint8Array {
    return this.at(0, index)
  }

  /**
   * Re-hash the paths of the leaves set since the last commit; returns the root. New pages go to
   * `sink`, the top hashes of the stored pages they replace (or that became empty) to `stale`.
   */
  commit(sink?: NodeSink, stale?: (hash: Uint8Array) => void): Uint8Array {
    let indices = this.dirty
    const both = new Uint8Array(64)
    for (let level = 1; level <= this.depth; level++) {
      const parents = new Set<number>()
      for (const i of indices) parents.add(i >> 1)
      for (const p of parents) {
        both.set(this.at(level - 1, 2 * p), 0)
        both.set(this.at(level - 1, 2 * p + 1), 32)
        const hash = keccak256(both)
        const isZero = equalsBytes(hash, this.zero[level]!)
        const before = this.levels[level]![p]
        this.levels[level]![p] = isZero ? undefined : hash
        if (level % PAGE_LEVELS !== 0) continue
        if (before !== undefined && (isZero || !equalsBytes(before, hash))) stale?.(before)
        if (!isZero) sink?.(hash, this.page(level, p))
      }
      indices = parents
    }
    this.dirty = new Set()
    return this.root()
  }

  /** The stored pages (as they are now) on the path from the root to leaf `index`: [top hash, page]. */
  pagesOnPath(index: number): [Uint8Array, Uint8Array][] {
    const pages: [Uint8Array, Uint8Array][] = []
    for (let level = this.depth; level > 0; level -= PAGE_LEVELS) {
      const top = index >> level
      const hash = this.at(level, top)
      if (!equalsBytes(hash, this.zero[level]!)) pages.push([hash, this.page(level, top)])
    }
    return pages
  }

  /** The 16 hashes at the bottom of the page whose top is node `index` of `level`. */
  private page(level: number, index: number): Uint8Array {
    const out = new Uint8Array(PAGE_WIDTH * 32)
    for (let i = 0; i < PAGE_WIDTH; i++) out.set(this.at(level - PAGE_LEVELS, index * PAGE_WIDTH + i), i * 32)
    return out
  }

  root(): Uint8Array {
    return this.at(this.depth, 0)
  }

  /** Sibling hashes from the leaf up (the binary Merkle path of shard `index`). */
  siblings(index: number): Uint8Array[] {
    const out: Uint8Array[] = []
    for (let level = 0, i = index; level < this.depth; level++, i >>= 1) out.push(this.at(level, i ^ 1))
    return out
  }
}

/** The root a leaf and its sibling path lead to. */
export function binaryRootOf(index: number, leaf: Uint8Array, siblings: readonly Uint8Array[]): Uint8Array {
  let hash = leaf
  siblings.forEach((sibling, level) => {
    hash = ((index >> level) & 1) === 0 ? keccak256(concatBytes(hash, sibling)) : keccak256(concatBytes(sibling, hash))
  })
  return hash
}

/** The hash of a page's top node: its 16 bottom hashes hashed up 4 levels (what it is stored under). */
export function pageTopHash(page: Uint8Array): Uint8Array {
  let row = Array.from({ length: PAGE_WIDTH }, (_, i) => page.subarray(i * 32, i * 32 + 32))
  while (row.length > 1) {
    const next: Uint8Array[] = []
    for (let j = 0; j < row.length; j += 2) next.push(keccak256(concatBytes(row[j]!, row[j + 1]!)))
    row = next
  }
  return row[0]!
}

export const PAGE_BYTES = PAGE_WIDTH * 32

/** The 16 bottom hashes of the page under `top` (at `level`), read from the store or known to be all empty. */
function loadPage(loader: NodeLoader, top: Uint8Array, level: number, zero: readonly Uint8Array[]): Uint8Array[] {
  if (equalsBytes(top, zero[level]!)) return new Array<Uint8Array>(PAGE_WIDTH).fill(zero[level - PAGE_LEVELS]!)
  const page = loader.loadNode(top)
  if (page === undefined || page.length !== PAGE_WIDTH * 32) throw new MissingNodeError(top)
  return Array.from({ length: PAGE_WIDTH }, (_, i) => page.subarray(i * 32, i * 32 + 32))
}

/**
 * Walk the stored tree from `root` down to shard `index`: its leaf (the shard root) and sibling
 * path, for any root whose pages were stored. Throws when a page is missing.
 */
export function binaryPathFromStore(loader: NodeLoader, root: Uint8Array, depth: number, index: number): { leaf: Uint8Array; siblings: Uint8Array[] } {
  const zero = zeroHashes(depth)
  const siblings: Uint8Array[] = []
  let top = root
  for (let level = depth; level > 0; level -= PAGE_LEVELS) {
    // Rebuild the page's 4 levels from its bottom row, then read the path through it.
    const bottom = loadPage(loader, top, level, zero)
    let row = bottom
    const slot = (index >> (level - PAGE_LEVELS)) & (PAGE_WIDTH - 1)
    const inPage: Uint8Array[] = []
    for (let l = 0, i = slot; l < PAGE_LEVELS; l++, i >>= 1) {
      inPage.push(row[i ^ 1]!)
      const next: Uint8Array[] = []
      for (let j = 0; j < row.length; j += 2) next.push(keccak256(concatBytes(row[j]!, row[j + 1]!)))
      row = next
    }
    if (!equalsBytes(row[0]!, top)) throw new Error(`binary Merkle page ${bytesToHex(top)} does not hash to its key`)
    siblings.unshift(...inPage)
    top = bottom[slot]!
  }
  return { leaf: top, siblings }
}

/** Every non-empty leaf (shard index → shard root) under a stored root. */
export function leavesFromStore(loader: NodeLoader, root: Uint8Array, depth: number): Map<number, Uint8Array> {
  const zero = zeroHashes(depth)
  const leaves = new Map<number, Uint8Array>()
  const walk = (top: Uint8Array, level: number, first: number) => {
    if (equalsBytes(top, zero[level]!)) return
    if (level === 0) {
      leaves.set(first, top)
      return
    }
    const row = loadPage(loader, top, level, zero)
    const span = 2 ** (level - PAGE_LEVELS)
    row.forEach((child, i) => walk(child, level - PAGE_LEVELS, first + i * span))
  }
  walk(root, depth, 0)
  return leaves
}
