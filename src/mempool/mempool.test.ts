import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToUnprefixedHex, hexToBytes, KECCAK256_NULL, privateToAddress } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { keccak256 } from '../crypto/crypto.ts'
import type { AccountRecord, StateReader } from '../state/types.ts'
import { Mempool } from './mempool.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const keys = [1, 2, 3].map((i) => keccak256(Uint8Array.of(i)))
const senders = keys.map((k) => bytesToUnprefixedHex(privateToAddress(k)))

function makePool(overrides: Partial<ConstructorParameters<typeof Mempool>[0]> = {}) {
  const accounts = new Map<string, AccountRecord>(senders.map((s) => [s, { nonce: 0n, balance: 10n ** 20n, codeHash: KECCAK256_NULL }]))
  const state: StateReader = { getAccount: (a) => accounts.get(a), getStorage: () => new Uint8Array(), getCode: () => undefined }
  const pool = new Mempool({
    common,
    maxTxs: 100,
    maxPerSender: 16,
    txMaxBytes: 131072,
    blockGasLimit: 30_000_000n,
    baseFeeFloor: 1n,
    state: () => state,
    ...overrides,
  })
  return { pool, accounts }
}

function tx(keyIndex: number, nonce: bigint, fee = 10n ** 9n, tip = 10n ** 6n) {
  return createFeeMarket1559Tx(
    { nonce, gasLimit: 21000n, maxFeePerGas: fee, maxPriorityFeePerGas: tip, to: `0x${'11'.repeat(20)}`, value: 1n, chainId: 901n },
    { common },
  ).sign(keys[keyIndex]!)
}

