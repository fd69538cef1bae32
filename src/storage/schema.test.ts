import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { numberKey, readNumberKey } from './schema.ts'

describe('number keys', () => {
  const values = [0n, 1n, 255n, 256n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]

  it('behavior: 8 bytes, big-endian, read back the same, and byte order is number order', () => {
    const keys = values.map((n) => numberKey(n))
    keys.forEach((key, i) => {
      assert.equal(key.length, 8)
      assert.equal(key.buffer.byteLength, 8, 'a key of its own, not a view into the scratch')
      assert.equal(readNumberKey(key), values[i])
      assert.equal(Buffer.from(key).readBigUInt64BE(0), values[i])
    })
    for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0)
    // Each answer keeps its value: the scratch it was written through is not shared.
    assert.equal(readNumberKey(keys[0]!), 0n)
    assert.equal(numberKey(7).at(-1), 7)
  })

  it('behavior: a key read at an offset (a number after another field) reads its own first 8 bytes; a short one is refused', () => {
    const record = new Uint8Array(20)
    record.set(numberKey(2n ** 40n + 3n), 5)
    assert.equal(readNumberKey(record.subarray(5)), 2n ** 40n + 3n)
    assert.throws(() => readNumberKey(new Uint8Array(7)), RangeError)
  })
})
