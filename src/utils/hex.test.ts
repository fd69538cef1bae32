import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bytesToHex as reference, bytesToUnprefixedHex as referenceUnprefixed, hexToBytes as referenceHexToBytes } from '@ethereumjs/util'
import { bytesToHex, bytesToUnprefixedHex, checkedHexToBytes, hexToBytesIfValid } from './hex.ts'

describe('hex', () => {
  it('behavior: the same string as @ethereumjs/util for every length, views into larger buffers included', () => {
    const backing = randomBytes(1 << 20)
    for (const length of [0, 1, 19, 20, 31, 32, 33, 63, 64, 65, 200, 4096, backing.length - 7]) {
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, length)
      assert.equal(bytesToHex(view), reference(view), `${length} bytes`)
      assert.equal(bytesToUnprefixedHex(view), referenceUnprefixed(view), `${length} bytes, unprefixed`)
    }
    // Arrays of their own, small ones on V8's heap (copied, not viewed: see ON_HEAP_MAX).
    for (const length of [1, 20, 32, 64, 65, 100]) {
      const own = Uint8Array.from(randomBytes(length))
      assert.equal(bytesToHex(own), reference(own), `${length} bytes of its own`)
      assert.equal(bytesToUnprefixedHex(own.subarray(1)), referenceUnprefixed(own.subarray(1)), `${length - 1} bytes, a view into ${length}`)
    }
    // Every byte value, so that no digit is left to a random draw.
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    assert.equal(bytesToHex(all), reference(all))
    assert.equal(bytesToUnprefixedHex(all), referenceUnprefixed(all))
  })

  it('behavior: checkedHexToBytes gives the bytes @ethereumjs/util does, in either case, each answer in a buffer of its own', () => {
    for (const length of [0, 1, 31, 32, 63, 64, 65, 200, 4096]) {
      const bytes = randomBytes(length)
      for (const hex of [reference(bytes), `0x${Buffer.from(bytes).toString('hex').toUpperCase()}`]) {
        const decoded = checkedHexToBytes(hex)
        assert.deepEqual(decoded, referenceHexToBytes(reference(bytes)), `${length} bytes`)
        assert.equal(decoded.buffer.byteLength, length, `${length} bytes: not a view into a shared pool`)
      }
    }
  })

  it('behavior: hexToBytesIfValid decodes whole bytes of hex and refuses anything else, wherever the flaw is', () => {
    for (const length of [0, 1, 32, 64, 65, 4096]) {
      const bytes = randomBytes(length)
      for (const hex of [reference(bytes), `0x${Buffer.from(bytes).toString('hex').toUpperCase()}`]) assert.deepEqual(hexToBytesIfValid(hex), referenceHexToBytes(reference(bytes)), `${length} bytes`)
      if (length === 0) continue
      const good = reference(bytes)
      // A character that is not a hex digit at the start, in the middle and at the end, in either
      // half of a pair: the native decoder stops there, and the count it wrote says so.
      const positions = [2, 3, Math.floor(good.length / 2), good.length - 2, good.length - 1]
      for (const at of positions) {
        for (const flaw of ['g', 'x', ' ', '-']) {
          const bad = good.slice(0, at) + flaw + good.slice(at + 1)
          assert.equal(hexToBytesIfValid(bad), undefined, `${length} bytes, ${JSON.stringify(flaw)} at ${at}`)
        }
      }
      assert.equal(hexToBytesIfValid(good.slice(0, -1)), undefined, `${length} bytes, a half byte short`)
      assert.equal(hexToBytesIfValid(good.slice(2)), undefined, `${length} bytes, without 0x`)
      assert.equal(hexToBytesIfValid(`0X${good.slice(2)}`), undefined, `${length} bytes, 0X`)
    }
  })
})
