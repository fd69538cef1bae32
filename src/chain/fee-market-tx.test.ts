import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { create1559FeeMarketTxFromBytesArray, createFeeMarket1559Tx, type FeeMarket1559Tx } from '@ethereumjs/tx'
import { Address, bigIntToUnpaddedBytes, MAX_UINT64, SECP256K1_ORDER } from '@ethereumjs/util'
import { createRandom } from '../utils/random.ts'
import { rlpDecodeViews } from '../utils/rlp.ts'
import { createChainCommon, txCommonFor } from './common.ts'
import { feeMarketTxFromFields } from './fee-market-tx.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const txCommon = txCommonFor(common)
const options = () => ({ common: txCommon, freeze: false as const })

/** A signed EIP-1559 transaction's fields, as the mempool decodes them (views into its bytes). */
function signedFields(random: ReturnType<typeof createRandom>, overrides: Record<string, unknown> = {}): Uint8Array[] {
  const big = (bytes: number) => (bytes === 0 ? 0n : BigInt(`0x${Buffer.from(random.bytes(bytes)).toString('hex')}`))
  const tx = createFeeMarket1559Tx(
    {
      chainId: 901n,
      nonce: random.range(0, 3) === 0 ? 0n : big(random.range(1, 7)),
      maxPriorityFeePerGas: big(random.range(0, 4)),
      maxFeePerGas: 10n ** 12n + big(random.range(1, 6)),
      gasLimit: 21_000n + big(random.range(0, 2)),
      to: new Address(random.bytes(20)),
      value: random.range(0, 2) === 0 ? 0n : big(random.range(1, 32)),
      data: random.bytes(random.range(0, 3) === 0 ? 0 : random.range(1, 200)),
      ...overrides,
    },
    { common: txCommon },
  ).sign(random.bytes(32).fill(7, 0, 1))
  return rlpDecodeViews(tx.serialize().subarray(1)) as Uint8Array[]
}

/** The same object: the same class, the same properties in the same order, the same values. */
function assertSameTx(actual: FeeMarket1559Tx, expected: FeeMarket1559Tx): void {
  assert.equal(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected))
  assert.deepEqual(Object.keys(actual), Object.keys(expected))
  const a = actual as unknown as Record<string, unknown>
  const e = expected as unknown as Record<string, unknown>
  for (const key of Object.keys(expected)) {
    if (key === 'common') assert.equal(a[key], e[key])
    else if (e[key] instanceof Address) assert.deepEqual((a[key] as Address).bytes, (e[key] as Address).bytes, key)
    else if (e[key] instanceof Uint8Array) {
      assert.equal((a[key] as Uint8Array).constructor, Uint8Array, key)
      assert.deepEqual(a[key], e[key], key)
    } else assert.deepEqual(a[key], e[key], key)
  }
  // And what is computed from them.
  assert.deepEqual(actual.hash(), expected.hash())
  assert.deepEqual(actual.serialize(), expected.serialize())
  assert.deepEqual(actual.toJSON(), expected.toJSON())
  assert.equal(actual.getIntrinsicGas(), expected.getIntrinsicGas())
  assert.equal(actual.getUpfrontCost(7n), expected.getUpfrontCost(7n))
  assert.deepEqual(actual.getSenderAddress().bytes, expected.getSenderAddress().bytes)
  assert.deepEqual(actual.getValidationErrors(), expected.getValidationErrors())
}

describe('feeMarketTxFromFields', () => {
  it("behavior: builds what ethereumjs' constructor builds, over 300 generated transactions", () => {
    const random = createRandom(11)
    for (let i = 0; i < 300; i++) {
      const fields = signedFields(random)
      const built = feeMarketTxFromFields(fields, options())
      assert.ok(built !== undefined, `transaction ${i} declined`)
      assertSameTx(built, create1559FeeMarketTxFromBytesArray(fields as never, options()))
      assert.ok(!Object.isFrozen(built))
    }
  })

  it('behavior: copies `to` and `data` out of the bytes it was decoded from, as ethereumjs does', () => {
    const fields = signedFields(createRandom(3))
    const built = feeMarketTxFromFields(fields, options())!
    fields[5]!.fill(0)
    fields[7]!.fill(0)
    assert.notDeepEqual(built.to!.bytes, new Uint8Array(20))
    assert.notEqual(built.data.buffer, fields[7]!.buffer)
  })

  it('behavior: declines each unusual transaction, which ethereumjs then takes or refuses with its own message', () => {
    const random = createRandom(5)
    const withField = (index: number, value: Uint8Array | Uint8Array[][]) => {
      const fields: (Uint8Array | Uint8Array[][])[] = signedFields(random)
      fields[index] = value
      return fields
    }
    const leadingZero = (index: number) => {
      const fields = signedFields(random)
      return withField(index, Uint8Array.of(0, ...(fields[index]!.length > 0 ? fields[index]! : [1])))
    }
    const cases: [string, (Uint8Array | Uint8Array[][])[]][] = [
      ['a contract creation', signedFields(random, { to: undefined })],
      ['an access list', signedFields(random, { accessList: [{ address: `0x${'11'.repeat(20)}`, storageKeys: [] }] })],
      ['a 19-byte recipient', withField(5, new Uint8Array(19))],
      ['another chain id', withField(0, bigIntToUnpaddedBytes(902n))],
      ['a y-parity of 2', withField(9, Uint8Array.of(2))],
      ['a high s', withField(11, bigIntToUnpaddedBytes(SECP256K1_ORDER - 1n))],
      ['a nonce of 2^64 - 1', withField(1, bigIntToUnpaddedBytes(MAX_UINT64))],
      ['a 9-byte gas limit', withField(4, new Uint8Array(9).fill(1))],
      ['a 33-byte value', withField(6, new Uint8Array(33).fill(1))],
      ['a tip above the fee cap', withField(2, bigIntToUnpaddedBytes(10n ** 18n))],
      ['gas limit × fee cap past 2^256', withField(3, new Uint8Array(32).fill(0xff))],
      ['a list for a field', withField(7, [[new Uint8Array(1)]])],
      ['11 fields', signedFields(random).slice(0, 11)],
      ...[1, 2, 3, 4, 6, 9, 10, 11].map((i): [string, (Uint8Array | Uint8Array[][])[]] => [`a leading zero in field ${i}`, leadingZero(i)]),
    ]
    for (const [what, fields] of cases) assert.equal(feeMarketTxFromFields(fields as Uint8Array[], options()), undefined, what)
    // A Common of its own (not shared): ethereumjs copies it into each transaction.
    assert.equal(feeMarketTxFromFields(signedFields(random), { common, freeze: false }), undefined, 'an unshared Common')
    // The same fields, canonical again, are taken: the cases above fail for what they change.
    assert.ok(feeMarketTxFromFields(signedFields(random), options()) !== undefined)
  })

  it('negative control: a transaction one field off is not the same transaction', () => {
    const fields = signedFields(createRandom(8))
    const built = feeMarketTxFromFields(fields, options())!
    ;(built as unknown as { value: bigint }).value += 1n
    assert.throws(() => assertSameTx(built, create1559FeeMarketTxFromBytesArray(fields as never, options())))
  })
})