describe('Mempool', () => {
  it('behavior: select is first come first served across senders and nonce ordered within one', async () => {
    const { pool } = makePool()
    const order = [tx(0, 0n), tx(1, 0n), tx(0, 1n), tx(2, 0n), tx(1, 1n)]
    for (const t of order) await pool.add(t.serialize())
    const selected = pool.select(30_000_000n, 1n).transactions.map((t) => bytesToUnprefixedHex(t.hash()))
    assert.deepEqual(selected, order.map((t) => bytesToUnprefixedHex(t.hash())))
  })

  it('behavior: a nonce gap holds the sender back until it closes', async () => {
    const { pool } = makePool()
    await pool.add(tx(0, 1n).serialize())
    assert.equal(pool.select(30_000_000n, 1n).transactions.length, 0)
    assert.equal(pool.pendingNonce(senders[0]!), 0n)
    await pool.add(tx(0, 0n).serialize())
    assert.deepEqual(pool.select(30_000_000n, 1n).transactions.map((t) => t.nonce), [0n, 1n])
    assert.equal(pool.pendingNonce(senders[0]!), 2n)
  })

  it('behavior: a replacement keeps its place in line and needs a 10% bump', async () => {
    const { pool } = makePool()
    await pool.add(tx(0, 0n).serialize())
    await pool.add(tx(1, 0n).serialize())
    await assert.rejects(() => pool.add(tx(0, 0n, 10n ** 9n + 5n * 10n ** 7n, 2n * 10n ** 6n).serialize()), /replacement transaction underpriced/)
    const bumped = tx(0, 0n, 11n * 10n ** 8n, 11n * 10n ** 5n)
    const { replaced } = await pool.add(bumped.serialize())
    assert.ok(replaced)
    assert.equal(pool.size, 2)
    assert.deepEqual(bytesToUnprefixedHex(pool.select(30_000_000n, 1n).transactions[0]!.hash()), bytesToUnprefixedHex(bumped.hash()))
  })

  it('behavior: fee caps below the base fee wait; the gas limit bounds a selection, which says when it left one out', async () => {
    const { pool } = makePool()
    await pool.add(tx(0, 0n, 100n, 1n).serialize())
    await pool.add(tx(1, 0n).serialize())
    await pool.add(tx(2, 0n).serialize())
    // A fee cap below the base fee waits for it to fall: not left out for lack of room.
    assert.equal(pool.select(30_000_000n, 1000n).transactions.length, 2)
    assert.equal(pool.select(30_000_000n, 1000n).leftOut, false)
    const bounded = pool.select(42_000n, 1n)
    assert.equal(bounded.transactions.length, 2)
    assert.equal(bounded.leftOut, true)
    assert.equal(pool.select(63_000n, 1n).leftOut, false)
  })

  it('behavior: prune drops included and stale transactions', async () => {
    const { pool, accounts } = makePool()
    const a = tx(0, 0n)
    const b = tx(0, 1n)
    await pool.add(a.serialize())
    await pool.add(b.serialize())
    accounts.set(senders[0]!, { nonce: 2n, balance: 10n ** 20n, codeHash: KECCAK256_NULL })
    pool.prune([a], [])
    assert.equal(pool.size, 0)
    assert.equal(pool.pooledGas, 0n)
  })

  it('behavior: a full pool evicts the cheapest tail, or refuses a transaction that does not outbid it', async () => {
    const { pool } = makePool({ maxTxs: 2 })
    const cheap = tx(0, 0n, 2n * 10n ** 9n)
    await pool.add(cheap.serialize())
    await pool.add(tx(1, 0n, 3n * 10n ** 9n).serialize())
    await assert.rejects(() => pool.add(tx(2, 0n, 10n ** 9n).serialize()), /txpool is full/)
    await pool.add(tx(2, 0n, 5n * 10n ** 9n).serialize())
    assert.equal(pool.size, 2)
    assert.equal(pool.get(cheap.hash()), undefined)
  })

  it('behavior: content splits each sender into pending (contiguous from the state nonce) and queued (behind a gap), in nonce order', async () => {
    const { pool, accounts } = makePool()
    // Sender 0: state nonce 0, pooled 0, 1, 3, 4 (gap at 2); sender 1: pooled 1 only (gap at 0); sender 2: nothing.
    for (const [k, n] of [[0, 3n], [0, 0n], [1, 1n], [0, 4n], [0, 1n]] as const) await pool.add(tx(k, n).serialize())
    const nonces = (entries: readonly { tx: { nonce: bigint } }[]) => entries.map((e) => e.tx.nonce)
    const view = () => Object.fromEntries(pool.content().map((c) => [c.senderKey, { pending: nonces(c.pending), queued: nonces(c.queued) }]))
    assert.deepEqual(view(), {
      [senders[0]!]: { pending: [0n, 1n], queued: [3n, 4n] },
      [senders[1]!]: { pending: [], queued: [1n] },
    })
    assert.deepEqual(pool.content().map((c) => c.senderKey), [senders[0]!, senders[1]!].sort())
    assert.equal(pool.content()[0]!.sender.toString().slice(2), pool.content()[0]!.senderKey)
    assert.deepEqual(pool.content(senders[1]!).map((c) => nonces(c.queued)), [[1n]])
    assert.deepEqual(pool.content(senders[2]!), [])
    // Closing the gap moves the queued ones to pending.
    await pool.add(tx(0, 2n).serialize())
    assert.deepEqual(view()[senders[0]!], { pending: [0n, 1n, 2n, 3n, 4n], queued: [] })
    // A block took nonces 0 and 1 before prune ran: they are neither pending nor queued.
    accounts.set(senders[0]!, { nonce: 2n, balance: 10n ** 20n, codeHash: KECCAK256_NULL })
    assert.deepEqual(view()[senders[0]!], { pending: [2n, 3n, 4n], queued: [] })
  })

  it('behavior: refused transactions leave the pool unchanged', async () => {
    const { pool } = makePool()
    await pool.add(tx(0, 0n).serialize())
    const before = [...pool.entries()].map((e) => e.hashKey)
    await assert.rejects(() => pool.add(tx(0, 0n).serialize()), /already known/)
    await assert.rejects(() => pool.add(hexToBytes('0x03c0')), /blob transactions/)
    assert.deepEqual([...pool.entries()].map((e) => e.hashKey), before)
  })

  it('behavior: a typed transaction whose chain id has a leading zero byte is refused, its canonical twin admitted', async () => {
    // 901 as 0x00 0x03 0x85: ethereumjs would take it, sign-check it over 0x03 0x85 and hash it as
    // another transaction; geth refuses such an integer.
    const { pool } = makePool()
    const signed = tx(1, 0n)
    const fields = RLP.decode(signed.serialize().subarray(1)) as Uint8Array[]
    const padded = Uint8Array.of(2, ...RLP.encode([Uint8Array.of(0, ...fields[0]!), ...fields.slice(1)]))
    await assert.rejects(() => pool.add(padded), /chain id cannot have leading zeroes/)
    assert.equal(pool.size, 0)
    await pool.add(signed.serialize())
    assert.equal(pool.size, 1)
  })
})
