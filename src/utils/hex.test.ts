import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bytesToHex as reference } from '@ethereumjs/util'
import { bytesToHex } from './hex.ts'

describe('hex', () => {
  it('behavior: the same string as @ethereumjs/util for every length, views into larger buffers included', () => {
    const backing = randomBytes(1 << 20)
    for (const length of [0, 1, 31, 32, 63, 64, 65, 200, 4096, backing.length - 7]) {
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, length)
      assert.equal(bytesToHex(view), reference(view), `${length} bytes`)
    }
  })
})
