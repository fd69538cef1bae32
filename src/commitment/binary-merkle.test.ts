import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { bytesToHex } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { createRandom } from '../utils/random.ts'
import { BinaryMerkleTree, binaryPathFromStore, binaryRootOf, leavesFromStore } from './binary-merkle.ts'
import { EMPTY_ROOT } from './trie.ts'

describe('BinaryMerkleTree', () => {
  it('behavior: pages stored under each root give back every leaf and every path, for depths 4, 8 and 12', () => {
    for (const depth of [4, 8, 12]) {
      const random = createRandom(depth)
      const tree = new BinaryMerkleTree(depth)
      const pages = new Map<string, Uint8Array>()
      const loader = { loadNode: (hash: Uint8Array) => pages.get(bytesToHex(hash)) }
      const leaves = new Map<number, Uint8Array>()
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 20; i++) {
          const index = random.int(2 ** depth)
          const leaf = random.int(5) === 0 ? EMPTY_ROOT : keccak256(random.bytes(8))
          tree.setLeaf(index, leaf)
          if (leaf === EMPTY_ROOT) leaves.delete(index)
          else leaves.set(index, leaf)
        }
        const root = tree.commit((hash, page) => pages.set(bytesToHex(hash), page))
        const stored = leavesFromStore(loader, root, depth)
        assert.deepEqual(new Map([...stored].map(([i, l]) => [i, bytesToHex(l)])), new Map([...leaves].map(([i, l]) => [i, bytesToHex(l)])), `depth ${depth} round ${round}`)
        for (const index of [...leaves.keys()].slice(0, 5).concat([0, 2 ** depth - 1])) {
          const { leaf, siblings } = binaryPathFromStore(loader, root, depth, index)
          assert.equal(bytesToHex(leaf), bytesToHex(tree.leaf(index)))
          assert.deepEqual(siblings.map(bytesToHex), tree.siblings(index).map(bytesToHex))
          assert.equal(bytesToHex(binaryRootOf(index, leaf, siblings)), bytesToHex(root))
        }
      }
    }
  })
})
