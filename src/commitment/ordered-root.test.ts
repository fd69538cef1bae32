import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMPT } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { createRandom } from '../utils/random.ts'
import { orderedTrieRoot } from './ordered-root.ts'
import { bytesToNibbles, MerkleTrie } from './trie.ts'

/** The same root through the general trie: every key put, then committed. */
function throughTrie(values: readonly Uint8Array[]): Uint8Array {
  const trie = new MerkleTrie()
  values.forEach((value, i) => trie.put(bytesToNibbles(RLP.encode(i)), value))
  return trie.commit()
}

describe('orderedTrieRoot', () => {
  it('behavior: equals @ethereumjs/mpt for 0 to 1,100 values, across the 1-, 2- and 3-byte RLP keys and every size of value', async () => {
    const random = createRandom(5)
    for (const count of [0, 1, 2, 3, 16, 17, 127, 128, 129, 255, 256, 257, 300, 1100]) {
      // 1-byte values (below 0x80 too: their own encoding), short ones a parent embeds, and long ones (≥ 56 bytes: a long prefix).
      const values = Array.from({ length: count }, (_, i) => (i % 7 === 0 ? Uint8Array.of(random.range(0, 255)) : random.bytes(random.range(1, i % 3 === 0 ? 20 : 300))))
      const reference = await createMPT()
      for (const [i, value] of values.entries()) await reference.put(RLP.encode(i), value)
      assert.equal(bytesToHex(orderedTrieRoot(values)), bytesToHex(reference.root()), `${count} values`)
    }
  })

  it('behavior: equals the general trie past 65,536 values (4-byte keys), and for values of 0x00 and empty bytes', () => {
    const random = createRandom(9)
    const values = Array.from({ length: 65_600 }, (_, i) => (i % 1000 === 0 ? new Uint8Array() : random.bytes(i % 5 === 0 ? 1 : 40)))
    assert.equal(bytesToHex(orderedTrieRoot(values)), bytesToHex(throughTrie(values)))
    for (const small of [[Uint8Array.of(0)], [Uint8Array.of(0), Uint8Array.of(1)], [new Uint8Array(), Uint8Array.of(0x80)]]) {
      assert.equal(bytesToHex(orderedTrieRoot(small)), bytesToHex(throughTrie(small)))
    }
  })

  it('negative control: another order of the same values is another root', () => {
    const random = createRandom(3)
    const values = Array.from({ length: 200 }, () => random.bytes(100))
    const swapped = [values[1]!, values[0]!, ...values.slice(2)]
    assert.notEqual(bytesToHex(orderedTrieRoot(swapped)), bytesToHex(orderedTrieRoot(values)))
  })
})
