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

/**
 * Item `index` of an RLP list, when it is a byte string, without decoding the others: a stored
 * block's record is [RLP, senders, hashes, hash], and the L1 poster wants only the RLP, a block
 * hash lookup only the hash. Throws on anything malformed it passes over.
 */
export function rlpListString(encoded: Uint8Array, index: number): Uint8Array {
  const list = readPrefix(encoded, 0)
  const end = list.start + list.length
  if (!list.isList || end !== encoded.length) throw new Error('invalid RLP: expected one list')
  let at = list.start
  for (let i = 0; ; i++) {
    if (at >= end) throw new Error(`invalid RLP: the list has no item ${index}`)
    const item = readPrefix(encoded, at)
    if (item.start + item.length > end) throw new Error(`invalid RLP: item ${i} runs past its list`)
    if (i === index) {
      if (item.isList) throw new Error(`invalid RLP: item ${index} is a list`)
      return encoded.subarray(item.start, item.start + item.length)
    }
    at = item.start + item.length
  }
}

/** Where an item's payload starts and how long it is. */
function readPrefix(bytes: Uint8Array, at: number): { isList: boolean; start: number; length: number } {
  const first = bytes[at]
  if (first === undefined) throw new Error('invalid RLP: truncated')
  if (first < 0x80) return { isList: false, start: at, length: 1 }
  const isList = first >= 0xc0
  const short = first - (isList ? 0xc0 : 0x80)
  if (short <= 55) return { isList, start: at + 1, length: short }
  const size = short - 55
  if (at + 1 + size > bytes.length || bytes[at + 1] === 0) throw new Error('invalid RLP: bad length')
  let length = 0
  for (let i = 0; i < size; i++) length = length * 256 + bytes[at + 1 + i]!
  if (length <= 55) throw new Error('invalid RLP: long form for a short payload')
  return { isList, start: at + 1 + size, length }
}

/**
 * The items of the RLP list that fills `encoded` from `at` to its end, without decoding or
 * copying any: where the list's payload starts and where each item starts. Undefined unless
 * everything in it, nested lists included, is encoded as `@ethereumjs/rlp`'s `decode` accepts
 * (lengths in their shortest form, no prefix on a single byte below 0x80, nothing outside the
 * list): a transaction's signing hash is taken from its own bytes this way.
 */
export function rlpListItems(encoded: Uint8Array, at: number): { readonly start: number; readonly items: readonly number[] } | undefined {
  try {
    const list = readPrefix(encoded, at)
    const end = list.start + list.length
    if (!list.isList || end !== encoded.length) return undefined
    const items: number[] = []
    for (let item = list.start; item < end; item = checkedItemEnd(encoded, item, end)) items.push(item)
    return { start: list.start, items }
  } catch {
    return undefined
  }
}

/** The byte string whose item starts at `at` (a view), or undefined when the item is a list. */
export function rlpStringAt(encoded: Uint8Array, at: number): Uint8Array | undefined {
  const item = readPrefix(encoded, at)
  return item.isList ? undefined : encoded.subarray(item.start, item.start + item.length)
}

/** The prefix of a list whose items' encodings take `payload` bytes. */
export function rlpListPrefix(payload: number): Uint8Array {
  const out = new Uint8Array(prefixLength(payload))
  writePrefix(out, 0, payload, 0xc0)
  return out
}

/** A decoded RLP value whose byte strings are views into the encoded bytes (`rlpDecodeViews`). */
export type RlpDecoded = Uint8Array | RlpDecoded[]

/**
 * Decode `encoded`, exactly one item, refusing (throwing) what `@ethereumjs/rlp`'s `decode`
 * refuses, and giving what it gives, except that byte strings are views into `encoded`
 * (`subarray`) instead of copies: for bytes nobody changes afterwards, such as a raw transaction
 * being admitted, whose dozen fields `decode` copied one allocation each.
 */
export function rlpDecodeViews(encoded: Uint8Array): RlpDecoded {
  if (encoded.length === 0) return new Uint8Array()
  const decoded: RlpDecoded[] = []
  if (checkedItemEnd(encoded, 0, encoded.length, decoded) !== encoded.length) throw new Error('invalid RLP: bytes after the item')
  return decoded[0]!
}

/**
 * Where the item at `at` ends, each item inside it checked too; throws past `limit` or on an
 * encoding `decode` refuses. With `into`, the item is decoded there (byte strings as views).
 */
function checkedItemEnd(bytes: Uint8Array, at: number, limit: number, into?: RlpDecoded[]): number {
  const item = readPrefix(bytes, at)
  const end = item.start + item.length
  if (end > limit) throw new Error('invalid RLP: an item runs past its list')
  if (item.isList) {
    const items: RlpDecoded[] | undefined = into === undefined ? undefined : []
    for (let inner = item.start; inner < end; ) inner = checkedItemEnd(bytes, inner, end, items)
    if (items !== undefined) into!.push(items)
    return end
  }
  if (item.length === 1 && item.start === at + 1 && bytes[item.start]! < 0x80) throw new Error('invalid RLP: a single byte below 0x80 is not prefixed')
  into?.push(bytes.subarray(item.start, end))
  return end
}
