import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bytesToHex as reference, bytesToUnprefixedHex as referenceUnprefixed, hexToBytes as referenceHexToBytes } from '@ethereumjs/util'
import { bytesToHex, bytesToUnprefixedHex, checkedHexToBytes } from './hex.ts'

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
})
