/**
 * Root of an "ordered" trie (key = RLP(index)), as the transactions and receipts roots of a
 * header are defined (Yellow Paper §4.3).
 */
import type { Common } from '@ethereumjs/common'
import { createMPT } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'

export async function orderedTrieRoot(values: readonly Uint8Array[], common: Common): Promise<Uint8Array> {
  const trie = await createMPT({ common })
  for (let i = 0; i < values.length; i++) await trie.put(RLP.encode(i), values[i]!)
  return trie.root()
}
