/**
 * Account updates as one byte buffer, the way the pipeline ships a block's changes to each
 * commitment worker: a transferred ArrayBuffer instead of a structured clone of thousands of
 * objects with bigints (which cost the main thread more than the worker's hashing saved).
 *
 * Per update: address (20) ‖ keccak(address) (32) ‖ kind (1: 0 deleted, 1 account, 2 storage
 * only, 3 read only) ‖ cleared (1) ‖ [kind 1: nonce length (1) ‖ nonce ‖ balance length (1) ‖
 * balance ‖ code hash (32)] ‖ slot count (4) ‖ slots: slot (32) ‖ value length (1) ‖ value ‖
 * read-slot count (4) ‖ read slots (32 each).
 */
import { bytesToBigInt, unprefixedHexToBytes } from '@ethereumjs/util'
import type { AccountUpdate } from './engine.ts'
import { unpaddedBytes } from './layout.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export class UpdateWriter {
  private buffer = new Uint8Array(1 << 16)
  private at = 0
  count = 0

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.at + bytes) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buffer.subarray(0, this.at))
    this.buffer = grown
  }

  private bytes(value: Uint8Array): void {
    this.buffer.set(value, this.at)
    this.at += value.length
  }

  private byte(value: number): void {
    this.buffer[this.at++] = value
  }

  write(update: AccountUpdate): void {
    const nonce = update.record ? unpaddedBytes(update.record.nonce) : undefined
    const balance = update.record ? unpaddedBytes(update.record.balance) : undefined
    let size = 20 + 32 + 2 + 8 + (nonce && balance ? 2 + nonce.length + balance.length + 32 : 0) + 32 * update.readSlots.length
    for (const [, value] of update.slots) size += 33 + value.length
    this.reserve(size)
    this.bytes(unprefixedHexToBytes(update.address))
    this.bytes(update.hashedKey)
    this.byte(update.readOnly ? 3 : update.record === null ? 0 : update.record === undefined ? 2 : 1)
    this.byte(update.cleared ? 1 : 0)
    if (update.record && nonce && balance) {
      this.byte(nonce.length)
      this.bytes(nonce)
      this.byte(balance.length)
      this.bytes(balance)
      this.bytes(update.record.codeHash)
    }
    new DataView(this.buffer.buffer).setUint32(this.at, update.slots.length)
    this.at += 4
    for (const [slot, value] of update.slots) {
      this.bytes(unprefixedHexToBytes(slot))
      this.byte(value.length)
      this.bytes(value)
    }
    new DataView(this.buffer.buffer).setUint32(this.at, update.readSlots.length)
    this.at += 4
    for (const slot of update.readSlots) this.bytes(unprefixedHexToBytes(slot))
    this.count++
  }

  /** The written updates, in a buffer of their own (to transfer). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.at)
  }
}

export function readUpdates(bytes: Uint8Array): AccountUpdate[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const updates: AccountUpdate[] = []
  let at = 0
  const take = (n: number) => bytes.subarray(at, (at += n))
  while (at < bytes.length) {
    const address = bytesToUnprefixedHex(take(20))
    const hashedKey = take(32)
    const kind = bytes[at++]!
    const cleared = bytes[at++] === 1
    let record: AccountUpdate['record'] = kind === 0 ? null : undefined
    if (kind === 1) {
      const nonce = bytesToBigInt(take(bytes[at++]!))
      const balance = bytesToBigInt(take(bytes[at++]!))
      record = { nonce, balance, codeHash: take(32) }
    }
    const slotCount = view.getUint32(at)
    at += 4
    const slots: [string, Uint8Array][] = []
    for (let i = 0; i < slotCount; i++) {
      const slot = bytesToUnprefixedHex(take(32))
      slots.push([slot, take(bytes[at++]!)])
    }
    const readCount = view.getUint32(at)
    at += 4
    const readSlots: string[] = []
    for (let i = 0; i < readCount; i++) readSlots.push(bytesToUnprefixedHex(take(32)))
    updates.push({ address, hashedKey, record, cleared, slots, readSlots, readOnly: kind === 3 })
  }
  return updates
}
