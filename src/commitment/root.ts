/**
 * Turning sub-trie roots into the state root, per commitment mode (`layout.ts`), and the state
 * root of a whole state computed from scratch (genesis, tests).
 */
import { equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import type { StateDelta } from '../state/types.ts'
import { BinaryMerkleTree, leavesFromStore } from './binary-merkle.ts'
import { accountUpdates, SubtrieEngine, type SubtrieRoot } from './engine.ts'
import type { Layout } from './layout.ts'
import { combineSubtries, decodeNode, EMPTY_ROOT, type NodeLoader, type NodeSink, splitIntoSubtries } from './trie.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export interface RootAggregator {
  /**
   * A block's witness trie nodes, as they are now, for a block that changes the sub-tries
   * `indices`: `subtrieNodes` (what the sub-tries' workers recorded on the block's paths) as far as
   * they are nodes of the state under the root, and the aggregate-level nodes a stateless verifier
   * needs to recompute the root: the root node (`mpt`) or the pages on their paths (`sharded`).
   */
  witness(indices: Iterable<number>, subtrieNodes: readonly Uint8Array[]): Uint8Array[]
  update(roots: readonly SubtrieRoot[]): void
  /**
   * The state root after the updates so far; new aggregate nodes go to `sink`, and the hashes of
   * stored aggregate nodes that are no longer in the state to `stale` (`trie_stale`: pruned
   * once no kept root needs them).
   */
  commit(sink?: NodeSink, stale?: (hash: Uint8Array) => void): Uint8Array
}

/** `mpt`: the 16 sub-tries are the subtrees under the account trie's root node. */
class MptAggregator implements RootAggregator {
  private readonly tops = new Array<Uint8Array | undefined>(16).fill(undefined)
  /** The hash of the root node as of the last commit (stored), undefined for the empty trie. */
  private committed: Uint8Array | undefined
  witness(_indices: Iterable<number>, subtrieNodes: readonly Uint8Array[]): Uint8Array[] {
    const root = combineSubtries(this.tops)
    if (root === undefined) return [...subtrieNodes]
    const replaced = this.replacedTop()
    return [...(replaced === undefined ? subtrieNodes : subtrieNodes.filter((node) => !equalsBytes(node, replaced))), root]
  }

  /**
   * The top node of the only non-empty sub-trie when the root node takes its place: a leaf or an
   * extension moves up one nibble into the root (`combineSubtries`), so the sub-trie's own top
   * node — which its worker records on every path through it — is no node of the account trie,
   * and a verifier walking from the root finds it hanging off nothing (issue 12: block 1 of a
   * one-account genesis). A branch stays a node, under a one-nibble extension.
   */
  private replacedTop(): Uint8Array | undefined {
    let only: Uint8Array | undefined
    for (const top of this.tops) {
      if (top === undefined) continue
      if (only !== undefined) return undefined
      only = top
    }
    return only === undefined || decodeNode(only).t === 2 ? undefined : only
  }
  update(roots: readonly SubtrieRoot[]): void {
    for (const { index, top } of roots) this.tops[index] = top
  }
  commit(sink?: NodeSink, stale?: (hash: Uint8Array) => void): Uint8Array {
    const enc = combineSubtries(this.tops)
    const hash = enc === undefined ? undefined : keccak256(enc)
    if (this.committed !== undefined && (hash === undefined || !equalsBytes(hash, this.committed))) stale?.(this.committed)
    this.committed = hash
    if (enc === undefined || hash === undefined) return EMPTY_ROOT
    sink?.(hash, enc)
    return hash
  }
}

/** `sharded`: a binary Merkle tree over the 16^k shard roots. */
class ShardAggregator implements RootAggregator {
  private readonly tree: BinaryMerkleTree
  constructor(splitNibbles: number) {
    this.tree = new BinaryMerkleTree(4 * splitNibbles)
  }
  witness(indices: Iterable<number>, subtrieNodes: readonly Uint8Array[]): Uint8Array[] {
    // Every shard is a trie of its own whose root is a leaf of the binary tree: its nodes all hang off it.
    const pages = new Map<string, Uint8Array>()
    for (const index of indices) for (const [hash, page] of this.tree.pagesOnPath(index)) pages.set(bytesToUnprefixedHex(hash), page)
    return [...subtrieNodes, ...pages.values()]
  }
  update(roots: readonly SubtrieRoot[]): void {
    for (const { index, root } of roots) this.tree.setLeaf(index, root)
  }
  commit(sink?: NodeSink, stale?: (hash: Uint8Array) => void): Uint8Array {
    return this.tree.commit(sink, stale)
  }
}

export function createAggregator(layout: Layout): RootAggregator {
  return layout.mode === 'mpt' ? new MptAggregator() : new ShardAggregator(layout.splitNibbles)
}

/**
 * The sub-tries under a stored state root — what the pipeline resumes from after a restart: the
 * leaves of the binary tree (`sharded`) or the subtrees under the account trie's root (`mpt`).
 */
export function subtriesOf(loader: NodeLoader, layout: Layout, root: Uint8Array): SubtrieRoot[] {
  if (layout.mode === 'sharded') {
    return [...leavesFromStore(loader, root, 4 * layout.splitNibbles)].map(([index, shardRoot]) => ({ index, root: shardRoot, top: undefined }))
  }
  return splitIntoSubtries(root, loader).flatMap((top, index) => (top === undefined ? [] : [{ index, root: keccak256(top), top }]))
}

/** The state root of `state` (a whole state written as one delta), built from nothing in this thread. */
export function computeStateRoot(state: StateDelta, layout: Layout, sink?: NodeSink): Uint8Array {
  const engine = new SubtrieEngine(layout.splitNibbles, new Map())
  const aggregator = createAggregator(layout)
  aggregator.update(engine.apply(accountUpdates(state), sink))
  return aggregator.commit(sink)
}
