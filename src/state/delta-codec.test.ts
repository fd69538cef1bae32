import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { randomDeltas } from '../../test/commitment/random-states.ts'
import { decodeStateDelta, encodeStateDelta } from './delta-codec.ts'

describe('state delta codec', () => {
  it('behavior: every generated delta decodes to itself, and one delta has one encoding', () => {
    let count = 0
    for (const delta of randomDeltas(3, 60, { accounts: new Map(), storage: new Map() })) {
      const encoded = encodeStateDelta(delta)
      const decoded = decodeStateDelta(encoded)
      assert.deepEqual(decoded, delta)
      assert.deepEqual(encodeStateDelta(decoded), encoded)
      count++
    }
    assert.equal(count, 60)
  })

  it('behavior: malformed input and unknown versions are refused with an error saying what is wrong', () => {
    assert.throws(() => decodeStateDelta(Uint8Array.of(0xff)), /invalid state delta: malformed RLP/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(2), [], [], [], []])), /unknown version 02/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(1), [[new Uint8Array(19)]], [], [], []])), /an address must be 20 bytes/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(1), [], [[new Uint8Array(20), [[new Uint8Array(32), Uint8Array.of(0, 1)]]]], [], []])), /without leading zeros/)
  })
})
