import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { encodeStateDelta } from '../state/delta-codec.ts'
import { createStateDelta, type StateDelta } from '../state/types.ts'
import { LmdbStore, type StoredBlock } from './lmdb-store.ts'
import { metaKeys, numberKey, SCHEMA_VERSION } from './schema.ts'

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
  it('behavior: small values — account records, slots, short trie nodes, more than one 64 KB slab of them in one block — read back as written, and keep reading so after the next blocks', async () => {
    const store = LmdbStore.open(tempDir())
    try {
      const count = 3_000
      const address = (i: number) => i.toString(16).padStart(40, '0')
      const slotValue = (i: number) => Uint8Array.of(i >> 8, i & 0xff, 7)
      const delta = createStateDelta()
      for (let i = 0; i < count; i++) {
        delta.accounts.set(address(i), { nonce: BigInt(i), balance: 10n ** 18n + BigInt(i), codeHash: KECCAK256_NULL })
        delta.storage.set(address(i), new Map([[LOW_SLOT, slotValue(i)]]))
      }
      await store.writeBlock(emptyBlock(0n), delta)
      const nodes = Array.from({ length: count }, (_, i) => [new Uint8Array(32).fill(1).map((b, j) => (j < 4 ? (i >> (8 * j)) & 0xff : b)), Uint8Array.of(0xc2, i & 0x7f, 0x80 + (i % 3)), undefined] as [Uint8Array, Uint8Array, undefined])
      await store.putTrieNodes(0n, nodes, [], 0)
      // Later writes must not reach back into earlier values.
      for (let n = 1n; n <= 3n; n++) {
        const next = createStateDelta()
        for (let i = 0; i < count; i += 7) next.accounts.set(address(count + i + Number(n) * count), { nonce: n, balance: n, codeHash: KECCAK256_NULL })
        await store.writeBlock(emptyBlock(n), next)
      }
      for (let i = 0; i < count; i++) {
        const account = store.readAccount(address(i))
        assert.equal(account?.nonce, BigInt(i))
        assert.equal(account?.balance, 10n ** 18n + BigInt(i))
        assert.deepEqual(Uint8Array.from(store.readStorage(address(i), LOW_SLOT) ?? []), slotValue(i))
        assert.deepEqual(Uint8Array.from(store.loadNode(nodes[i]![0]) ?? []), nodes[i]![1])
      }
    } finally {
      await store.close()
    }
  })

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
      // 48 MB of trie nodes: a store lmdb-js would otherwise remap nine times on the way (128 KB doubling).
      const body = new Uint8Array(1 << 20).fill(7)
      for (let n = 0n; n < 48n; n++) {
        const hash = new Uint8Array(32).fill(Number(n) + 1)
        await store.putTrieNodes(n, [[hash, body, undefined]], [], 0)
        assert.equal(store.loadNode(hash)?.length, body.length) // each node read back through the map
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

  it('behavior: block records, receipts, deltas, read sets and witnesses go to the static files, not LMDB\'s map, and read back as written', async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    try {
      const chainBefore = statSync(join(dir, 'chain.mdb')).size
      const body = new Uint8Array(1 << 20).map((_, i) => i % 253)
      const receipts = [Uint8Array.of(0xc3, 1, 2, 3)]
      const readSet = new Uint8Array(300_000).fill(9)
      for (let n = 0n; n < 4n; n++) await store.writeBlock({ ...emptyBlock(n), serialized: body, receipts }, createStateDelta(), { readSet })
      const witness = new Uint8Array(500_000).fill(5)
      await store.writeCommitments([0n, 1n, 2n, 3n].map((number) => ({ number, root: new Uint8Array(32).fill(1), witness, nodes: [] })))
      // ~5.2 MB of records: the static files hold them, LMDB only their pointers.
      assert.ok(statSync(join(dir, 'blocks.dat')).size > 4 * (body.length + readSet.length))
      assert.ok(statSync(join(dir, 'witnesses.dat')).size >= 4 * witness.length)
      assert.ok(statSync(join(dir, 'chain.mdb')).size - chainBefore < 1 << 20, `chain.mdb grew by ${statSync(join(dir, 'chain.mdb')).size - chainBefore} bytes`)
      for (let n = 0n; n < 4n; n++) {
        assert.deepEqual(new Uint8Array(store.getBlockRlp(n)!), body)
        assert.deepEqual(store.getBlock(n)!.receipts.map((r) => [...r]), receipts.map((r) => [...r]))
        assert.deepEqual(store.getReadSet(n), readSet)
        assert.deepEqual(store.getWitness(n), witness)
        assert.deepEqual(store.getBlockHash(n), emptyBlock(n).hash)
      }
      assert.equal(store.getWitness(4n), undefined)
    } finally {
      await store.close()
    }
  })

  it('behavior: bytes a crash left after the last committed record are cut off before the next append; a record past the end of its file is an error, not other bytes', async () => {
    const dir = tempDir()
    let store = LmdbStore.open(dir)
    const blocks = [0n, 1n, 2n].map((n) => ({ ...emptyBlock(n), serialized: new Uint8Array(1000 + Number(n)).fill(Number(n) + 1) }))
    for (const block of blocks.slice(0, 2)) await store.writeBlock(block, createStateDelta())
    await store.close()
    const file = join(dir, 'blocks.dat')
    const committed = statSync(file).size
    // An append whose LMDB transaction never committed (the process died in between).
    appendFileSync(file, new Uint8Array(777).fill(0xee))
    store = LmdbStore.open(dir)
    try {
      assert.deepEqual(new Uint8Array(store.getBlockRlp(1n)!), blocks[1]!.serialized, 'committed records read back before the repair')
      await store.writeBlock(blocks[2]!, createStateDelta())
      blocks.forEach((block) => assert.deepEqual(new Uint8Array(store.getBlockRlp(block.number)!), block.serialized, `block ${block.number}`))
      // The torn bytes are gone: the file is what the three blocks' records take, nothing more.
      const third = statSync(file).size - committed
      assert.ok(third > blocks[2]!.serialized.length && third < blocks[2]!.serialized.length + 200, `block 2 took ${third} bytes after the committed end`)
    } finally {
      await store.close()
    }
    // A damaged data dir: the file lost its last record.
    truncateSync(file, committed)
    store = LmdbStore.open(dir)
    try {
      assert.throws(() => store.getBlock(2n), /blocks\.dat ends before the record .* the data dir is damaged/)
      assert.deepEqual(new Uint8Array(store.getBlockRlp(1n)!), blocks[1]!.serialized)
    } finally {
      await store.close()
    }
  })

  it('behavior: change sets a crash left without a pointer are cut off (a torn tail) or deleted (a segment of their own) before the next append', async () => {
    const dir = tempDir()
    const options = { changeSetSegmentBlocks: 4 }
    const balanceDelta = (balance: bigint) => {
      const delta = createStateDelta()
      delta.accounts.set('11'.repeat(20), { nonce: 0n, balance, codeHash: KECCAK256_NULL })
      return delta
    }
    let store = LmdbStore.open(dir, options)
    for (let n = 0n; n <= 5n; n++) await store.writeBlock(emptyBlock(n), balanceDelta(100n + n))
    await store.close()
    const segment = join(dir, 'changesets', '000000000004.dat')
    const committed = statSync(segment).size
    // Block 6's record appended to the segment of blocks 4–7, and block 8's to a segment of its
    // own, both before transactions that never committed.
    appendFileSync(segment, new Uint8Array(300).fill(0xee))
    appendFileSync(join(dir, 'changesets', '000000000008.dat'), new Uint8Array(50).fill(0xee))
    store = LmdbStore.open(dir, options)
    try {
      await store.writeBlock(emptyBlock(6n), balanceDelta(106n))
      assert.deepEqual(store.changeSetSegments(), [0n, 4n])
      const sixth = statSync(segment).size - committed
      assert.ok(sixth > 20 && sixth < 300, `block 6's change set took ${sixth} bytes after the committed end`)
      for (let n = 0n; n <= 6n; n++) assert.equal(store.readAccountAt('11'.repeat(20), n)?.balance, 100n + n, `block ${n}`)
    } finally {
      await store.close()
    }
  })

  it('behavior: transactions are found by hash across a reopen: the index runs on disk, the blocks after them indexed again from their records', async () => {
    const dir = tempDir()
    const options = { txIndex: { flushEntries: 10, fenceEntries: 4 } }
    const hashes = Array.from({ length: 30 }, (_, n) => Array.from({ length: n % 4 }, (_, i) => new Uint8Array(32).fill(n * 4 + i + 1)))
    let store = LmdbStore.open(dir, options)
    for (let n = 0; n < 30; n++) await store.writeBlock({ ...emptyBlock(BigInt(n)), txHashes: hashes[n]! }, createStateDelta())
    await store.close()
    store = LmdbStore.open(dir, options)
    try {
      const stats = store.txIndexStats()
      assert.ok(stats.entriesOnDisk > 0 && stats.entriesInMemory > 0, JSON.stringify(stats))
      hashes.forEach((block, n) => block.forEach((hash, index) => assert.deepEqual(store.getTxLocations(hash), [{ blockNumber: BigInt(n), index }])))
      assert.deepEqual(store.getTxLocations(new Uint8Array(32).fill(0xfe)), [])
    } finally {
      await store.close()
    }
  })

  it('behavior: a data dir of another schema version is refused with a message saying what to do', async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    await store.putMeta(metaKeys.schemaVersion, numberKey(1))
    await store.close()
    assert.throws(() => LmdbStore.open(dir), new RegExp(`has schema version 1, this mosaic reads version ${SCHEMA_VERSION}: use another DATA_DIR`))
  })
})
