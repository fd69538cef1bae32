import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { encodeStateDelta } from '../state/delta-codec.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { LmdbStore, type StoredBlock } from './lmdb-store.ts'
import { metaKeys, numberKey } from './schema.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-store-'))
  dirs.push(dir)
  return dir
}

function emptyBlock(number: bigint): StoredBlock {
  return { number, hash: new Uint8Array(32).fill(Number(number)), serialized: Uint8Array.of(0xc0), senders: [], txHashes: [], receipts: [] }
}

const ACCOUNT = 'aa'.repeat(20)
const LOW_SLOT = `00${'11'.repeat(31)}`
const HIGH_SLOT = `ff${'22'.repeat(31)}`

describe('LmdbStore', () => {
  it('behavior: a storage wipe removes every slot of the account, including slots starting with 0xff; each block keeps its delta', async () => {
    const store = LmdbStore.open(tempDir())
    try {
      const first = createStateDelta()
      first.accounts.set(ACCOUNT, { nonce: 1n, balance: 5n, codeHash: KECCAK256_NULL })
      first.storage.set(ACCOUNT, new Map([[LOW_SLOT, Uint8Array.of(1)], [HIGH_SLOT, Uint8Array.of(2)]]))
      await store.writeBlock(emptyBlock(0n), first)
      assert.deepEqual([...(store.readStorage(ACCOUNT, HIGH_SLOT) ?? [])], [2])

      const wipe = createStateDelta()
      wipe.storageCleared.add(ACCOUNT)
      await store.writeBlock(emptyBlock(1n), wipe)
      assert.equal(store.readStorage(ACCOUNT, LOW_SLOT), undefined)
      assert.equal(store.readStorage(ACCOUNT, HIGH_SLOT), undefined)

      // (LMDB hands back Buffers: compare the canonical encodings.)
      const encoded = (delta: StateDelta | undefined) => (delta === undefined ? undefined : bytesToHex(encodeStateDelta(delta)))
      assert.equal(encoded(store.getStateDelta(0n)), encoded(first))
      assert.equal(encoded(store.getStateDelta(1n)), encoded(wipe))
      assert.equal(store.getStateDelta(2n), undefined)
    } finally {
      await store.close()
    }
  })

  it('behavior: the RLP or the hash of a block alone is read back as written, without its senders, hashes and receipts', async () => {
    const store = LmdbStore.open(tempDir())
    try {
      const serialized = new Uint8Array(5_000).map((_, i) => i % 251)
      const block = { ...emptyBlock(0n), serialized, senders: [new Uint8Array(20).fill(1)], txHashes: [new Uint8Array(32).fill(2)], receipts: [Uint8Array.of(0xc3, 1, 2, 3)] }
      await store.writeBlock(block, createStateDelta())
      assert.deepEqual(new Uint8Array(store.getBlockRlp(0n)!), serialized)
      assert.deepEqual(new Uint8Array(store.getBlockRlp(0n)!), new Uint8Array(store.getBlock(0n)!.serialized))
      assert.equal(store.getBlockRlp(1n), undefined)
      const hash = new Uint8Array(32).map((_, i) => 255 - i)
      await store.writeBlock({ ...block, number: 1n, hash, senders: [new Uint8Array(20).fill(3), new Uint8Array(20).fill(4)] }, createStateDelta())
      assert.deepEqual(store.getBlockHash(1n), hash)
      assert.deepEqual(store.getBlockHash(1n), new Uint8Array(store.getBlock(1n)!.hash))
      assert.deepEqual(store.getBlockHash(0n), block.hash)
      assert.equal(store.getBlockHash(2n), undefined)
    } finally {
      await store.close()
    }
  })

  it('behavior: the store is mapped once however far it grows, and holds each file page at most once', { skip: process.platform === 'linux' ? false : 'reads /proc/self/smaps (Linux)' }, async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    try {
      // 48 blocks of 1 MB each: a store lmdb-js would otherwise remap nine times on the way (128 KB doubling).
      const body = new Uint8Array(1 << 20).fill(7)
      for (let n = 0n; n < 48n; n++) {
        await store.writeBlock({ ...emptyBlock(n), serialized: body }, createStateDelta())
        assert.equal(store.getBlock(n)?.serialized.length, body.length) // each block read back through the map
      }
      const file = join(dir, 'chain.mdb')
      const maps: { size: number; rssKb: number }[] = []
      for (const entry of readFileSync('/proc/self/smaps', 'utf8').split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
        const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(.*)$/m.exec(entry)
        if (head?.[3] !== file) continue
        maps.push({ size: parseInt(head[2]!, 16) - parseInt(head[1]!, 16), rssKb: Number(/^Rss:\s+(\d+) kB/m.exec(entry)![1]) })
      }
      assert.equal(maps.length, 1, `chain.mdb is mapped ${maps.length} times: ${JSON.stringify(maps)}`)
      assert.ok(maps[0]!.rssKb * 1024 <= statSync(file).size, `resident pages of the map (${maps[0]!.rssKb} kB) exceed the file (${statSync(file).size} bytes)`)
    } finally {
      await store.close()
    }
  })

  it('behavior: a data dir of another schema version is refused with a message saying what to do', async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    await store.putMeta(metaKeys.schemaVersion, numberKey(1))
    await store.close()
    assert.throws(() => LmdbStore.open(dir), /has schema version 1, this mosaic reads version 4: use another DATA_DIR/)
  })
})
