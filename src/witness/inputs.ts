/**
 * What the sequencer contributes to a block's witness, from what execution read (the commitment
 * pipeline adds the trie nodes): the code of every account read that has code, and the ancestor
 * headers from the parent back to the oldest block BLOCKHASH looked up.
 */
import { bytesToUnprefixedHex, equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import type { ReadSet } from '../state/read-set.ts'
import type { StateReader } from '../state/types.ts'

export type WitnessExtras = { readonly codes: Uint8Array[]; readonly headers: Uint8Array[] }

/**
 * @param state the parent's state (what the block read)
 * @param header RLP header of block n, for n ≤ the parent
 */
export function witnessExtras(reads: ReadSet, state: StateReader, parent: bigint, header: (n: bigint) => Uint8Array | undefined): WitnessExtras {
  const codes: Uint8Array[] = []
  for (const address of new Set([...reads.accounts, ...reads.storage.keys()])) {
    const account = state.getAccount(address)
    if (account === undefined || equalsBytes(account.codeHash, KECCAK256_NULL)) continue
    const code = state.getCode(bytesToUnprefixedHex(account.codeHash))
    if (code !== undefined) codes.push(code)
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
