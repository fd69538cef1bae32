/**
 * Every mempool refusal over real JSON-RPC: each raw transaction is refused with the JSON-RPC
 * code and message geth's txpool would give (-32000 for refusals, -32602 for malformed params),
 * and a refusal leaves no trace: the sender's pending nonce, its balance and the pool size are
 * the same afterwards. Blocks are only sealed on demand (`--block-time-ms 100000`, `--miniblock-ms 100000` +
 * `admin_sealBlock`), so nothing moves between the snapshots.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { concatHex, type Hex, keccak256, numberToHex, parseGwei, toRlp, type TransactionSerializable } from 'viem'
import { generatePrivateKey, privateKeyToAccount, sign } from 'viem/accounts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { rawRpc, startNode, type TestNode } from './harness.ts'

const CHAIN_ID = 901
const KEYS = deriveDevAccounts().map((a) => a.privateKey)
const SINK = '0x000000000000000000000000000000000000dEaD'
const ADMIN = { authorization: 'Bearer test-token' }

type RpcResponse = Awaited<ReturnType<TestNode['rpc']>>

function key(index: number): Hex {
  const k = KEYS[index]
  if (k === undefined) throw new Error(`no dev key ${index}`)
  return k
}

function addressOf(privateKey: Hex): Hex {
  return privateKeyToAccount(privateKey).address
}

/** A signed EIP-1559 transfer of 1 wei to SINK; every field can be overridden. */
function signTx(privateKey: Hex, fields: Partial<TransactionSerializable> & { nonce: number }): Promise<Hex> {
  return privateKeyToAccount(privateKey).signTransaction({
    type: 'eip1559',
    chainId: CHAIN_ID,
    to: SINK,
    value: 1n,
    gas: 21_000n,
    maxFeePerGas: parseGwei('10'),
    maxPriorityFeePerGas: parseGwei('1'),
    ...fields,
  } as TransactionSerializable)
}

type Snapshot = { pendingNonce: unknown; balance: unknown; pooled: number }

async function snapshot(t: TestNode, address: Hex): Promise<Snapshot> {
  const [nonce, balance, status] = await Promise.all([
    t.rpc('eth_getTransactionCount', [address, 'pending']),
    t.rpc('eth_getBalance', [address, 'latest']),
    t.rpc('mosaic_status'),
  ])
  return { pendingNonce: nonce.result, balance: balance.result, pooled: (status.result as { mempool: { pending: number } }).mempool.pending }
}

/** Sends `raw`, asserts the error, and asserts the sender and the pool are as they were. */
async function assertRefused(t: TestNode, raw: unknown, sender: Hex, expected: { code: number; message: string | RegExp }): Promise<RpcResponse> {
  const before = await snapshot(t, sender)
  const response = await t.rpc('eth_sendRawTransaction', [raw])
  assert.equal(response.result, undefined, `expected a refusal, got result ${JSON.stringify(response.result)}`)
  assert.ok(response.error, 'expected a JSON-RPC error')
  assert.deepEqual(await snapshot(t, sender), before, 'a refused transaction changed the node')
  assert.equal(response.error.code, expected.code, `code of: ${response.error.message}`)
  if (typeof expected.message === 'string') assert.equal(response.error.message, expected.message)
  else assert.match(response.error.message, expected.message)
  return response
}

async function sendOk(t: TestNode, raw: Hex): Promise<Hex> {
  const response = await t.rpc('eth_sendRawTransaction', [raw])
  assert.equal(response.error, undefined, `refused: ${response.error?.message}`)
  assert.equal(typeof response.result, 'string')
  return response.result as Hex
}

async function seal(t: TestNode): Promise<unknown> {
  const sealed = await rawRpc(t.url, 'admin_sealBlock', [], ADMIN)
  assert.equal(sealed.error, undefined, `admin_sealBlock failed: ${sealed.error?.message}`)
  return sealed.result
}

type ReceiptJson = { blockHash: Hex; blockNumber: Hex; transactionIndex: Hex; status: Hex }

