/**
 * State proofs (`eth_getProof`, EIP-1186) from the stored trie nodes, for any block whose root is
 * durable, in both commitment modes — and their verification.
 *
 * `mpt`: the standard EIP-1186 proof: `accountProof` is the path of RLP nodes from the state root
 * to keccak(address) (any EIP-1186 verifier, e.g. `@ethereumjs/mpt`'s `verifyMerkleProof`, checks it).
 *
 * `sharded`: the same fields, where `accountProof` is the path inside the account's shard — from
 * the shard root, keyed by the nibbles of keccak(address) after the first k — plus `shardProof`:
 * `{ shard, shardRoot, siblings }`, the shard index (the first k nibbles), the shard's root and
 * the binary Merkle path from that leaf to the state root (siblings bottom up; a left sibling
 * when the index's bit at that level is 1). `verifyAccountProof` checks both parts.
 *
 * Storage proofs are standard in both modes (per-account storage tries, keyed by keccak(slot)).
 */
import { RLP } from '@ethereumjs/rlp'
import { equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { binaryPathFromStore, binaryRootOf } from './binary-merkle.ts'
import { type AccountLeaf, decodeAccountLeaf, type Layout, subtrieOf } from './layout.ts'
import { bytesToNibbles, MerkleTrie, MissingNodeError, type NodeLoader } from './trie.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'

export type ShardProof = { readonly shard: number; readonly shardRoot: Uint8Array; readonly siblings: readonly Uint8Array[] }

export type AccountProof = {
  readonly proof: Uint8Array[]
  /** The account's leaf, or undefined when the proof shows it does not exist. */
  readonly account: AccountLeaf | undefined
  readonly shardProof: ShardProof | undefined
}

export type StorageProof = { readonly proof: Uint8Array[]; readonly value: Uint8Array }

/** Where the account's trie path starts: the state root (`mpt`) or its shard's root (`sharded`). */
function accountTrie(loader: NodeLoader, layout: Layout, stateRoot: Uint8Array, key: Uint8Array) {
  if (layout.mode === 'mpt') return { root: stateRoot, path: bytesToNibbles(key), shardProof: undefined }
  const shard = subtrieOf(key, layout.splitNibbles)
  const { leaf, siblings } = binaryPathFromStore(loader, stateRoot, 4 * layout.splitNibbles, shard)
  return { root: leaf, path: bytesToNibbles(key).subarray(layout.splitNibbles), shardProof: { shard, shardRoot: leaf, siblings } }
}

export function proveAccount(loader: NodeLoader, layout: Layout, stateRoot: Uint8Array, address: Uint8Array): AccountProof {
  const { root, path, shardProof } = accountTrie(loader, layout, stateRoot, keccak256(address))
  const trie = new MerkleTrie(root, { loader })
  const leaf = trie.get(path)
  return { proof: trie.proof(path), account: leaf === undefined ? undefined : decodeAccountLeaf(leaf), shardProof }
}

/** `slot`: the 32-byte storage key; `owner`: keccak(address) of the account (where the store keeps its storage trie). */
export function proveStorage(loader: NodeLoader, storageRoot: Uint8Array, slot: Uint8Array, owner: Uint8Array): StorageProof {
  const trie = new MerkleTrie(storageRoot, { loader, owner })
  const path = bytesToNibbles(keccak256(slot))
  const leaf = trie.get(path)
  return { proof: trie.proof(path), value: leaf === undefined ? new Uint8Array() : (RLP.decode(leaf) as Uint8Array) }
}

/** The nodes of a proof, by hash: a trie over them can read exactly the proven path, nothing else. */
function proofLoader(proof: readonly Uint8Array[]): NodeLoader {
  const nodes = new Map<string, Uint8Array>()
  for (const node of proof) nodes.set(bytesToUnprefixedHex(keccak256(node)), node)
  return { loadNode: (hash) => nodes.get(bytesToUnprefixedHex(hash)) }
}

/** The value a proof shows under `path` from `root` (undefined: proven absent). Throws when the proof does not check out. */
export function verifyPath(root: Uint8Array, path: Uint8Array, proof: readonly Uint8Array[]): Uint8Array | undefined {
  try {
    return new MerkleTrie(root, { loader: proofLoader(proof) }).get(path)
  } catch (error) {
    if (error instanceof MissingNodeError) throw new Error(`invalid proof: node ${bytesToHex(error.hash)} on the path is missing or altered`)
    throw new Error(`invalid proof: ${(error as Error).message}`)
  }
}

/**
 * Check an account proof against a state root, in either mode; returns the proven account leaf
 * (undefined: proven absent). Throws, saying what failed, for any proof that does not check out.
 */
export function verifyAccountProof(layout: Layout, stateRoot: Uint8Array, address: Uint8Array, proof: Pick<AccountProof, 'proof' | 'shardProof'>): AccountLeaf | undefined {
  const key = keccak256(address)
  let root = stateRoot
  let path = bytesToNibbles(key)
  if (layout.mode === 'sharded') {
    const shardProof = proof.shardProof
    if (shardProof === undefined) throw new Error('a sharded-state proof needs its shardProof')
    const shard = subtrieOf(key, layout.splitNibbles)
    if (shardProof.shard !== shard) throw new Error(`the proof is for shard ${shardProof.shard}, the address is in shard ${shard}`)
    if (shardProof.siblings.length !== 4 * layout.splitNibbles) throw new Error(`the binary Merkle path must have ${4 * layout.splitNibbles} siblings`)
    const computed = binaryRootOf(shard, shardProof.shardRoot, shardProof.siblings)
    if (!equalsBytes(computed, stateRoot)) throw new Error(`the shard path leads to ${bytesToHex(computed)}, not the state root ${bytesToHex(stateRoot)}`)
    root = shardProof.shardRoot
    path = path.subarray(layout.splitNibbles)
  }
  const leaf = verifyPath(root, path, proof.proof)
  return leaf === undefined ? undefined : decodeAccountLeaf(leaf)
}
