/**
 * `txpool_status`, `txpool_content`, `txpool_contentFrom` and `txpool_inspect` against anvil
 * (`--no-mining`, which implements geth's shapes): the same transactions, signed with the same
 * keys, are sent to both, then the answers are compared field by field — with pending
 * transactions, queued ones behind a nonce gap, a contract creation, legacy, EIP-2930 and EIP-1559
 * transactions. Sender keys and inspect's recipient are compared case-insensitively: geth writes
 * them checksummed (`account.Hex()`), anvil in lower case; mosaic follows geth, which is checked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { getAddress, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'

const senders = DEV_KEYS.map((key) => privateKeyToAccount(key))
const RECIPIENT = getAddress('0xbeef00000000000000000000000000000000cafe')
const GWEI = 10n ** 9n

type Answer = { result?: unknown; error?: { code: number; message: string } }
type Pool<T> = { pending: Record<string, Record<string, T>>; queued: Record<string, Record<string, T>> }

/** One raw transaction: sender index, nonce and kind (the kinds tools send). */
async function signed(sender: number, nonce: number, kind: 'transfer' | 'create' | 'legacy' | 'accessList'): Promise<Hex> {
  const account = senders[sender]!
  const base = { chainId: 901, nonce, value: BigInt(1000 + nonce), gas: 100_000n }
  if (kind === 'create') return account.signTransaction({ ...base, type: 'legacy', gasPrice: 3n * GWEI, data: '0x600160005260206000f3' })
  if (kind === 'legacy') return account.signTransaction({ ...base, type: 'legacy', gasPrice: 4n * GWEI, to: RECIPIENT })
  if (kind === 'accessList') {
    return account.signTransaction({ ...base, type: 'eip2930', gasPrice: 5n * GWEI, to: RECIPIENT, accessList: [{ address: RECIPIENT, storageKeys: [`0x${'01'.padStart(64, '0')}`] }] })
  }
  return account.signTransaction({ ...base, type: 'eip1559', maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 2n, to: RECIPIENT, data: '0x1234' })
}

/** Lower-cases the sender keys (and, for inspect, the recipient at the start of each line) so that geth's and anvil's casing compare. */
function lowerKeys<T>(pool: Pool<T>, lowerValue: (value: T) => T = (v) => v): Pool<T> {
  const lower = (side: Record<string, Record<string, T>>) =>
    Object.fromEntries(Object.entries(side).map(([sender, txs]) => [sender.toLowerCase(), Object.fromEntries(Object.entries(txs).map(([n, v]) => [n, lowerValue(v)]))]))
  return { pending: lower(pool.pending), queued: lower(pool.queued) }
}
const lowerRecipient = (line: string) => line.replace(/^0x[0-9a-fA-F]{40}/, (a) => a.toLowerCase())

/** Every difference between two answers, path by path (fields missing on either side included). */
function differences(a: unknown, b: unknown, path = '$'): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    return [...keys].flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`))
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`]
}

