import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import {
  createAccessList2930Tx,
  createEOACode7702Tx,
  createFeeMarket1559Tx,
  createLegacyTx,
  createTxFromRLP,
  type TypedTransaction,
} from '@ethereumjs/tx'
import { bigIntToUnpaddedBytes, bytesToHex } from '@ethereumjs/util'
import { createChainCommon, txCommonFor } from '../chain/common.ts'
import { ecrecover, keccak256 } from '../crypto/crypto.ts'
import { createRandom } from '../utils/random.ts'
import { senderKeyFromRlp, signatureFromRlp } from '../chain/transaction.ts'
import { rlpListPrefix } from '../utils/rlp.ts'
import { createSenderRecovery } from './parallel/sender-recovery.ts'
import { recoverSendersWith } from './recover-senders.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const txCommon = txCommonFor(common)
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

/** What ethereumjs makes of the bytes: the public key, or its error message. */
function reference(raw: Uint8Array): Uint8Array | string {
  try {
    return createTxFromRLP(raw, { common: txCommon }).getSenderPublicKey()
  } catch (error) {
    return (error as Error).message
  }
}

/** Signed transactions of every type this path takes, with random fields of every size. */
function signedTransactions(count: number): TypedTransaction[] {
  const random = createRandom(21)
  const out: TypedTransaction[] = []
  for (let i = 0; i < count; i++) {
    const key = keccak256(Uint8Array.of(i, 1))
    const base = {
      nonce: BigInt(random.pick([0, 1, 127, 128, 2 ** 20, 2 ** 40])),
      gasLimit: BigInt(random.range(21_000, 30_000_000)),
      ...(random.chance(0.1) ? {} : { to: bytesToHex(random.bytes(20)) }),
      value: random.bigint(random.pick([0, 8, 64, 200])),
      data: random.bytes(random.pick([0, 1, 55, 56, 300, 5000])),
    }
    const accessList = Array.from({ length: random.pick([0, 1, 3]) }, () => ({
      address: bytesToHex(random.bytes(20)),
      storageKeys: Array.from({ length: random.int(3) }, () => bytesToHex(random.bytes(32))),
    }))
    const fees = { maxFeePerGas: random.bigint(40), maxPriorityFeePerGas: random.bigint(30) }
    switch (i % 5) {
      case 0:
        out.push(createLegacyTx({ ...base, gasPrice: random.bigint(40) }, { common }).sign(key))
        break
      case 1: {
        // Before EIP-155: v is 27 or 28, no chain id.
        const unprotected = createLegacyTx({ ...base, gasPrice: random.bigint(40), v: 27n }, { common })
        out.push(unprotected.sign(key))
        break
      }
      case 2:
        out.push(createAccessList2930Tx({ ...base, gasPrice: random.bigint(40), accessList, chainId: 901n }, { common }).sign(key))
        break
      case 3:
        out.push(createFeeMarket1559Tx({ ...base, ...fees, accessList, chainId: 901n }, { common }).sign(key))
        break
      default: {
        const authorizationList = Array.from({ length: random.range(1, 3) }, () => ({
          chainId: bytesToHex(bigIntToUnpaddedBytes(901n)),
          address: bytesToHex(random.bytes(20)),
          nonce: '0x01',
          yParity: '0x01',
          r: bytesToHex(random.bytes(32)),
          s: bytesToHex(random.bytes(31)),
        })) as never
        out.push(createEOACode7702Tx({ ...base, to: bytesToHex(random.bytes(20)), ...fees, accessList, authorizationList, chainId: 901n }, { common }).sign(key))
      }
    }
  }
  return out
}

/** The same transaction with s replaced by n - s and the parity flipped: the same signer, but refused (EIP-2). */
function withHighS(tx: TypedTransaction): Uint8Array {
  const typed = tx.type !== 0
  const fields = RLP.decode(typed ? tx.serialize().subarray(1) : tx.serialize()) as Uint8Array[]
  const v = fields.at(-3)!
  const flipped = typed ? (v.length === 0 ? Uint8Array.of(1) : new Uint8Array()) : Uint8Array.of(v[v.length - 1]! ^ 1)
  fields.splice(-3, 3, flipped, fields.at(-2)!, bigIntToUnpaddedBytes(N - tx.s!))
  const body = RLP.encode(fields)
  return typed ? Uint8Array.of(tx.type, ...body) : body
}

