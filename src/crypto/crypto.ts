/**
 * Fast crypto for ethereumjs, plugged in through `Common`'s `customCrypto`
 * (see MISSION.md: native secp256k1 recovery ~0.08 ms vs ~2.9 ms pure JS; hash-wasm keccak
 * ~1.4 µs vs ~11 µs pure JS). Both agree byte for byte with the pure-JS implementations; the
 * differential test is `crypto.test.ts`.
 */
import type { CustomCrypto } from '@ethereumjs/common'
import { createKeccak } from 'hash-wasm'
import secp256k1 from 'secp256k1'
import { ON_HEAP_MAX } from '../utils/hex.ts'

// hash-wasm hashers are created asynchronously once (WASM instantiation), then used
// synchronously: init/update/digest run without awaiting anything.
const hasher = await createKeccak(256)

/**
 * Where a small input is copied before hash-wasm reads it: hash-wasm views every input through
 * its `.buffer`, and reading the `.buffer` of an array V8 keeps on its heap (addresses, slots, a
 * 64-byte public key or mapping key) moves its bytes to a `malloc`'d backing store for good (see
 * `ON_HEAP_MAX` in `utils/hex.ts`). This one is off the heap from the start (an ArrayBuffer of
 * its own), so a view of it costs nothing.
 */
const stage = new Uint8Array(new ArrayBuffer(ON_HEAP_MAX))

/** keccak-256 (the Ethereum variant, not NIST SHA3) of `data`. */
export function keccak256(data: Uint8Array): Uint8Array {
  hasher.init()
  if (data.length <= ON_HEAP_MAX) {
    stage.set(data)
    hasher.update(stage.subarray(0, data.length))
  } else hasher.update(data)
  return hasher.digest('binary')
}

const BIGINT_27 = 27n
const BIGINT_35 = 35n

/** EIP-155 / typed-tx recovery id from `v` (the same rule as `@ethereumjs/util`'s `ecrecover`). */
function recoveryId(v: bigint, chainId: bigint | undefined): number {
  let recovery: bigint
  if (v === 0n || v === 1n) recovery = v
  else if (chainId === undefined) recovery = v - BIGINT_27
  else recovery = v - (chainId * 2n + BIGINT_35)
  if (recovery !== 0n && recovery !== 1n) throw new Error('Invalid signature v value')
  return Number(recovery)
}

function leftPad32(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 32) return bytes
  if (bytes.length > 32) throw new Error('Invalid signature: r or s longer than 32 bytes')
  const out = new Uint8Array(32)
  out.set(bytes, 32 - bytes.length)
  return out
}

/**
 * Recover the 64-byte uncompressed public key (without the 0x04 prefix) from a signature,
 * as `@ethereumjs/util`'s `ecrecover` does, with libsecp256k1. Throws on an invalid signature.
 */
export function ecrecover(
  msgHash: Uint8Array,
  v: bigint,
  r: Uint8Array,
  s: Uint8Array,
  chainId?: bigint,
): Uint8Array {
  return recoverPublicKey(msgHash, compactSignature(r, s), recoveryId(v, chainId))
}

/** r ‖ s, each left-padded to 32 bytes: the 64-byte signature libsecp256k1 takes. */
export function compactSignature(r: Uint8Array, s: Uint8Array): Uint8Array {
  const signature = new Uint8Array(64)
  signature.set(leftPad32(r), 0)
  signature.set(leftPad32(s), 32)
  return signature
}

/**
 * The 64-byte public key (without the 0x04 prefix) that signed `msgHash` with the 64-byte
 * `signature` (r ‖ s) and recovery id 0 or 1. Throws when the signature names no key.
 * (`execution/ecrecover-worker.mjs` makes the same call on its thread.)
 */
export function recoverPublicKey(msgHash: Uint8Array, signature: Uint8Array, recovery: number): Uint8Array {
  return secp256k1.ecdsaRecover(signature, recovery, msgHash, false).subarray(1)
}

/** The `customCrypto` every `Common` in mosaic is created with. */
export const customCrypto: CustomCrypto = { keccak256, ecrecover }
