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
import { bytesToBigInt, KECCAK256_NULL } from '@ethereumjs/util'
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

/** `mpt` or `sharded:<k>`: how a data dir and a block bundle name their layout. */
export function layoutName(layout: Layout): string {
  return layout.mode === 'mpt' ? 'mpt' : `sharded:${layout.splitNibbles}`
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

/** A non-negative bigint as big-endian bytes without leading zeros (empty for 0). */
export function unpaddedBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new Error('negative value')
  let length = 0
  for (let v = value; v > 0n; v >>= 8n) length++
  const out = new Uint8Array(length)
  for (let i = length - 1, v = value; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn)
  return out
}

/**
 * RLP([nonce, balance, storageRoot, codeHash]), written directly (it is encoded for every updated
 * account of every block; @ethereumjs/rlp's generic encoder was a fifth of a worker's time).
 */
export function encodeAccountLeaf(account: AccountLeaf): Uint8Array {
  const nonce = unpaddedBytes(account.nonce)
  const balance = unpaddedBytes(account.balance)
  const scalar = (bytes: Uint8Array) => (bytes.length === 1 && bytes[0]! < 0x80 ? 1 : 1 + bytes.length)
  const payload = scalar(nonce) + scalar(balance) + 66
  const out = new Uint8Array((payload <= 55 ? 1 : 2) + payload)
  let at = 0
  if (payload <= 55) out[at++] = 0xc0 + payload
  else {
    out[at++] = 0xf8
    out[at++] = payload
  }
  for (const bytes of [nonce, balance]) {
    if (bytes.length === 1 && bytes[0]! < 0x80) out[at++] = bytes[0]!
    else {
      out[at++] = 0x80 + bytes.length
      out.set(bytes, at)
      at += bytes.length
    }
  }
  out[at++] = 0xa0
  out.set(account.storageRoot, at)
  at += 32
  out[at++] = 0xa0
  out.set(account.codeHash, at)
  return out
}

export function decodeAccountLeaf(bytes: Uint8Array): AccountLeaf {
  const fields = RLP.decode(bytes) as Uint8Array[]
  if (!Array.isArray(fields) || fields.length !== 4 || fields[2]!.length !== 32 || fields[3]!.length !== 32) throw new Error('malformed account leaf')
  return { nonce: bytesToBigInt(fields[0]!), balance: bytesToBigInt(fields[1]!), storageRoot: fields[2]!, codeHash: fields[3]! }
}

/** Only the storage root of an account leaf (its third field), without decoding the rest. */
export function storageRootOfLeaf(bytes: Uint8Array): Uint8Array {
  // [list prefix][nonce][balance][0xa0 root(32)][0xa0 codeHash(32)]: the root ends 33 bytes before the end.
  if (bytes[bytes.length - 33] !== 0xa0 || bytes[bytes.length - 66] !== 0xa0) return decodeAccountLeaf(bytes).storageRoot
  return bytes.subarray(bytes.length - 65, bytes.length - 33)
}

/** A storage trie's value for a slot value stripped of leading zeros. */
export function encodeStorageValue(value: Uint8Array): Uint8Array {
  return RLP.encode(value)
}
