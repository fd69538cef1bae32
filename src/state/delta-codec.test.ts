import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { randomDeltas } from '../../test/commitment/random-states.ts'
import { bigIntToUnpaddedBytes, KECCAK256_NULL } from '@ethereumjs/util'
import { decodeStateDelta, encodeStateDelta } from './delta-codec.ts'
import { createStateDelta } from './types.ts'

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

  it('behavior: the encoding is RLP([version, accounts, storage, cleared, code]) byte for byte, also for a delta of 300,000 accounts (a large genesis)', () => {
    const reference = (delta: ReturnType<typeof decodeStateDelta>) => {
      const sortedEntries = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1))
      const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))
      return RLP.encode([
        Uint8Array.of(1),
        sortedEntries(delta.accounts).map(([a, r]) => (r === null ? [hex(a)] : [hex(a), bigIntToUnpaddedBytes(r.nonce), bigIntToUnpaddedBytes(r.balance), r.codeHash])),
        sortedEntries(delta.storage).map(([a, slots]) => [hex(a), sortedEntries(slots).map(([slot, v]) => [hex(slot), v])]),
        [...delta.storageCleared].sort().map(hex),
        sortedEntries(delta.code).map(([, c]) => c),
      ])
    }
    for (const delta of randomDeltas(5, 30, { accounts: new Map(), storage: new Map() })) assert.deepEqual(encodeStateDelta(delta), reference(delta))
    const large = createStateDelta()
    for (let i = 0; i < 300_000; i++) large.accounts.set(i.toString(16).padStart(40, '0'), { nonce: 0n, balance: BigInt(i), codeHash: KECCAK256_NULL })
    const encoded = encodeStateDelta(large)
    assert.equal(decodeStateDelta(encoded).accounts.size, 300_000)
    assert.throws(() => reference(large), RangeError, 'the reference encoder (one spread per list) overflows the stack here')
  })

  it('behavior: malformed input and unknown versions are refused with an error saying what is wrong', () => {
    assert.throws(() => decodeStateDelta(Uint8Array.of(0xff)), /invalid state delta: malformed RLP/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(2), [], [], [], []])), /unknown version 02/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(1), [[new Uint8Array(19)]], [], [], []])), /an address must be 20 bytes/)
    assert.throws(() => decodeStateDelta(RLP.encode([Uint8Array.of(1), [], [[new Uint8Array(20), [[new Uint8Array(32), Uint8Array.of(0, 1)]]]], [], []])), /without leading zeros/)
  })
})
