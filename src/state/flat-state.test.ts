import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { KECCAK256_NULL } from '@ethereumjs/util'
import { FlatState } from './flat-state.ts'
import { createStateDelta } from './types.ts'

const ADDRESS = '00000000000000000000000000000000000000aa'
const SLOT = (n: number) => n.toString(16).padStart(64, '0')

/** A backend that still holds an account's old slots — as LMDB does for a parallel worker mid-block. */
function staleBackend() {
  const reads: string[] = []
  return {
    reads,
    backend: {
      readAccount: () => ({ nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL }),
      readStorage: (_address: string, slot: string) => {
        reads.push(slot)
        return Uint8Array.of(7)
      },
      readCode: () => undefined,
    },
  }
}

describe('flat state', () => {
  it('behavior: after a block clears an account’s storage, slots never read before are empty, not the backend’s stale values', () => {
    const { backend, reads } = staleBackend()
    const state = new FlatState(backend)
    assert.deepEqual(state.getStorage(ADDRESS, SLOT(1)), Uint8Array.of(7))
    const delta = createStateDelta()
    delta.storageCleared.add(ADDRESS)
    delta.storage.set(ADDRESS, new Map([[SLOT(3), Uint8Array.of(9)]]))
    state.apply(delta)
    assert.deepEqual(state.getStorage(ADDRESS, SLOT(1)), new Uint8Array(), 'a slot read before the clear')
    assert.deepEqual(state.getStorage(ADDRESS, SLOT(2)), new Uint8Array(), 'a slot never read')
    assert.deepEqual(state.getStorage(ADDRESS, SLOT(3)), Uint8Array.of(9), 'a slot written after the clear')
    assert.deepEqual(reads, [SLOT(1)], 'the backend is not asked after the clear')
    // Dropping the cache (a worker starting over from a durable backend) asks the backend again.
    state.clear()
    assert.deepEqual(state.getStorage(ADDRESS, SLOT(2)), Uint8Array.of(7))
  })

  it('behavior: within its byte budget, state not used for a generation is read from the backend again, with the values last applied', () => {
    const durable = new Map<string, bigint>()
    let reads = 0
    const backend = {
      readAccount: (address: string) => {
        reads++
        const balance = durable.get(address)
        return balance === undefined ? undefined : { nonce: 0n, balance, codeHash: KECCAK256_NULL }
      },
      readStorage: () => undefined,
      readCode: () => undefined,
    }
    const budget = 50_000
    const state = new FlatState(backend, { budget })
    const address = (i: number) => i.toString(16).padStart(40, '0')
    let peak = 0
    for (let block = 0; block < 20; block++) {
      // Each block writes 50 accounts, durable first (as the chain writer does), then reads back older ones.
      const delta = createStateDelta()
      for (let i = block * 50; i < block * 50 + 50; i++) {
        durable.set(address(i), BigInt(block))
        delta.accounts.set(address(i), { nonce: 0n, balance: BigInt(block), codeHash: KECCAK256_NULL })
      }
      state.apply(delta)
      peak = Math.max(peak, state.memory().bytes)
      for (let i = 0; i < (block + 1) * 50; i += 7) assert.equal(state.getAccount(address(i))?.balance, BigInt(Math.floor(i / 50)))
      peak = Math.max(peak, state.memory().bytes)
    }
    assert.ok(peak <= budget + 1_000, `estimated bytes ${peak} stay within the budget ${budget} (one entry over at most)`)
    assert.ok(state.memory().accounts < 1_000, `accounts held ${state.memory().accounts} < 1000 written`)
    assert.ok(reads > 0, 'dropped accounts were read from the backend again')
  })
})