async function receipt(t: TestNode, hash: Hex): Promise<ReceiptJson | null> {
  const response = await t.rpc('eth_getTransactionReceipt', [hash])
  assert.equal(response.error, undefined)
  return response.result as ReceiptJson | null
}

async function poolSize(t: TestNode): Promise<number> {
  return (await snapshot(t, SINK)).pooled
}

const REFUSED = -32000
const INVALID_PARAMS = -32602

describe('mempool refusals over JSON-RPC', () => {
  let t: TestNode

  before(async () => {
    t = await startNode(['--block-time-ms', '100000', '--miniblock-ms', '100000', '--mempool-max-per-sender', '4', '--base-fee-floor', '1000000000', '--tx-max-bytes', '1000'])
  })
  after(async () => {
    await t?.stop()
  })

  it('default: a valid transaction is accepted and mined on admin_sealBlock', async () => {
    const hash = await sendOk(t, await signTx(key(9), { nonce: 0 }))
    assert.equal(await poolSize(t), 1)
    assert.equal(await seal(t), '0x1')
    assert.equal((await receipt(t, hash))?.status, '0x1')
    assert.equal(await poolSize(t), 0)
  })

  it('behavior: nonce too low', async () => {
    const k = key(1)
    const hash = await sendOk(t, await signTx(k, { nonce: 0 }))
    await seal(t)
    assert.ok(await receipt(t, hash), 'first tx mined')
    await assertRefused(t, await signTx(k, { nonce: 0, value: 2n }), addressOf(k), { code: REFUSED, message: 'nonce too low: next nonce 1, tx nonce 0' })
  })

  it('behavior: nonce too high (beyond --mempool-max-per-sender)', async () => {
    const k = key(2)
    await assertRefused(t, await signTx(k, { nonce: 4 }), addressOf(k), {
      code: REFUSED,
      message: 'nonce too high: next nonce 0, tx nonce 4 (at most 4 ahead)',
    })
  })

  it('behavior: insufficient funds', async () => {
    const k = generatePrivateKey()
    await assertRefused(t, await signTx(k, { nonce: 0 }), addressOf(k), {
      code: REFUSED,
      message: /^insufficient funds for gas \* price \+ value: balance 0, tx cost 210000000000001, overshot 210000000000001$/,
    })
  })

  it('behavior: intrinsic gas too low', async () => {
    // geth's wording, which viem's IntrinsicGasTooLowError recognises.
    await assertRefused(t, await signTx(key(0), { nonce: 0, gas: 20_000n }), addressOf(key(0)), {
      code: REFUSED,
      message: 'intrinsic gas too low: gas 20000, minimum needed 21000',
    })
  })

  it('behavior: gas above the block gas limit', async () => {
    await assertRefused(t, await signTx(key(0), { nonce: 0, gas: 30_000_001n }), addressOf(key(0)), {
      code: REFUSED,
      message: 'exceeds block gas limit: tx gas 30000001, block gas limit 30000000',
    })
  })

  it('behavior: fee cap below the base fee floor', async () => {
    await assertRefused(t, await signTx(key(0), { nonce: 0, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }), addressOf(key(0)), {
      code: REFUSED,
      message: 'transaction underpriced: max fee per gas 1 below the base fee floor 1000000000',
    })
  })

  it('behavior: tip above fee cap', async () => {
    // viem and @ethereumjs/tx both refuse to build such a tx, so it is encoded and signed by hand
    // (EIP-1559: 0x02 || rlp([chainId, nonce, tip, feeCap, gas, to, value, data, accessList, yParity, r, s])).
    const q = (n: bigint | number): Hex => (BigInt(n) === 0n ? '0x' : numberToHex(n))
    const unsigned: (Hex | never[])[] = [q(CHAIN_ID), q(0), q(parseGwei('20')), q(parseGwei('10')), q(21_000), SINK, q(1), '0x', []]
    const signature = await sign({ hash: keccak256(concatHex(['0x02', toRlp(unsigned as Hex[])])), privateKey: key(0) })
    const raw = concatHex(['0x02', toRlp([...unsigned, q(signature.yParity ?? 0), q(BigInt(signature.r)), q(BigInt(signature.s))] as Hex[])])
    await assertRefused(t, raw, addressOf(key(0)), {
      code: REFUSED,
      // geth's wording, which viem's TipAboveFeeCapError recognises.
      message: /^max priority fee per gas higher than max fee per gas/,
    })
  })

  it('behavior: wrong chain id', async () => {
    await assertRefused(t, await signTx(key(0), { nonce: 0, chainId: 1 }), addressOf(key(0)), {
      code: REFUSED,
      message: 'invalid chain id: expected 901, got 1',
    })
  })

  it('behavior: unprotected (pre-EIP-155) legacy transaction', async () => {
    // viem signs a legacy tx without chainId with v = 27/28 (no replay protection).
    const raw = await privateKeyToAccount(key(0)).signTransaction({ type: 'legacy', nonce: 0, gasPrice: parseGwei('10'), gas: 21_000n, to: SINK, value: 1n })
    await assertRefused(t, raw, addressOf(key(0)), {
      code: REFUSED,
      message: 'only replay-protected (EIP-155) transactions allowed over RPC',
    })
  })

  it('behavior: blob transaction (type 3)', async () => {
    const raw = concatHex(['0x03', toRlp([numberToHex(CHAIN_ID), '0x', '0x01', '0x02', '0x5208', SINK, '0x01', '0x'])])
    await assertRefused(t, raw, addressOf(key(0)), { code: REFUSED, message: /blob/ })
  })

  it('behavior: oversized transaction (--tx-max-bytes)', async () => {
    const data = `0x${'00'.repeat(2000)}` as Hex
    await assertRefused(t, await signTx(key(0), { nonce: 0, gas: 100_000n, data }), addressOf(key(0)), {
      code: REFUSED,
      message: /^oversized data: transaction size \d{4} bytes, limit 1000$/,
    })
  })

  it('behavior: duplicate is already known', async () => {
    const k = key(3)
    const raw = await signTx(k, { nonce: 0 })
    const hash = await sendOk(t, raw)
    await assertRefused(t, raw, addressOf(k), { code: REFUSED, message: `already known: transaction ${hash} is already in the pool` })
  })

  it('behavior: replacement underpriced with +5%, accepted with +10%', async () => {
    const k = key(4)
    const fee = parseGwei('10')
    const tip = parseGwei('1')
    const first = await sendOk(t, await signTx(k, { nonce: 0, maxFeePerGas: fee, maxPriorityFeePerGas: tip }))
    await assertRefused(t, await signTx(k, { nonce: 0, maxFeePerGas: (fee * 105n) / 100n, maxPriorityFeePerGas: (tip * 105n) / 100n }), addressOf(k), {
      code: REFUSED,
      message: /^replacement transaction underpriced/,
    })
    // +10% on the fee cap only is not enough: both the cap and the tip need the bump.
    await assertRefused(t, await signTx(k, { nonce: 0, maxFeePerGas: (fee * 110n) / 100n, maxPriorityFeePerGas: tip }), addressOf(k), {
      code: REFUSED,
      message: /^replacement transaction underpriced/,
    })

    const pooledBefore = await poolSize(t)
    const second = await sendOk(t, await signTx(k, { nonce: 0, maxFeePerGas: (fee * 110n) / 100n, maxPriorityFeePerGas: (tip * 110n) / 100n }))
    assert.notEqual(second, first)
    assert.equal(await poolSize(t), pooledBefore, 'a replacement does not grow the pool')
    assert.equal((await t.rpc('eth_getTransactionByHash', [first])).result, null, 'the replaced tx is gone')
    const pending = (await t.rpc('eth_getTransactionByHash', [second])).result as { hash: Hex; blockNumber: unknown } | null
    assert.equal(pending?.hash, second)
    assert.equal(pending?.blockNumber, null)
    assert.equal((await snapshot(t, addressOf(k))).pendingNonce, '0x1')

    await seal(t)
    assert.equal((await receipt(t, second))?.status, '0x1')
    assert.equal(await receipt(t, first), null)
  })

  it('behavior: a nonce gap is held back until it closes', async () => {
    const k = key(5)
    const sender = addressOf(k)
    const later = await sendOk(t, await signTx(k, { nonce: 1 }))
    assert.equal((await snapshot(t, sender)).pendingNonce, '0x0', 'pending nonce stays at the state nonce')
    await seal(t)
    assert.equal(await receipt(t, later), null, 'not mined while the gap exists')
    assert.equal((await t.rpc('eth_getTransactionCount', [sender, 'latest'])).result, '0x0')
    const pooled = (await t.rpc('eth_getTransactionByHash', [later])).result as { blockNumber: unknown } | null
    assert.ok(pooled, 'still pooled')
    assert.equal(pooled.blockNumber, null)

    const first = await sendOk(t, await signTx(k, { nonce: 0 }))
    assert.equal((await snapshot(t, sender)).pendingNonce, '0x2')
    await seal(t)
    const r0 = await receipt(t, first)
    const r1 = await receipt(t, later)
    assert.ok(r0 && r1, 'both mined')
    assert.equal(r0.status, '0x1')
    assert.equal(r1.status, '0x1')
    assert.ok(
      BigInt(r0.blockNumber) < BigInt(r1.blockNumber) || (r0.blockNumber === r1.blockNumber && BigInt(r0.transactionIndex) < BigInt(r1.transactionIndex)),
      'mined in nonce order',
    )
    assert.equal((await t.rpc('eth_getTransactionCount', [sender, 'latest'])).result, '0x2')
  })

  it('behavior: malformed raw bytes are invalid params', async () => {
    await assertRefused(t, '0x1234', addressOf(key(0)), { code: INVALID_PARAMS, message: /raw transaction|invalid transaction|RLP|type/i })
  })

  it('behavior: a non-hex raw string is invalid params', async () => {
    await assertRefused(t, 'not a transaction', addressOf(key(0)), { code: INVALID_PARAMS, message: /^invalid raw transaction: expected 0x-prefixed hex bytes/ })
    await assertRefused(t, '0x123', addressOf(key(0)), { code: INVALID_PARAMS, message: /^invalid raw transaction: expected 0x-prefixed hex bytes/ })
    await assertRefused(t, 42, addressOf(key(0)), { code: INVALID_PARAMS, message: /^invalid raw transaction/ })
  })
})

