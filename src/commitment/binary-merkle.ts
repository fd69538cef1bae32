/**
 * The binary Merkle tree over shard roots of the `sharded` commitment (layout in `layout.ts`):
 * leaves are shard roots, a node is keccak256(left ‖ right), and a subtree of empty shards has a
 * precomputed value per level, so only paths of changed shards are re-hashed. Internal nodes are
 * handed to a sink (stored by hash as left ‖ right, 64 bytes) so proofs can be served for any
 * block whose root is known.
 */
import { bytesToHex, concatBytes, equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { EMPTY_ROOT, type NodeLoader, type NodeSink } from './trie.ts'

/** zero[d] = the root of a subtree of height d whose leaves are all empty shards. */
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

  /** Re-hash the paths of the leaves set since the last commit; returns the root. */
  commit(sink?: NodeSink): Uint8Array {
    let indices = this.dirty
    for (let level = 1; level <= this.depth; level++) {
      const parents = new Set<number>()
      for (const i of indices) parents.add(i >> 1)
      for (const p of parents) {
        const left = this.at(level - 1, 2 * p)
        const right = this.at(level - 1, 2 * p + 1)
        const both = concatBytes(left, right)
        const hash = keccak256(both)
        const isZero = equalsBytes(hash, this.zero[level]!)
        this.levels[level]![p] = isZero ? undefined : hash
        if (!isZero) sink?.(hash, both)
      }
      indices = parents
    }
    this.dirty = new Set()
    return this.root()
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

/**
 * Walk the stored tree from `root` down to shard `index`: its leaf (the shard root) and sibling
 * path, for any root whose nodes were stored. Throws when a node is missing.
 */
export function binaryPathFromStore(loader: NodeLoader, root: Uint8Array, depth: number, index: number): { leaf: Uint8Array; siblings: Uint8Array[] } {
  const zero = zeroHashes(depth)
  const siblings: Uint8Array[] = []
  let hash = root
  for (let level = depth; level > 0; level--) {
    let left: Uint8Array
    let right: Uint8Array
    if (equalsBytes(hash, zero[level]!)) {
      left = zero[level - 1]!
      right = zero[level - 1]!
    } else {
      const both = loader.loadNode(hash)
      if (both === undefined || both.length !== 64) throw new Error(`binary Merkle node ${bytesToHex(hash)} is not in the store`)
      left = both.subarray(0, 32)
      right = both.subarray(32)
    }
    const bit = (index >> (level - 1)) & 1
    siblings.unshift(bit === 0 ? right : left)
    hash = bit === 0 ? left : right
  }
  return { leaf: hash, siblings }
}