describe('sender recovery from the RLP (senderKeyFromRlp)', () => {
  it('behavior: the same public key as ethereumjs for every transaction type, with and without EIP-155', () => {
    const transactions = signedTransactions(200)
    const raws = transactions.map((tx) => tx.serialize())
    raws.forEach((raw, i) => {
      const fast = senderKeyFromRlp(raw, 901n)
      assert.ok(fast !== undefined, `tx ${i} (type ${transactions[i]!.type}) took the fast path`)
      assert.deepEqual(fast, reference(raw), `tx ${i} (type ${transactions[i]!.type})`)
    })
    assert.deepEqual(recoverSendersWith(txCommon, raws), raws.map(reference))
  })

  it('behavior: what the fast path does not take gets ethereumjs\' answer, error message included', () => {
    const cases = notTaken()
    for (const [name, raw] of Object.entries(cases)) {
      assert.equal(senderKeyFromRlp(raw, 901n), undefined, `${name}: not taken`)
      assert.deepEqual(recoverSendersWith(txCommon, [raw]), [reference(raw)], name)
    }
    // Negative control: the high-s twin's signature does recover the same signer, so only the
    // EIP-2 check keeps the fast path from accepting it.
    const [, , , feeMarket] = signedTransactions(4)
    const signer = feeMarket!.getSenderPublicKey()
    const twin = RLP.decode(cases['high s (1559)']!.subarray(1)) as Uint8Array[]
    const message = keccak256(Uint8Array.of(2, ...RLP.encode(twin.slice(0, -3))))
    assert.deepEqual(ecrecover(message, twin.at(-3)!.length === 0 ? 0n : 1n, twin.at(-2)!, twin.at(-1)!), signer)
    assert.match(String(reference(cases['high s (1559)']!)), /s-values greater than secp256k1n\/2/)
  })

  it('behavior: the EIP-2 bound on s is n / 2 itself: taken at n / 2 and below, whatever its length, refused above', () => {
    const [legacy, , , feeMarket] = signedTransactions(4)
    const withS = (tx: TypedTransaction, s: bigint) => {
      const typed = tx.type !== 0
      const fields = RLP.decode(typed ? tx.serialize().subarray(1) : tx.serialize()) as Uint8Array[]
      fields.splice(-1, 1, bigIntToUnpaddedBytes(s))
      const body = RLP.encode(fields)
      return typed ? Uint8Array.of(tx.type, ...body) : body
    }
    const half = N / 2n
    for (const tx of [legacy!, feeMarket!]) {
      for (const s of [half, half - 1n, (1n << 248n) - 1n, 1n]) assert.ok(signatureFromRlp(withS(tx, s), 901n) !== undefined, `type ${tx.type}, s = ${s.toString(16)} taken`)
      for (const s of [half + 1n, half + (1n << 128n), N - 1n]) assert.equal(signatureFromRlp(withS(tx, s), 901n), undefined, `type ${tx.type}, s = ${s.toString(16)} refused`)
    }
  })
})

/** Serialized transactions the fast path does not take, each for its own reason. */
function notTaken(): Record<string, Uint8Array> {
  const [legacy, , accessList, feeMarket] = signedTransactions(4)
  const otherChain = createLegacyTx({ nonce: 1n, gasLimit: 21_000n, gasPrice: 1n, to: `0x${'11'.repeat(20)}` }, { common: createChainCommon({ chainId: 5, hardfork: 'prague' }) }).sign(keccak256(Uint8Array.of(3)))
  const unsigned = RLP.encode(RLP.decode(legacy!.serialize()).slice(0, 6) as Uint8Array[])
  return {
    'high s (legacy)': withHighS(legacy!),
    'high s (2930)': withHighS(accessList!),
    'high s (1559)': withHighS(feeMarket!),
    'another chain': otherChain.serialize(),
    unsigned,
    'a blob envelope': Uint8Array.of(3, ...RLP.encode([])),
    'r past the curve order': Uint8Array.of(2, ...RLP.encode([...(RLP.decode(feeMarket!.serialize().subarray(1)) as Uint8Array[]).slice(0, -2), bigIntToUnpaddedBytes(N + 1n), bigIntToUnpaddedBytes(1n)])),
    'not RLP': Uint8Array.of(2, 0xff, 0xff),
    empty: new Uint8Array(),
    ...malformed(feeMarket!),
  }
}