describe('mempool per-sender limit', () => {
  let t: TestNode

  before(async () => {
    t = await startNode(['--block-time-ms', '100000', '--miniblock-ms', '100000', '--mempool-max-per-sender', '2'])
  })
  after(async () => {
    await t?.stop()
  })

  it('behavior: account limit exceeded on the third transaction', async () => {
    const k = key(0)
    await sendOk(t, await signTx(k, { nonce: 0 }))
    await sendOk(t, await signTx(k, { nonce: 1 }))
    await assertRefused(t, await signTx(k, { nonce: 2 }), addressOf(k), { code: REFUSED, message: /^account limit exceeded/ })
  })
})

describe('mempool full', () => {
  let t: TestNode

  before(async () => {
    t = await startNode(['--block-time-ms', '100000', '--miniblock-ms', '100000', '--mempool-max-txs', '2'])
  })
  after(async () => {
    await t?.stop()
  })

  it('behavior: txpool is full unless the newcomer outbids the cheapest, which is evicted', async () => {
    const cheap = await sendOk(t, await signTx(key(0), { nonce: 0, maxFeePerGas: parseGwei('2'), maxPriorityFeePerGas: parseGwei('1') }))
    const dear = await sendOk(t, await signTx(key(1), { nonce: 0, maxFeePerGas: parseGwei('4'), maxPriorityFeePerGas: parseGwei('1') }))
    assert.equal(await poolSize(t), 2)

    for (const fee of [parseGwei('2'), parseGwei('1.5')]) {
      await assertRefused(t, await signTx(key(2), { nonce: 0, maxFeePerGas: fee, maxPriorityFeePerGas: parseGwei('1') }), addressOf(key(2)), {
        code: REFUSED,
        message: /^txpool is full/,
      })
    }

    const newcomer = await sendOk(t, await signTx(key(2), { nonce: 0, maxFeePerGas: parseGwei('6'), maxPriorityFeePerGas: parseGwei('1') }))
    assert.equal(await poolSize(t), 2)
    assert.equal((await t.rpc('eth_getTransactionByHash', [cheap])).result, null, 'the cheapest tx was evicted')
    assert.ok((await t.rpc('eth_getTransactionByHash', [dear])).result)
    assert.ok((await t.rpc('eth_getTransactionByHash', [newcomer])).result)
    assert.equal((await snapshot(t, addressOf(key(0)))).pendingNonce, '0x0', 'the evicted sender can reuse its nonce')

    await seal(t)
    assert.equal((await receipt(t, dear))?.status, '0x1')
    assert.equal((await receipt(t, newcomer))?.status, '0x1')
    assert.equal(await receipt(t, cheap), null)
    assert.equal(await poolSize(t), 0)
  })

  it('behavior: a transaction never evicts its own predecessor (no nonce gap)', async () => {
    // The cheapest tail is A's nonce 0; A's nonce 1 outbids it. Evicting A:0 for A:1 would leave
    // A:1 stuck behind a gap (geth refuses this as "future transaction tries to replace pending").
    const a = key(3)
    const a0 = await sendOk(t, await signTx(a, { nonce: 0, maxFeePerGas: parseGwei('1.5'), maxPriorityFeePerGas: parseGwei('1') }))
    const b0 = await sendOk(t, await signTx(key(4), { nonce: 0, maxFeePerGas: parseGwei('4'), maxPriorityFeePerGas: parseGwei('1') }))
    const response = await t.rpc('eth_sendRawTransaction', [await signTx(a, { nonce: 1, maxFeePerGas: parseGwei('6'), maxPriorityFeePerGas: parseGwei('1') })])
    if (response.error !== undefined) assert.equal(response.error.code, REFUSED)
    const predecessorKept = (await t.rpc('eth_getTransactionByHash', [a0])).result !== null
    // Whatever the pool holds is executable: one block empties it.
    await seal(t)
    const stuck = await poolSize(t)
    assert.ok(
      response.error !== undefined || predecessorKept,
      `A:1 was accepted by evicting A:0 (B:0 ${b0} was kept); after a block ${stuck} transaction(s) are left stuck behind the nonce gap`,
    )
    assert.equal(stuck, 0, 'a pooled transaction is stuck behind a nonce gap')
  })
})

