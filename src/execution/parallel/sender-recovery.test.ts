import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createBlockHeader } from '@ethereumjs/block'
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToUnprefixedHex, equalsBytes } from '@ethereumjs/util'
import { createWorkload } from '../../../bench/workloads.ts'
import { createChainCommon, txCommonFor } from '../../chain/common.ts'
import { decodeTransaction, hasPinnedSender, rememberSerialized } from '../../chain/transaction.ts'
import { Mempool } from '../../mempool/mempool.ts'
import { FlatState } from '../../state/flat-state.ts'
import { createSequentialExecutor } from '../sequential-executor.ts'
import { createParallelExecutor } from './parallel-executor.ts'
import { RECOVERY_COALESCE_MS, type RecoverHere, SenderRecoveryPool, type ShipSenders } from './sender-recovery.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const workload = createWorkload({ name: 'transfers', seed: 3, accountCount: 48, txCount: 48, blockSize: 48, common })
const raws = workload.blocks.flat().map((tx) => tx.serialize())
/** A signed tx whose signature names no public key: no curve point has x = r = 5. */
function unrecoverable(raw: Uint8Array): Uint8Array {
  const tx = createTxFromRLP(raw, { common, freeze: false }) as TypedTransaction & { r: bigint }
  tx.r = 5n
  return tx.serialize()
}

const state = () => new FlatState({
  readAccount: (a) => workload.preState.accounts.get(a) ?? undefined,
  readStorage: () => undefined,
  readCode: () => undefined,
})
const executor = createParallelExecutor({
  common,
  threads: 2,
  source: { kind: 'snapshot', state: { ...workload.preState, storageCleared: new Set() } },
  fallback: await createSequentialExecutor({ common }),
  minParallelTxs: 2,
  // Plain transfers: without this they would run on the fallback (`sequentialIsFaster`).
  minParallelWork: 0,
})
after(() => executor.close())

describe('sender recovery on the worker threads', () => {
  it('behavior: workers recover the same public keys as the main thread, and say why a signature has none', async () => {
    const bad = unrecoverable(raws[0]!)
    const results = await executor.senders.recoverMany([...raws, bad])
    assert.equal(results.length, raws.length + 1)
    raws.forEach((raw, i) => {
      const expected = createTxFromRLP(raw, { common }).getSenderPublicKey()
      assert.ok(results[i] instanceof Uint8Array && equalsBytes(results[i] as Uint8Array, expected), `tx ${i}`)
    })
    assert.match(String(results[raws.length]), /^Invalid Signature/)
  })

  it('behavior: the mempool admits concurrent submissions in arrival order, senders recovered on the workers', async () => {
    const before = executor.senders.recovered
    const pool = new Mempool({
      common,
      maxTxs: 1000,
      maxPerSender: 16,
      txMaxBytes: 131072,
      blockGasLimit: 30_000_000n,
      baseFeeFloor: 1n,
      state,
      recoverSender: (raw) => executor.senders.recover(raw),
    })
    const added = await Promise.all(raws.map((raw) => pool.add(raw)))
    assert.equal(executor.senders.recovered - before, raws.length)
    const inline = raws.map((raw) => decodeTransaction(raw, common))
    added.forEach(({ entry }, i) => assert.equal(entry.sender.toString(), inline[i]!.getSenderAddress().toString()))
    // First come, first served: the block order is the submission order.
    assert.deepEqual(
      pool.select(30_000_000n, 1n).transactions.map((tx) => bytesToUnprefixedHex(tx.hash())),
      inline.map((tx) => bytesToUnprefixedHex(tx.hash())),
    )
    await assert.rejects(() => pool.add(unrecoverable(raws[1]!)), /invalid sender/)
    assert.equal(pool.size, raws.length)
  })

  it('behavior: requests that arrive while a shipment is on the workers go together in the next one, answered in order', async () => {
    const shipped = executor.senders.shipments
    // One request per turn of the event loop, as single RPC requests arrive under load.
    const answers: Promise<Uint8Array>[] = []
    for (const raw of raws) {
      answers.push(executor.senders.recover(raw))
      await new Promise((resolve) => setImmediate(resolve))
    }
    const keys = await Promise.all(answers)
    raws.forEach((raw, i) => assert.deepEqual(keys[i], createTxFromRLP(raw, { common }).getSenderPublicKey(), `tx ${i}`))
    const shipments = executor.senders.shipments - shipped
    assert.ok(shipments < raws.length / 2, `${shipments} shipments for ${raws.length} requests`)
    // A lone request to an idle pool is answered at once, on this thread, without a shipment.
    await new Promise((resolve) => setTimeout(resolve, 5))
    const here = executor.senders.recoveredHere
    const lone = await executor.senders.recover(raws[0]!)
    assert.deepEqual(lone, keys[0])
    assert.equal(executor.senders.recoveredHere, here + 1)
  })

  it('behavior: a block whose senders are unknown has them recovered on the workers and executes as sequentially', async () => {
    const header = createBlockHeader(
      { number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n, coinbase: workload.coinbase },
      { common, setHardfork: false },
    )
    const unknown = raws.map((raw) => {
      const tx = createTxFromRLP(raw, { common: txCommonFor(common), freeze: false })
      rememberSerialized(tx, raw)
      return tx
    })
    const before = executor.senders.recovered
    const parallel = await executor.executeBlock({ header, transactions: unknown, state: state(), blockHash: () => undefined })
    assert.equal(executor.senders.recovered - before, raws.length)
    assert.ok(unknown.every(hasPinnedSender))
    const sequential = await (await createSequentialExecutor({ common })).executeBlock({
      header,
      transactions: raws.map((raw) => decodeTransaction(raw, common)),
      state: state(),
      blockHash: () => undefined,
    })
    assert.equal(parallel.stats.mode, 'parallel')
    assert.equal(parallel.executed.length, raws.length)
    assert.equal(parallel.gasUsed, sequential.gasUsed)
    assert.deepEqual(parallel.delta.accounts, sequential.delta.accounts)
  })
})

