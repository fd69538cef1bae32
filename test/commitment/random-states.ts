/**
 * Random state changes for commitment tests: blocks of account creation, update and deletion,
 * slots set, deleted and wiped, and new code, with the whole state they lead to kept alongside.
 */
import { bytesToHex, KECCAK256_NULL, setLengthLeft } from '@ethereumjs/util'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { type AccountRecord, createStateDelta, type StateDelta } from '../../src/state/types.ts'
import { createRandom } from '../../src/utils/random.ts'

export type FullState = { accounts: Map<string, AccountRecord>; storage: Map<string, Map<string, Uint8Array>> }

/** `blocks` random deltas over 40 addresses; `state` is updated to the state after each one as it is yielded. */
export function* randomDeltas(seed: number, blocks: number, state: FullState): Generator<StateDelta> {
  const random = createRandom(seed)
  const addresses = Array.from({ length: 40 }, (_, i) => bytesToHex(keccak256(Uint8Array.of(seed, i)).subarray(12)).slice(2))
  const slotKey = () => bytesToHex(setLengthLeft(Uint8Array.of(random.int(12)), 32)).slice(2)
  for (let b = 0; b < blocks; b++) {
    const delta = createStateDelta()
    for (let op = random.range(1, 12); op > 0; op--) {
      const address = addresses[random.int(addresses.length)]!
      const exists = delta.accounts.has(address) ? delta.accounts.get(address) !== null : state.accounts.has(address)
      const roll = random.int(10)
      if (roll < 4 || !exists) {
        const code = random.int(4) === 0 ? random.bytes(random.range(1, 60)) : undefined
        const codeHash = code === undefined ? (state.accounts.get(address)?.codeHash ?? KECCAK256_NULL) : keccak256(code)
        if (code !== undefined) delta.code.set(bytesToHex(codeHash).slice(2), code)
        delta.accounts.set(address, { nonce: BigInt(random.int(5)), balance: BigInt(random.int(1_000_000)) * 10n ** 12n, codeHash })
      } else if (roll < 5) {
        // As the executor reports it: a deleted account's storage is wiped (and stays wiped if
        // the account is created again later in the block).
        delta.accounts.set(address, null)
        delta.storageCleared.add(address)
        delta.storage.delete(address)
      } else if (roll < 6) {
        delta.storageCleared.add(address)
        delta.storage.delete(address)
      } else {
        let slots = delta.storage.get(address)
        if (slots === undefined) delta.storage.set(address, (slots = new Map()))
        slots.set(slotKey(), random.int(4) === 0 ? new Uint8Array() : random.bytes(random.range(1, 32)).map((x, i) => (i === 0 && x === 0 ? 1 : x)))
      }
    }
    // The reference state: the delta applied to the whole state.
    for (const address of delta.storageCleared) state.storage.delete(address)
    for (const [address, record] of delta.accounts) {
      if (record === null) {
        state.accounts.delete(address)
        state.storage.delete(address)
      } else state.accounts.set(address, record)
    }
    for (const [address, slots] of delta.storage) {
      if (!state.accounts.has(address)) state.accounts.set(address, { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL })
      let stored = state.storage.get(address)
      if (stored === undefined) state.storage.set(address, (stored = new Map()))
      for (const [slot, value] of slots) {
        if (value.length === 0) stored.delete(slot)
        else stored.set(slot, value)
      }
    }
    yield delta
  }
}

export function asDelta(state: FullState): StateDelta {
  const delta = createStateDelta()
  for (const [address, record] of state.accounts) delta.accounts.set(address, record)
  for (const [address, slots] of state.storage) delta.storage.set(address, new Map(slots))
  return delta
}
