/**
 * What a block's state delta changes, as strings to compare: executors may write a value as it
 * was (the sequential executor keeps the callee's untouched account; the parallel one drops such
 * writes), which changes nothing in the state or its roots.
 */
import { bytesToHex } from '@ethereumjs/util'
import type { AccountRecord, StateDelta, StateReader } from '../../src/state/types.ts'

export function accountString(record: AccountRecord | null | undefined): string {
  if (record === null || record === undefined) return 'absent'
  return `nonce=${record.nonce} balance=${record.balance} codeHash=${bytesToHex(record.codeHash)}`
}

/**
 * A delta reduced to what it changes relative to `parent`: writes that leave a value as it was
 * are dropped (the parallel executor pays the fee recipient as a delta and skips a zero fee, the
 * sequential one writes the account either way), as are code blobs the parent already had.
 */
export function normalizeDelta(delta: StateDelta, parent: StateReader): Map<string, string> {
  const out = new Map<string, string>()
  for (const address of delta.storageCleared) {
    // An account absent before has no storage: clearing it changes nothing (the sequential
    // executor writes such clears for touched empty accounts, the parallel one drops them). What
    // the commitment makes of it is checked by the post-state roots.
    if (parent.getAccount(address) === undefined) continue
    out.set(`cleared ${address}`, 'cleared')
  }
  for (const [address, record] of delta.accounts) {
    const value = accountString(record)
    if (value !== accountString(parent.getAccount(address))) out.set(`account ${address}`, value)
  }
  for (const [address, slots] of delta.storage) {
    const cleared = delta.storageCleared.has(address)
    for (const [slot, value] of slots) {
      const before = cleared ? '0x' : bytesToHex(parent.getStorage(address, slot))
      if (bytesToHex(value) !== before) out.set(`storage ${address} ${slot}`, bytesToHex(value))
    }
  }
  for (const hash of delta.code.keys()) if (parent.getCode(hash) === undefined) out.set(`code ${hash}`, 'new')
  return out
}
