/** Composing state deltas: `b` applied after `a` is `mergeDelta(a, b)` (a is updated in place). */
import type { StateDelta } from './types.ts'

export function mergeDelta(target: StateDelta, next: StateDelta): StateDelta {
  for (const address of next.storageCleared) {
    // A wipe hides every slot written before it.
    target.storageCleared.add(address)
    target.storage.delete(address)
  }
  for (const [address, record] of next.accounts) target.accounts.set(address, record)
  for (const [address, slots] of next.storage) {
    let merged = target.storage.get(address)
    if (merged === undefined) {
      merged = new Map()
      target.storage.set(address, merged)
    }
    for (const [slot, value] of slots) merged.set(slot, value)
  }
  for (const [hash, code] of next.code) target.code.set(hash, code)
  return target
}

/** True when the delta changes nothing. */
export function isEmptyDelta(delta: StateDelta): boolean {
  return delta.accounts.size === 0 && delta.storage.size === 0 && delta.storageCleared.size === 0 && delta.code.size === 0
}
