/**
 * What the sequencer contributes to a block's witness, from what execution read (the commitment
 * pipeline adds the trie nodes): the code of every account read that has code, and the ancestor
 * headers from the parent back to the oldest block BLOCKHASH looked up. The read set and code
 * hashes are stored with the block, so the witness can be rebuilt after a crash.
 */
import { equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import type { ReadSet } from '../state/read-set.ts'
import type { StateReader } from '../state/types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export type WitnessExtras = { readonly codes: Uint8Array[]; readonly codeHashes: Uint8Array[]; readonly headers: Uint8Array[] }

/**
 * @param state the parent's state (what the block read)
 * @param header RLP header of block n, for n ≤ the parent
 */
export function witnessExtras(reads: ReadSet, state: StateReader, parent: bigint, header: (n: bigint) => Uint8Array | undefined): WitnessExtras {
  const codeHashes: Uint8Array[] = []
  for (const address of new Set([...reads.accounts, ...reads.storage.keys()])) {
    const account = state.getAccount(address)
    if (account !== undefined && !equalsBytes(account.codeHash, KECCAK256_NULL)) codeHashes.push(account.codeHash)
  }
  return { ...rebuildExtras(reads, codeHashes, (hash) => state.getCode(hash), parent, header), codeHashes }
}

/** The same from a stored read set and code hashes (code is content-addressed, so it is still there). */
export function rebuildExtras(
  reads: ReadSet,
  codeHashes: readonly Uint8Array[],
  code: (hash: string) => Uint8Array | undefined,
  parent: bigint,
  header: (n: bigint) => Uint8Array | undefined,
): { codes: Uint8Array[]; headers: Uint8Array[] } {
  const codes: Uint8Array[] = []
  for (const hash of codeHashes) {
    const bytes = code(bytesToUnprefixedHex(hash))
    if (bytes !== undefined) codes.push(bytes)
  }
  let oldest = parent
  for (const n of reads.blockNumbers) if (n < oldest && n >= 0n) oldest = n
  const headers: Uint8Array[] = []
  for (let n = parent; n >= oldest && n >= 0n; n--) {
    const rlp = header(n)
    if (rlp === undefined) break
    headers.push(rlp)
  }
  return { codes, headers }
}
