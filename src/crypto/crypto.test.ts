import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { ecrecover as jsEcrecover } from '@ethereumjs/util'
import { keccak256 as jsKeccak256 } from 'ethereum-cryptography/keccak'
import { secp256k1 } from 'ethereum-cryptography/secp256k1'
import { ecrecover, keccak256 } from './crypto.ts'

describe('crypto', () => {
  it('behavior: keccak256 equals pure-JS keccak on random inputs of many lengths', () => {
    for (let i = 0; i < 500; i++) {
      const data = randomBytes(i % 300)
      assert.deepEqual(keccak256(data), jsKeccak256(data))
    }
    // Arrays of their own, of every length around the copied ones (64 bytes or less), a long one
    // before each short one: nothing of an earlier input is left in what a later one hashes.
    for (let length = 0; length <= 130; length++) {
      const long = Uint8Array.from(randomBytes(64))
      const own = Uint8Array.from(randomBytes(length))
      assert.deepEqual(keccak256(long), jsKeccak256(long))
      assert.deepEqual(keccak256(own), jsKeccak256(own), `${length} bytes`)
      assert.deepEqual(keccak256(own.subarray(1)), jsKeccak256(own.subarray(1)), `${length - 1} bytes at an offset`)
    }
  })

  it('behavior: ecrecover equals pure-JS ecrecover on random keys, messages and chain ids', () => {
    for (let i = 0; i < 100; i++) {
      const privateKey = secp256k1.utils.randomPrivateKey()
      const msgHash = randomBytes(32)
      const sig = secp256k1.sign(msgHash, privateKey)
      const recovery = BigInt(sig.recovery)
      const compact = sig.toCompactRawBytes()
      const r = compact.subarray(0, 32)
      const s = compact.subarray(32, 64)
      const chainId = BigInt(1 + (i % 50000))
      const variants: [bigint, bigint | undefined][] = [
        [recovery, undefined], // typed txs: v is the y-parity
        [recovery + 27n, undefined], // pre-EIP-155 legacy
        [recovery + chainId * 2n + 35n, chainId], // EIP-155 legacy
      ]
      for (const [v, id] of variants) {
        assert.deepEqual(ecrecover(msgHash, v, r, s, id), jsEcrecover(msgHash, v, r, s, id))
      }
      // the public key really is the signer's
      assert.deepEqual(ecrecover(msgHash, recovery, r, s), secp256k1.getPublicKey(privateKey, false).subarray(1))
    }
  })

  it('behavior: ecrecover rejects an invalid v like the pure-JS version', () => {
    const r = randomBytes(32)
    const s = randomBytes(32)
    assert.throws(() => ecrecover(randomBytes(32), 5n, r, s, 1n))
    assert.throws(() => jsEcrecover(randomBytes(32), 5n, r, s, 1n))
  })
})