describe('txpool_* against anvil', () => {
  let anvil: Anvil
  let node: TestNode
  const both = async (method: string, params: unknown[] = []) => {
    const [ours, theirs] = (await Promise.all([node.rpc(method, params), rawRpc(anvil.url, method, params)])) as [Answer, Answer]
    assert.equal(ours.error, undefined, `mosaic ${method}: ${JSON.stringify(ours.error)}`)
    assert.equal(theirs.error, undefined, `anvil ${method}: ${JSON.stringify(theirs.error)}`)
    return { ours: ours.result, theirs: theirs.result }
  }
  const send = async (raw: Hex) => {
    const { ours, theirs } = await both('eth_sendRawTransaction', [raw])
    assert.equal(ours, theirs)
  }

  before(async () => {
    anvil = await startAnvil(['--no-mining', '--chain-id', '901'])
    // No block while the test runs: what is pooled stays pooled.
    node = await startNode(['--block-time-ms', '3600000', '--miniblock-ms', '3600000'])
  })
  after(async () => {
    await node?.stop()
    await anvil?.stop()
  })

  it('differential: pending and queued (a nonce gap) transactions of three senders, in the same shapes as anvil, field by field; closing the gap on one side only is caught', async () => {
    const empty = await both('txpool_status')
    assert.deepEqual(empty.ours, { pending: '0x0', queued: '0x0' })
    assert.deepEqual(empty.ours, empty.theirs)
    assert.deepEqual((await both('txpool_content')).ours, { pending: {}, queued: {} })

    // Sender 0: nonces 0, 1, 3, 4 (2 missing); sender 1: nonce 1 only (0 missing); sender 2: nonce 0.
    for (const raw of [
      await signed(0, 0, 'transfer'),
      await signed(1, 1, 'transfer'),
      await signed(0, 1, 'create'),
      await signed(0, 3, 'legacy'),
      await signed(2, 0, 'accessList'),
      await signed(0, 4, 'transfer'),
    ]) {
      await send(raw)
    }

    const status = await both('txpool_status')
    assert.deepEqual(status.ours, { pending: '0x3', queued: '0x3' })
    assert.deepEqual(status.ours, status.theirs)

    const content = await both('txpool_content')
    const ours = content.ours as Pool<Record<string, unknown>>
    const theirs = content.theirs as Pool<Record<string, unknown>>
    // geth's keys: checksummed senders, decimal nonces.
    for (const side of [ours.pending, ours.queued]) for (const sender of Object.keys(side)) assert.equal(sender, getAddress(sender))
    assert.deepEqual(Object.keys(ours.pending[senders[0]!.address]!), ['0', '1'])
    assert.deepEqual(Object.keys(ours.queued[senders[0]!.address]!), ['3', '4'])
    assert.deepEqual(Object.keys(ours.queued[senders[1]!.address]!), ['1'])
    assert.equal(ours.pending[senders[1]!.address], undefined)
    const pooled = ours.pending[senders[0]!.address]!['0']!
    assert.equal(pooled.blockHash, null)
    assert.equal(pooled.blockNumber, null)
    assert.equal(pooled.transactionIndex, null)
    assert.equal(ours.pending[senders[0]!.address]!['1']!.to, null)
    assert.deepEqual(differences(lowerKeys(ours), lowerKeys(theirs)), [])

    // A pooled transaction reads the same in txpool_content and eth_getTransactionByHash.
    const byHash = await node.rpc('eth_getTransactionByHash', [pooled.hash])
    assert.deepEqual(byHash.result, pooled)

    const inspect = await both('txpool_inspect')
    const inspected = inspect.ours as Pool<string>
    assert.equal(inspected.pending[senders[0]!.address]!['1'], 'contract creation: 1001 wei + 100000 gas × 3000000000 wei')
    assert.equal(inspected.queued[senders[0]!.address]!['3'], `${RECIPIENT}: 1003 wei + 100000 gas × 4000000000 wei`)
    assert.equal(inspected.pending[senders[0]!.address]!['0'], `${RECIPIENT}: 1000 wei + 100000 gas × 100000000000 wei`)
    assert.deepEqual(differences(lowerKeys(inspected, lowerRecipient), lowerKeys(inspect.theirs as Pool<string>, lowerRecipient)), [])

    // txpool_contentFrom (anvil has none): one sender's slice of txpool_content.
    for (const [i, account] of senders.entries()) {
      const from = await node.rpc('txpool_contentFrom', [i === 1 ? account.address.toLowerCase() : account.address])
      assert.deepEqual(from.result, { pending: ours.pending[account.address] ?? {}, queued: ours.queued[account.address] ?? {} })
    }
    const nobody = await node.rpc('txpool_contentFrom', [RECIPIENT])
    assert.deepEqual(nobody.result, { pending: {}, queued: {} })

    // Negative control: close sender 0's gap on mosaic only — the comparison must see nonces 2–4 move to pending.
    const gap = await signed(0, 2, 'transfer')
    assert.equal(typeof (await node.rpc('eth_sendRawTransaction', [gap])).result, 'string')
    const diverged = differences(lowerKeys((await node.rpc('txpool_content')).result as Pool<unknown>), lowerKeys((await rawRpc(anvil.url, 'txpool_content')).result as Pool<unknown>))
    const sender0 = senders[0]!.address.toLowerCase()
    assert.ok(diverged.some((d) => d.startsWith(`$.pending.${sender0}.3:`)), diverged.join('\n'))
    assert.ok(diverged.some((d) => d.startsWith(`$.queued.${sender0}:`)), diverged.join('\n'))
    assert.notDeepEqual((await node.rpc('txpool_status')).result, (await rawRpc(anvil.url, 'txpool_status')).result)

    // … and once anvil has it too, both agree again: five pending for sender 0.
    assert.equal(typeof (await rawRpc(anvil.url, 'eth_sendRawTransaction', [gap])).result, 'string')
    const closed = await both('txpool_content')
    assert.deepEqual(Object.keys((closed.ours as Pool<unknown>).pending[senders[0]!.address]!), ['0', '1', '2', '3', '4'])
    assert.deepEqual(differences(lowerKeys(closed.ours as Pool<unknown>), lowerKeys(closed.theirs as Pool<unknown>)), [])
    assert.deepEqual((await both('txpool_status')).ours, { pending: '0x6', queued: '0x1' })
  })
})