describe('mempool pruning after a block', () => {
  let t: TestNode

  before(async () => {
    t = await startNode(['--block-time-ms', '100000', '--miniblock-ms', '100000'])
  })
  after(async () => {
    await t?.stop()
  })

  it('behavior: a tx made stale by another sender’s EIP-7702 authorization leaves the pool', async () => {
    // A pools nonce 0 with a fee cap below the base fee, so it waits. B's type-4 tx carries A's
    // authorization for nonce 0, which bumps A's nonce to 1 (EIP-7702): A:0 can never be
    // included and must go, as geth drops every pooled tx below its sender's new nonce.
    const a = privateKeyToAccount(key(0))
    const b = privateKeyToAccount(key(1))
    const stale = await sendOk(t, await signTx(key(0), { nonce: 0, maxFeePerGas: parseGwei('0.5'), maxPriorityFeePerGas: parseGwei('0.1') }))
    const authorization = await a.signAuthorization({ chainId: CHAIN_ID, address: '0x000000000000000000000000000000000000bEEF', nonce: 0 })
    const delegating = await sendOk(
      t,
      await b.signTransaction({
        type: 'eip7702',
        chainId: CHAIN_ID,
        nonce: 0,
        to: b.address,
        gas: 100_000n,
        maxFeePerGas: parseGwei('10'),
        maxPriorityFeePerGas: parseGwei('1'),
        authorizationList: [authorization],
      }),
    )
    await seal(t)
    assert.equal((await receipt(t, delegating))?.status, '0x1')
    assert.equal((await t.rpc('eth_getTransactionCount', [a.address, 'latest'])).result, '0x1', 'the authorization bumped A’s nonce')
    assert.equal((await t.rpc('eth_getTransactionByHash', [stale])).result, null, 'A:0 is still reported as pending')
    assert.equal(await poolSize(t), 0, 'A:0 is still pooled')
  })
})
