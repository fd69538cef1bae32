/**
 * Root of an "ordered" trie (key = RLP(index)), as the transactions and receipts roots of a
 * header are defined (yellow paper §4.3), with the batched trie: RLP-encoded indices are
 * prefix-free, so no branch ever needs a value. About 20× faster than per-key puts into
 * `@ethereumjs/mpt` (`ordered-root.test.ts` checks they agree).
 */
import { RLP } from '@ethereumjs/rlp'
import { bytesToNibbles, MerkleTrie } from './trie.ts'

export function orderedTrieRoot(values: readonly Uint8Array[]): Uint8Array {
  const trie = new MerkleTrie()
  values.forEach((value, i) => trie.put(bytesToNibbles(RLP.encode(i)), value))
  return trie.commit()
}
