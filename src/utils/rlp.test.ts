import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { createRandom } from './random.ts'
import { type RlpValue, rlpDecodeViews, rlpEncode, rlpListLength, rlpListString, rlpStringLength } from './rlp.ts'

describe('rlp', () => {
  it('behavior: string and list lengths agree with @ethereumjs/rlp at every boundary', () => {
    for (const n of [...Array(300).keys(), 65_535, 65_536, 16_777_216]) {
      const bytes = new Uint8Array(n).fill(0x61)
      assert.equal(rlpStringLength(bytes), RLP.encode(bytes).length, `string of ${n}`)
      // A list of n one-byte items has an n-byte payload.
      if (n < 70_000) assert.equal(rlpListLength(n), RLP.encode(Array.from({ length: n }, () => Uint8Array.of(1))).length, `list of ${n}`)
    }
    for (const byte of [0, 1, 0x7f, 0x80, 0xff]) assert.equal(rlpStringLength(Uint8Array.of(byte)), RLP.encode(Uint8Array.of(byte)).length, `byte ${byte}`)
  })

  it('behavior: encodes random nested values to the same bytes as @ethereumjs/rlp', () => {
    const random = createRandom(11)
    // Sizes around each length boundary: single bytes, 55/56, one and two length bytes.
    const sizes = [0, 1, 1, 2, 54, 55, 56, 57, 255, 256, 300, 70_000]
    const value = (depth: number): RlpValue => {
      if (depth > 3 || random.chance(0.6)) {
        const size = random.pick(sizes)
        return size === 1 ? Uint8Array.of(random.int(256)) : random.bytes(size)
      }
      return Array.from({ length: random.pick([0, 1, 2, 5, 30]) }, () => value(depth + 1))
    }
    for (let i = 0; i < 300; i++) {
      const v = value(0)
      assert.deepEqual(rlpEncode(v), RLP.encode(v as never), `value ${i}`)
    }
  })

  it('behavior: one string of a list without decoding the others, and malformed input refused', () => {
    const random = createRandom(12)
    for (const size of [0, 1, 1, 55, 56, 255, 256, 70_000]) {
      const first = size === 1 ? Uint8Array.of(random.int(256)) : random.bytes(size)
      // A stored block's shape: the RLP, two lists, then the hash.
      const list = RLP.encode([first, [random.bytes(20), random.bytes(20)], Array.from({ length: size % 7 }, () => random.bytes(32)), random.bytes(32)])
      const decoded = RLP.decode(list) as Uint8Array[]
      assert.deepEqual(rlpListString(list, 0), decoded[0], `first item of ${size} bytes`)
      assert.deepEqual(rlpListString(list, 3), decoded[3], `last item after ${size} bytes`)
    }
    const good = RLP.encode([new Uint8Array(100).fill(7), new Uint8Array(3)])
    assert.deepEqual(rlpListString(good, 1), new Uint8Array(3))
    const cases: Record<string, [Uint8Array, number]> = {
      empty: [new Uint8Array(), 0],
      'a string, not a list': [RLP.encode(new Uint8Array(10)), 0],
      'an empty list': [RLP.encode([]), 0],
      'a list first': [RLP.encode([[Uint8Array.of(1)]]), 0],
      'a list at the index': [RLP.encode([Uint8Array.of(1), [Uint8Array.of(2)]]), 1],
      'no such item': [good, 2],
      truncated: [good.subarray(0, good.length - 1), 0],
      'trailing bytes': [Uint8Array.of(...good, 0), 0],
      'a first item past its list': [Uint8Array.of(0xc2, 0x83, 1, 2, 3), 0],
      'an item before the index past its list': [Uint8Array.of(0xc4, 0x01, 0x83, 1, 2), 1],
    }
    for (const [name, [bytes, index]] of Object.entries(cases)) assert.throws(() => rlpListString(bytes, index), name)
  })

  it('behavior: rlpDecodeViews gives what @ethereumjs/rlp decodes, and refuses what it refuses, on random values and on random damage to them', () => {
    const random = createRandom(13)
    const sizes = [0, 1, 1, 2, 55, 56, 57, 300]
    const value = (depth: number): RlpValue => {
      if (depth > 3 || random.chance(0.6)) {
        const size = random.pick(sizes)
        return size === 1 ? Uint8Array.of(random.int(256)) : random.bytes(size)
      }
      return Array.from({ length: random.pick([0, 1, 2, 5]) }, () => value(depth + 1))
    }
    const outcome = (decode: () => unknown) => {
      try {
        return { value: decode() }
      } catch {
        return { refused: true }
      }
    }
    let refused = 0
    for (let i = 0; i < 2_000; i++) {
      const encoded = RLP.encode(value(0) as never)
      const damaged = encoded.slice()
      switch (i % 4) {
        case 1:
          damaged[random.int(damaged.length)] = random.int(256)
          break
        case 2: {
          const at = random.int(damaged.length)
          damaged[at] = damaged[at]! ^ (1 << random.int(8))
          break
        }
        case 3:
          damaged[0] = random.pick([0x81, 0xb8, 0xb9, 0xc1, 0xf8, 0xf9])
      }
      const input = i % 8 === 5 ? damaged.subarray(0, random.int(damaged.length)) : i % 8 === 7 ? Uint8Array.of(...damaged, 0) : damaged
      const ours = outcome(() => rlpDecodeViews(input))
      assert.deepEqual(ours, outcome(() => RLP.decode(input)), `input ${i}: ${Buffer.from(input).toString('hex').slice(0, 80)}`)
      if ('refused' in ours) refused++
    }
    // The damage makes both refuse often: the comparison covers refusals, not only values.
    assert.ok(refused > 300, `${refused} refused`)
  })
})
