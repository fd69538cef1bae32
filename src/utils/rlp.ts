/**
 * RLP encoding into one buffer, for the hot paths of sealing a block (receipts, stored records).
 *
 * `@ethereumjs/rlp`'s `encode` builds every item's encoding as its own array, then copies them
 * into each enclosing list's: a receipt's 256-byte bloom is copied three times. Here the lengths
 * are measured first, then everything is written once. Only bytes and lists of them: numbers are
 * turned into minimal big-endian bytes by the caller, as RLP requires.
 */

/** A value RLP encodes: a byte string, or a list of values. */
export type RlpValue = Uint8Array | readonly RlpValue[]

/** Length of the RLP of a byte string. */
export function rlpStringLength(bytes: Uint8Array): number {
  if (bytes.length === 1 && bytes[0]! < 0x80) return 1
  return prefixLength(bytes.length) + bytes.length
}

/** Length of the RLP of a list whose items' encodings take `payload` bytes. */
export function rlpListLength(payload: number): number {
  return prefixLength(payload) + payload
}

/** The RLP of `value`; the same bytes as `@ethereumjs/rlp`'s `encode` (`rlp.test.ts`). */
export function rlpEncode(value: RlpValue): Uint8Array {
  // Payload lengths of the lists, in the order they are met (depth first).
  const payloads: number[] = []
  const out = new Uint8Array(measure(value, payloads))
  write(value, out, 0, payloads, { next: 0 })
  return out
}

function measure(value: RlpValue, payloads: number[]): number {
  if (value instanceof Uint8Array) return rlpStringLength(value)
  const slot = payloads.length
  payloads.push(0)
  let payload = 0
  for (const item of value) payload += measure(item, payloads)
  payloads[slot] = payload
  return rlpListLength(payload)
}

function write(value: RlpValue, out: Uint8Array, at: number, payloads: readonly number[], cursor: { next: number }): number {
  if (value instanceof Uint8Array) {
    if (value.length === 1 && value[0]! < 0x80) {
      out[at] = value[0]!
      return at + 1
    }
    at = writePrefix(out, at, value.length, 0x80)
    out.set(value, at)
    return at + value.length
  }
  at = writePrefix(out, at, payloads[cursor.next++]!, 0xc0)
  for (const item of value) at = write(item, out, at, payloads, cursor)
  return at
}

/** One byte up to 55 bytes of payload, then one more per byte of the length. */
function prefixLength(payload: number): number {
  return payload < 56 ? 1 : 1 + lengthBytes(payload)
}

function lengthBytes(n: number): number {
  let count = 0
  for (; n > 0; n = Math.floor(n / 256)) count++
  return count
}

function writePrefix(out: Uint8Array, at: number, payload: number, offset: number): number {
  if (payload < 56) {
    out[at] = offset + payload
    return at + 1
  }
  const size = lengthBytes(payload)
  out[at] = offset + 55 + size
  for (let i = size; i > 0; i--, payload = Math.floor(payload / 256)) out[at + i] = payload % 256
  return at + 1 + size
}
