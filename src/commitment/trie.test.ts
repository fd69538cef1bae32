import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMPT, verifyMerkleProof } from '@ethereumjs/mpt'
import { bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { createRandom } from '../utils/random.ts'
import { bytesToNibbles, combineSubtries, decodeNode, EMPTY_ROOT, type HashRef, MerkleTrie, MissingNodeError, type NodeLoader, splitIntoSubtries, type TrieNode } from './trie.ts'

type Store = Map<string, Uint8Array>

function storeSink(store: Store) {
  return (hash: Uint8Array, enc: Uint8Array) => store.set(bytesToHex(hash), enc)
}

function loaderOf(store: Store) {
  return { loadNode: (hash: Uint8Array) => store.get(bytesToHex(hash)) }
}

describe('MerkleTrie', () => {
  it('behavior: batched puts and deletes give the same roots as @ethereumjs/mpt, across reloads from stored nodes', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const random = createRandom(seed)
      const reference = await createMPT()
      const store: Store = new Map()
      let root = EMPTY_ROOT
      const keys: Uint8Array[] = []
      for (let batch = 0; batch < 12; batch++) {
        // Each batch starts from stored nodes only, as after a restart.
        const trie = new MerkleTrie(root, { loader: loaderOf(store) })
        const ops = random.range(1, 60)
        for (let i = 0; i < ops; i++) {
          const remove = keys.length > 0 && random.int(3) === 0
          if (remove) {
            const key = keys.splice(random.int(keys.length), 1)[0]!
            trie.del(bytesToNibbles(key))
            await reference.del(key)
          } else {
            // Re-use a key now and then (an update), otherwise a fresh one; short values exercise inline nodes.
            const key = keys.length > 0 && random.int(4) === 0 ? keys[random.int(keys.length)]! : keccak256(Uint8Array.of(seed, batch, i))
            if (!keys.some((k) => equalsBytes(k, key))) keys.push(key)
            const value = random.bytes(random.int(3) === 0 ? 1 : random.range(2, 80))
            if (value.length === 1 && value[0] === 0) value[0] = 1
            trie.put(bytesToNibbles(key), value)
            await reference.put(key, value)
          }
        }
        // Deleting a key that is not there changes nothing.
        trie.del(bytesToNibbles(keccak256(Uint8Array.of(seed, batch, 255, 255))))
        root = trie.commit(storeSink(store))
        assert.equal(bytesToHex(root), bytesToHex(reference.root()), `seed ${seed} batch ${batch}`)
      }
    }
  })

  it('behavior: proofs verify with @ethereumjs/mpt, prove absence, and fail when a byte changes', async () => {
    const trie = new MerkleTrie()
    const keys = Array.from({ length: 300 }, (_, i) => keccak256(Uint8Array.of(i >> 8, i & 255)))
    keys.forEach((key, i) => trie.put(bytesToNibbles(key), keccak256(Uint8Array.of(i)).subarray(0, 1 + (i % 40))))
    const root = trie.commit()
    for (const [i, key] of keys.slice(0, 40).entries()) {
      const proof = trie.proof(bytesToNibbles(key))
      const value = await verifyMerkleProof(key, proof, { root })
      assert.ok(value !== null && equalsBytes(value, keccak256(Uint8Array.of(i)).subarray(0, 1 + (i % 40))))
    }
    const absent = keccak256(Uint8Array.of(9, 9, 9))
    assert.equal(await verifyMerkleProof(absent, trie.proof(bytesToNibbles(absent)), { root }), null)
    const proof = trie.proof(bytesToNibbles(keys[7]!)).map((node) => node.slice())
    const last = proof[proof.length - 1]!
    last[last.length - 1]! ^= 1
    await assert.rejects(() => verifyMerkleProof(keys[7]!, proof, { root }))
  })

  it('behavior: 16 sub-tries split by first nibble combine into the root of the whole trie, and split back out of it', async () => {
    for (const count of [0, 1, 2, 3, 17, 200]) {
      const whole = new MerkleTrie()
      const parts = Array.from({ length: 16 }, () => new MerkleTrie())
      for (let i = 0; i < count; i++) {
        // With 2 and 3 keys, make them share the first nibble: the single-sub-trie collapse.
        const key = bytesToNibbles(keccak256(Uint8Array.of(i, count)))
        if (count <= 3) key[0] = 5
        const value = Uint8Array.of(i + 1)
        whole.put(key, value)
        parts[key[0]!]!.put(key.subarray(1), value)
      }
      const store: Store = new Map()
      const expected = whole.commit()
      const tops = parts.map((part) => (part.commit(storeSink(store)), part.topNode()))
      const combined = combineSubtries(tops)
      assert.equal(bytesToHex(combined === undefined ? EMPTY_ROOT : keccak256(combined)), bytesToHex(expected), `${count} keys`)
      // And back: the sub-tries' top nodes from the combined root and the stored nodes.
      if (combined !== undefined) store.set(bytesToHex(expected), combined)
      assert.deepEqual(splitIntoSubtries(expected, loaderOf(store)).map((top) => top && bytesToHex(top)), tops.map((top) => top && bytesToHex(top)))
    }
  })

  it('behavior: a path through a node that is not stored is an error, never a default', () => {
    const store: Store = new Map()
    const trie = new MerkleTrie()
    for (let i = 0; i < 50; i++) trie.put(bytesToNibbles(keccak256(Uint8Array.of(i))), Uint8Array.of(1, 2, 3, i))
    const root = trie.commit(storeSink(store))
    const first = [...store.keys()].find((k) => k !== bytesToHex(root))!
    store.delete(first)
    const reloaded = new MerkleTrie(root, { loader: loaderOf(store) })
    assert.throws(() => {
      for (let i = 0; i < 50; i++) reloaded.get(bytesToNibbles(keccak256(Uint8Array.of(i))))
    }, MissingNodeError)
  })

  it('behavior: the nodes reported stale are exactly those the new root no longer needs: a store pruned with them holds the whole trie and nothing else', () => {
    // Short keys make small nodes (embedded in their parent) as well as stored ones.
    for (const [seed, keyBytes] of [[11, 3], [12, 32], [13, 2]] as const) {
      const random = createRandom(seed)
      // hash → encoding and the last block that wrote it, as `trie_nodes` keeps them.
      const store = new Map<string, { enc: Uint8Array; at: number }>()
      const loader: NodeLoader = { loadNode: (hash) => store.get(bytesToHex(hash))?.enc }
      const model = new Map<string, Uint8Array>()
      const pool = Array.from({ length: 200 }, () => random.bytes(keyBytes))
      let trie = new MerkleTrie(EMPTY_ROOT, { loader })
      let root = EMPTY_ROOT
      for (let block = 1; block <= 60; block++) {
        const stale: string[] = []
        trie.stale = (hash) => stale.push(bytesToHex(hash))
        for (let op = random.range(1, 40); op > 0; op--) {
          const key = random.pick(pool)
          const id = bytesToHex(key)
          const kind = random.int(10)
          if (kind < 2) {
            trie.del(bytesToNibbles(key))
            model.delete(id)
          } else if (kind < 4 && model.has(id)) {
            trie.put(bytesToNibbles(key), model.get(id)!) // the same value again
          } else {
            const value = random.bytes(random.range(1, 40))
            trie.put(bytesToNibbles(key), value)
            model.set(id, value)
          }
        }
        root = trie.commit((hash, enc) => store.set(bytesToHex(hash), { enc, at: block }))
        trie.stale = undefined
        // Pruned at once: what left the trie in this block, unless written again in it.
        for (const hash of stale) if ((store.get(hash)?.at ?? block) < block) store.delete(hash)
        const fresh = new MerkleTrie(root, { loader })
        for (const [id, value] of model) assert.deepEqual(fresh.get(bytesToNibbles(hexToBytes(id as `0x${string}`))), value, `seed ${seed}, block ${block}: key ${id}`)
        assert.deepEqual(new Set(store.keys()), storedNodes(root, loader), `seed ${seed}, block ${block}: the store holds nodes no root needs, or lacks some`)
        // Now and then go on from the stored nodes alone (as after a restart), or release the lower levels.
        if (block % 7 === 0) trie = new MerkleTrie(root, { loader })
        else if (block % 5 === 0) trie.prune(2)
      }
    }
  })
})

/** The hashes of every node stored for `root`: the top node and every node referenced by hash below it. */
function storedNodes(root: Uint8Array, loader: NodeLoader): Set<string> {
  const found = new Set<string>()
  const visit = (ref: TrieNode | HashRef): void => {
    if (ref.t === 3) {
      found.add(bytesToHex(ref.hash))
      const enc = loader.loadNode(ref.hash)
      if (enc === undefined) throw new MissingNodeError(ref.hash)
      visit(decodeNode(enc, ref.hash))
    } else if (ref.t === 1) visit(ref.child)
    else if (ref.t === 2) for (const child of ref.children) if (child !== undefined) visit(child)
  }
  if (!equalsBytes(root, EMPTY_ROOT)) visit({ t: 3, hash: root })
  return found
}
