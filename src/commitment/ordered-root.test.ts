import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMPT } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex } from '@ethereumjs/util'
import { createRandom } from '../utils/random.ts'
import { orderedTrieRoot } from './ordered-root.ts'

describe('orderedTrieRoot', () => {
  it('behavior: equals @ethereumjs/mpt for 0 to 300 values, across the 1-, 2- and 3-byte RLP keys', async () => {
    const random = createRandom(5)
    for (const count of [0, 1, 2, 17, 127, 128, 129, 255, 256, 300]) {
      const values = Array.from({ length: count }, () => random.bytes(random.range(1, 120)))
      const reference = await createMPT()
      for (const [i, value] of values.entries()) await reference.put(RLP.encode(i), value)
      assert.equal(bytesToHex(orderedTrieRoot(values)), bytesToHex(reference.root()), `${count} values`)
    }
  })
})
