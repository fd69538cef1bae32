/**
 * How the state is laid out in tries, for both commitment modes (MISSION.md, "Commitment").
 *
 * The account trie is cut into 16^n sub-tries by the first n nibbles of keccak(address); the
 * path inside a sub-trie starts after them. Sub-tries are what worker threads own and update in
 * parallel; the root aggregates them:
 *
 * - `mpt` (n = 1): the 16 sub-tries are exactly the subtrees under the root of the one Ethereum
 *   account trie, and `combineSubtries` rebuilds that root node — the root equals what geth and
 *   ethereumjs compute.
 * - `sharded` (n = k, `SHARD_NIBBLES`, 3 by default = 4096 shards; the seed's proposal): every shard
 *   is an MPT of its own, and the root is a binary Merkle tree over the shard roots:
 *     leaf i   = the root of shard i (32 bytes; an empty shard is the empty-trie root
 *                keccak256(RLP("")) = 0x56e8…b421)
 *     node     = keccak256(left ‖ right)
 *     root     = the top node of the tree of depth 4k (2^(4k) = 16^k leaves)
 *
 * In both modes an account's leaf value is RLP([nonce, balance, storageRoot, codeHash]) and every
 * account with storage has one storage trie keyed by keccak(slot) with values RLP(value), exactly
 * as in Ethereum.
 */
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt, KECCAK256_NULL } from '@ethereumjs/util'
import { type CommitmentMode, MAX_SHARD_NIBBLES } from '../config/config.ts'
import { EMPTY_ROOT } from './trie.ts'


export type Layout = {
  readonly mode: CommitmentMode
  /** Nibbles of keccak(address) that choose the sub-trie: 1 in `mpt` mode, k in `sharded` mode. */
  readonly splitNibbles: number
}

export function layoutOf(mode: CommitmentMode, shardNibbles: number): Layout {
  if (mode === 'mpt') return { mode, splitNibbles: 1 }
  if (!Number.isInteger(shardNibbles) || shardNibbles < 1 || shardNibbles > MAX_SHARD_NIBBLES) {
    throw new Error(`shard nibbles must be an integer from 1 to ${MAX_SHARD_NIBBLES}`)
  }
  return { mode, splitNibbles: shardNibbles }
}

export function subtrieCount(layout: Layout): number {
  return 16 ** layout.splitNibbles
}

/** The sub-trie (shard) of a hashed key: its first `splitNibbles` nibbles as a number. */
export function subtrieOf(hashedKey: Uint8Array, splitNibbles: number): number {
  let index = 0
  for (let i = 0; i < splitNibbles; i++) {
    const byte = hashedKey[i >> 1]!
    index = index * 16 + (i & 1 ? byte & 15 : byte >> 4)
  }
  return index
}

export type AccountLeaf = {
  readonly nonce: bigint
  readonly balance: bigint
  readonly storageRoot: Uint8Array
  readonly codeHash: Uint8Array
}

export const EMPTY_ACCOUNT_LEAF: AccountLeaf = { nonce: 0n, balance: 0n, storageRoot: EMPTY_ROOT, codeHash: KECCAK256_NULL }

export function encodeAccountLeaf(account: AccountLeaf): Uint8Array {
  return RLP.encode([bigIntToUnpaddedBytes(account.nonce), bigIntToUnpaddedBytes(account.balance), account.storageRoot, account.codeHash])
}

export function decodeAccountLeaf(bytes: Uint8Array): AccountLeaf {
  const fields = RLP.decode(bytes) as Uint8Array[]
  if (!Array.isArray(fields) || fields.length !== 4) throw new Error('malformed account leaf')
  return { nonce: bytesToBigInt(fields[0]!), balance: bytesToBigInt(fields[1]!), storageRoot: fields[2]!, codeHash: fields[3]! }
}

/** A storage trie's value for a slot value stripped of leading zeros. */
export function encodeStorageValue(value: Uint8Array): Uint8Array {
  return RLP.encode(value)
}