describe('sender recovery: shipments under load', () => {
  /** Answers at once, as a worker's ~50 µs recovery is over before the next single request comes. */
  const instant: ShipSenders = async (batch) => batch.map((raw) => raw.subarray(0, 64))
  const turn = () => new Promise((resolve) => setImmediate(resolve))

  /** One request per turn of the event loop, each turn ~0.1 ms long; how many shipments carried them. */
  async function shipmentsFor(pool: SenderRecoveryPool, requests: number): Promise<number> {
    const answers: Promise<Uint8Array>[] = []
    for (let i = 0; i < requests; i++) {
      answers.push(pool.recover(raws[i % raws.length]!))
      const until = performance.now() + 0.1
      while (performance.now() < until);
      await turn()
    }
    const keys = await Promise.all(answers)
    keys.forEach((key, i) => assert.deepEqual(key, raws[i % raws.length]!.subarray(0, 64), `request ${i}`))
    return pool.shipments
  }

  it('behavior: requests that come one by one while the workers are idle still share shipments, answered in order', async () => {
    const shipments = await shipmentsFor(new SenderRecoveryPool(instant), 200)
    // One every ~0.1 ms against a shipment at most every millisecond: ~20 shipments.
    assert.ok(shipments <= 50, `${shipments} shipments for 200 requests`)
    // Negative control: without the interval, each request is shipped alone.
    assert.equal(await shipmentsFor(new SenderRecoveryPool(instant, 0), 200), 200)
  })

  /** Answers as `instant` does; the pool's counters say which path answered. */
  const here: RecoverHere = (raw) => raw.subarray(0, 64)
  const spaced = async (pool: SenderRecoveryPool, requests: number, gapMs: number): Promise<Uint8Array[]> => {
    const keys: Uint8Array[] = []
    for (let i = 0; i < requests; i++) {
      keys.push(await pool.recover(raws[i % raws.length]!))
      await new Promise((resolve) => setTimeout(resolve, gapMs))
    }
    return keys
  }

  it('behavior: at a low rate each lone request is recovered on this thread; under load they are shipped', async () => {
    const pool = new SenderRecoveryPool(instant, RECOVERY_COALESCE_MS, here)
    const keys = await spaced(pool, 20, RECOVERY_COALESCE_MS + 3)
    keys.forEach((key, i) => assert.deepEqual(key, raws[i % raws.length]!.subarray(0, 64), `request ${i}`))
    assert.equal(pool.recoveredHere, 20)
    assert.equal(pool.shipments, 0)
    // One per ~0.1 ms turn: the first is recovered here (and any after a pause of this machine's
    // as long as the interval), the rest wait out the interval and share shipments.
    const shipments = await shipmentsFor(pool, 200)
    assert.ok(pool.recoveredHere <= 30, `${pool.recoveredHere - 20} of 200 close requests recovered here`)
    assert.ok(shipments > 0 && shipments <= 50, `${shipments} shipments for 200 requests`)
    // Negative control: without recovery here, the same spaced requests are each shipped.
    const shipping = new SenderRecoveryPool(instant)
    await spaced(shipping, 20, RECOVERY_COALESCE_MS + 3)
    assert.equal(shipping.shipments, 20)
  })

  it('behavior: a request recovered here waits for the answers of the shipment before it, and a failure here rejects with its reason', async () => {
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const slow: ShipSenders = async (batch) => {
      await held
      return instant(batch)
    }
    const pool = new SenderRecoveryPool(slow, RECOVERY_COALESCE_MS, (raw) => (raw === raws[3] ? 'Invalid Signature' : here(raw)))
    const order: number[] = []
    const answer = (i: number) => pool.recover(raws[i]!).then(() => order.push(i), (error: Error) => order.push(-i) && assert.equal(error.message, 'Invalid Signature'))
    const shipped = [answer(0), answer(1)] // one turn: one shipment of two
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_COALESCE_MS + 3))
    const lone = answer(2) // waits in the queue while the shipment is out
    setTimeout(release, 5)
    await Promise.all([...shipped, lone])
    assert.deepEqual(order, [0, 1, 2])
    assert.equal(pool.shipments, 1)
    assert.equal(pool.recoveredHere, 1)
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_COALESCE_MS + 3))
    await answer(3)
    assert.deepEqual(order, [0, 1, 2, -3])
  })

  it('behavior: a request to an idle pool leaves at once, not after the interval', async () => {
    const pool = new SenderRecoveryPool(instant)
    await pool.recover(raws[0]!)
    await new Promise((resolve) => setTimeout(resolve, 5))
    void pool.recover(raws[1]!)
    await turn()
    assert.equal(pool.shipments, 2)
  })
})
