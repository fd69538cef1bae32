import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
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

  it('behavior: a data dir of another schema version is refused with a message saying what to do', async () => {
    const dir = tempDir()
    const store = LmdbStore.open(dir)
    await store.putMeta(metaKeys.schemaVersion, numberKey(1))
    await store.close()
    assert.throws(() => LmdbStore.open(dir), /has schema version 1, this mosaic reads version 3: use another DATA_DIR/)
  })
})