/**
 * A signed EIP-1559 transaction re-encoded in ways `@ethereumjs/rlp` refuses to decode, each
 * field's bytes kept: the fast path, which reads the fields in place, must refuse them too.
 */
function malformed(tx: TypedTransaction): Record<string, Uint8Array> {
  const raw = tx.serialize()
  const fields = RLP.decode(raw.subarray(1)) as (Uint8Array | Uint8Array[][])[]
  const encoded = fields.map((field) => RLP.encode(field as never))
  const envelope = (items: Uint8Array[]) => Uint8Array.of(2, ...rlpListPrefix(items.reduce((sum, item) => sum + item.length, 0)), ...items.flatMap((item) => [...item]))
  const replaced = (index: number, item: Uint8Array) => envelope(encoded.map((e, i) => (i === index ? item : e)))
  const address = (fields[5] as Uint8Array)
  return {
    'a prefixed single byte (nonce 0x05 as 0x81 0x05)': replaced(1, Uint8Array.of(0x81, 0x05)),
    'a long form for a short string (to)': replaced(5, Uint8Array.of(0xb8, 20, ...address)),
    'a length with a leading zero (to)': replaced(5, Uint8Array.of(0xb9, 0, 20, ...address)),
    'a long form inside the access list': replaced(8, Uint8Array.of(...rlpListPrefix(24), ...rlpListPrefix(23), 0xb8, 20, ...address, 0xc0)),
    'v as a list': replaced(9, Uint8Array.of(0xc1, 0x01)),
    'a byte after the list': Uint8Array.of(...raw, 0),
    'a truncated list': raw.subarray(0, raw.length - 1),
  }
}

describe('sender recovery on the libsecp256k1-only worker (createSenderRecovery)', () => {
  const recovery = createSenderRecovery({ common, threads: 2 })
  after(() => recovery.close())

  it('behavior: the same public keys and error messages as ethereumjs, for every type and for what the fast path does not take, in order', async () => {
    const cases = notTaken()
    // A valid envelope whose signature names no key: no curve point has x = r = 5.
    const feeMarket = RLP.decode(signedTransactions(4)[3]!.serialize().subarray(1)) as Uint8Array[]
    const noKey = Uint8Array.of(2, ...RLP.encode([...feeMarket.slice(0, -2), bigIntToUnpaddedBytes(5n), feeMarket.at(-1)!]))
    assert.ok(signatureFromRlp(noKey, 901n) !== undefined, 'the fast path takes it: the worker finds no key')
    const raws = [...signedTransactions(60).map((tx) => tx.serialize()), ...Object.values(cases), noKey]
    // Shuffled, so that what the worker answers and what this thread answers interleave.
    const random = createRandom(5)
    const order = raws.map((_, i) => i).sort(() => random.int(3) - 1)
    const shuffled = order.map((i) => raws[i]!)
    const answers = await recovery.senders.recoverMany(shuffled)
    assert.deepEqual(answers, shuffled.map(reference))
    assert.match(String(answers[order.indexOf(raws.length - 1)]), /^Invalid Signature/)
    // Single requests, as RPC calls make them: the same answers.
    assert.deepEqual(await Promise.all(shuffled.slice(0, 10).map((raw) => recovery.senders.recover(raw).catch((error: Error) => error.message))), shuffled.slice(0, 10).map(reference))
  })

  it('negative control: a request with another recovery id recovers another key, so the comparison above can fail', async () => {
    const raw = signedTransactions(4)[3]!.serialize()
    const toRecover = signatureFromRlp(raw, 901n)!
    const right = ecrecover(toRecover.hash, BigInt(toRecover.recovery), toRecover.signature.subarray(0, 32), toRecover.signature.subarray(32))
    const wrong = ecrecover(toRecover.hash, BigInt(1 - toRecover.recovery), toRecover.signature.subarray(0, 32), toRecover.signature.subarray(32))
    assert.deepEqual(right, reference(raw))
    assert.notDeepEqual(wrong, right)
  })
})
