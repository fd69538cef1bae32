import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { StateManagerInterface } from '@ethereumjs/common'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import { Account, Address, bytesToHex, KECCAK256_NULL, setLengthLeft } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { FlatState } from './flat-state.ts'
import { JournaledStateManager } from './journaled-state-manager.ts'
import type { AccountRecord } from './types.ts'
import { createRandom } from '../utils/random.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })


const addresses = Array.from({ length: 6 }, (_, i) => new Address(setLengthLeft(Uint8Array.of(i + 1), 20)))
const slots = Array.from({ length: 4 }, (_, i) => setLengthLeft(Uint8Array.of(i), 32))

type Op = (sm: StateManagerInterface) => Promise<void>

/** Random operation sequences with nested checkpoints, as the EVM produces them. */
function randomOps(seed: number, count: number): Op[] {
  const rand = createRandom(seed).next
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!
  const ops: Op[] = []
  let depth = 0
  for (let i = 0; i < count; i++) {
    const r = rand()
    const address = pick(addresses)
    if (r < 0.15) {
      depth++
      ops.push((sm) => sm.checkpoint())
    } else if (r < 0.25 && depth > 0) {
      depth--
      ops.push((sm) => sm.commit())
    } else if (r < 0.33 && depth > 0) {
      depth--
      ops.push((sm) => sm.revert())
    } else if (r < 0.5) {
      const balance = BigInt(Math.floor(rand() * 1000))
      const nonce = BigInt(Math.floor(rand() * 5))
      // As the EVM does: fresh accounts only where none exists, otherwise field updates.
      ops.push(async (sm) => {
        if ((await sm.getAccount(address)) === undefined) await sm.putAccount(address, new Account(nonce, balance))
        else await sm.modifyAccountFields(address, { nonce, balance })
      })
    } else if (r < 0.65) {
      const value = rand() < 0.3 ? new Uint8Array() : Uint8Array.of(0, Math.floor(rand() * 255) + 1)
      const slot = pick(slots)
      ops.push(async (sm) => {
        if ((await sm.getAccount(address)) === undefined) await sm.putAccount(address, new Account())
        await sm.putStorage(address, slot, value)
      })
    } else if (r < 0.72) {
      ops.push(async (sm) => {
        if ((await sm.getAccount(address)) !== undefined) await sm.clearStorage(address)
      })
    } else if (r < 0.8) {
      // MerkleStateManager keeps a deleted account's storage trie cached (a recreated account
      // would see it), so storage is cleared first, as SELFDESTRUCT does.
      ops.push(async (sm) => {
        if ((await sm.getAccount(address)) !== undefined) await sm.clearStorage(address)
        await sm.deleteAccount(address)
      })
    } else if (r < 0.88) {
      const code = Uint8Array.of(0x60, Math.floor(rand() * 255), 0x00)
      ops.push((sm) => sm.putCode(address, code))
    } else {
      const balance = BigInt(Math.floor(rand() * 1000))
      ops.push((sm) => sm.modifyAccountFields(address, { balance }))
    }
  }
  while (depth-- > 0) ops.push((sm) => sm.commit())
  return ops
}

async function snapshot(sm: StateManagerInterface) {
  const out: Record<string, unknown> = {}
  for (const address of addresses) {
    const account = await sm.getAccount(address)
    out[address.toString()] = account === undefined
      ? null
      : {
          nonce: account.nonce,
          balance: account.balance,
          codeHash: bytesToHex(account.codeHash),
          code: bytesToHex(await sm.getCode(address)),
          storage: account === undefined ? [] : await Promise.all(slots.map(async (s) => bytesToHex(await sm.getStorage(address, s)))),
        }
  }
  return out
}

const emptyBase = () =>
  new FlatState({ readAccount: () => undefined, readStorage: () => undefined, readCode: () => undefined })

describe('JournaledStateManager', () => {
  // MerkleStateManager is the reference: its semantics are the trie's, i.e. Ethereum's.
  // (SimpleStateManager is not: it keeps a deleted account's storage.)
  it('behavior: reads equal MerkleStateManager after random checkpointed writes', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const ops = randomOps(seed, 120)
      const ours = new JournaledStateManager(emptyBase())
      const merkle = new MerkleStateManager({ common })
      for (const op of ops) {
        await op(ours)
        await op(merkle)
      }
      const expected = await snapshot(merkle)
      assert.deepEqual(await snapshot(ours), expected, `seed ${seed}: journaled vs merkle`)
    }
  })

  it('behavior: the delta applied to flat state reproduces the same reads', async () => {
    for (let seed = 100; seed < 120; seed++) {
      const ops = randomOps(seed, 150)
      const base = emptyBase()
      const ours = new JournaledStateManager(base)
      for (const op of ops) await op(ours)
      const before = await snapshot(ours)
      base.apply(ours.delta())
      const fresh = new JournaledStateManager(base)
      assert.deepEqual(await snapshot(fresh), before, `seed ${seed}`)
    }
  })

  it('behavior: revert restores overlay over a non-empty base, including cleared storage', async () => {
    const address = addresses[0]!
    const key = address.toString().slice(2)
    const slot = slots[1]!
    const record: AccountRecord = { nonce: 3n, balance: 50n, codeHash: KECCAK256_NULL }
    const base = new FlatState({
      readAccount: (a) => (a === key ? record : undefined),
      readStorage: (a, s) => (a === key && s === bytesToHex(slot).slice(2) ? Uint8Array.of(9) : undefined),
      readCode: () => undefined,
    })
    const sm = new JournaledStateManager(base)
    await sm.checkpoint()
    await sm.clearStorage(address)
    assert.deepEqual(await sm.getStorage(address, slot), new Uint8Array())
    await sm.deleteAccount(address)
    assert.equal(await sm.getAccount(address), undefined)
    await sm.revert()
    assert.deepEqual(await sm.getStorage(address, slot), Uint8Array.of(9))
    assert.equal((await sm.getAccount(address))?.nonce, 3n)
    assert.equal(sm.delta().accounts.size, 0)
    assert.equal(sm.delta().storageCleared.size, 0)
  })

  it('behavior: a deleted then re-created account starts with empty storage', async () => {
    const sm = new JournaledStateManager(emptyBase())
    const address = addresses[2]!
    await sm.putAccount(address, new Account(1n, 1n))
    await sm.putStorage(address, slots[0]!, Uint8Array.of(5))
    await sm.checkpoint()
    await sm.deleteAccount(address)
    await sm.putAccount(address, new Account(0n, 1n))
    await sm.commit()
    assert.deepEqual(await sm.getStorage(address, slots[0]!), new Uint8Array())
  })

  it('behavior: commit and revert without a checkpoint throw', async () => {
    const sm = new JournaledStateManager(emptyBase())
    await assert.rejects(sm.commit())
    await assert.rejects(sm.revert())
  })
})
