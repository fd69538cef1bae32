/**
 * The transaction index against a model (a Map of every hash to its location): small runs and
 * fences, so that flushes, merges over several levels and lookups across fence spans all happen;
 * hashes that share their first 8 bytes; a reopen that indexes the blocks after the runs again;
 * files a crash left.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex, randomBytes } from '@ethereumjs/util'
import { TxIndex } from './tx-index.ts'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-txindex-'))
  dirs.push(dir)
  return dir
}

const OPTIONS = { flushEntries: 40, fenceEntries: 8 }

/** A manifest kept the way the store keeps it: committed asynchronously, read at open. */
function manifestStore(): { manifest: Uint8Array | undefined; commit: (bytes: Uint8Array) => Promise<void> } {
  const holder = {
    manifest: undefined as Uint8Array | undefined,
    commit: async (bytes: Uint8Array) => {
      await new Promise((resolve) => setImmediate(resolve))
      holder.manifest = bytes
    },
  }
  return holder
}

/** Blocks of random hashes; every 7th block has a hash sharing its first 8 bytes with an earlier one. */
function makeBlocks(count: number): Uint8Array[][] {
  const blocks: Uint8Array[][] = []
  for (let n = 0; n < count; n++) {
    const hashes = Array.from({ length: n % 5 === 4 ? 0 : 1 + (n % 13) }, () => randomBytes(32))
    if (n % 7 === 6 && blocks.length > 0 && blocks[n - 1]!.length > 0) {
      const twin = randomBytes(32)
      twin.set(blocks[n - 1]![0]!.subarray(0, 8))
      hashes.push(twin)
    }
    blocks.push(hashes)
  }
  return blocks
}

/** Every hash's location found, the twin's as a second candidate; returns what was wrong. */
function check(index: TxIndex, blocks: Uint8Array[][], upTo: number): string[] {
  const wrong: string[] = []
  for (let n = 0; n <= upTo; n++) {
    blocks[n]!.forEach((hash, i) => {
      const found = index.locate(hash)
      if (!found.some((l) => l.blockNumber === BigInt(n) && l.index === i)) wrong.push(`${bytesToHex(hash)} at ${n}/${i}: ${JSON.stringify(found, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`)
      // Candidates share the first 8 bytes: a twin's, never another's.
      for (const l of found) {
        const other = blocks[Number(l.blockNumber)]?.[l.index]
        if (other === undefined || bytesToHex(other.subarray(0, 8)) !== bytesToHex(hash.subarray(0, 8))) wrong.push(`${bytesToHex(hash)}: a candidate at ${l.blockNumber}/${l.index} with another prefix`)
      }
    })
  }
  return wrong
}

describe('transaction index', () => {
  it('differential: every hash is found at its block and position, across flushes, merges over several levels and a reopen', async () => {
    const dir = tempDir()
    const manifest = manifestStore()
    const blocks = makeBlocks(400)
    let index = TxIndex.open(dir, manifest.manifest, manifest.commit, OPTIONS)
    for (let n = 0; n < 250; n++) {
      index.add(BigInt(n), blocks[n]!)
      // Lookups while flushes and merges are under way; now and then they are let finish, as
      // they do between blocks.
      if (n % 50 === 49) assert.deepEqual(check(index, blocks, n), [])
      if (n % 3 === 2) await index.settled()
    }
    await index.settled()
    const stats = index.stats()
    const total = blocks.slice(0, 250).reduce((sum, hashes) => sum + hashes.length, 0)
    assert.equal(stats.entriesOnDisk + stats.entriesInMemory, total)
    assert.ok(stats.runs < 4 * 3, `${stats.runs} runs: merges should keep fewer than 4 per level`)
    assert.ok(readdirSync(dir).some((name) => name.startsWith('L2-')), `no run reached level 2: ${readdirSync(dir).join(' ')}`)
    await index.close()
    // Reopen: the runs the manifest lists, and the blocks after them added again.
    index = TxIndex.open(dir, manifest.manifest, manifest.commit, OPTIONS)
    try {
      assert.ok(index.durableTo > 150n && index.durableTo < 250n, `runs hold blocks to ${index.durableTo}`)
      for (let n = Number(index.durableTo) + 1; n < 400; n++) index.add(BigInt(n), blocks[n]!)
      assert.deepEqual(check(index, blocks, 399), [])
      await index.settled()
      assert.deepEqual(check(index, blocks, 399), [])
      // Negative control: a hash with one of its first 8 bytes changed is not found, so the
      // lookups above could fail.
      const missing = blocks[123]![0]!.slice()
      missing[3] = missing[3]! ^ 1
      assert.deepEqual(index.locate(missing), [])
      assert.deepEqual(index.locate(randomBytes(32)), [])
    } finally {
      await index.close()
    }
  })

  it('behavior: files a crash left — a run written but never listed, a temporary one — are deleted at open; a listed run that is missing is an error', async () => {
    const dir = tempDir()
    const manifest = manifestStore()
    const blocks = makeBlocks(60)
    const index = TxIndex.open(dir, manifest.manifest, manifest.commit, OPTIONS)
    for (let n = 0; n < 60; n++) index.add(BigInt(n), blocks[n]!)
    await index.close()
    const listed = readdirSync(dir).sort()
    writeFileSync(join(dir, 'L0-0000000099.run'), new Uint8Array(100))
    writeFileSync(join(dir, 'L0-0000000100.run.tmp'), new Uint8Array(10))
    const reopened = TxIndex.open(dir, manifest.manifest, manifest.commit, OPTIONS)
    assert.deepEqual(readdirSync(dir).sort(), listed)
    assert.deepEqual(check(reopened, blocks, Number(reopened.durableTo)), [])
    await reopened.close()
    rmSync(join(dir, listed[0]!))
    assert.throws(() => TxIndex.open(dir, manifest.manifest, manifest.commit, OPTIONS), /listed in the transaction index but missing: the data dir is damaged/)
  })
})
