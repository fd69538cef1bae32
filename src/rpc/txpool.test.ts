/**
 * The txpool handlers against a real `Mempool` on a fake state, without a node (the shapes are
 * compared with anvil's in `test/integration/txpool.test.ts`).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, bytesToUnprefixedHex, KECCAK256_NULL, privateToAddress, toChecksumAddress } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { Mempool, type SenderContent } from '../mempool/mempool.ts'
import type { AccountRecord, StateReader } from '../state/types.ts'
import { RpcError } from './errors.ts'
import { createTxpoolMethods, TXPOOL_LIST_MAX } from './txpool.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const key = keccak256(Uint8Array.of(7))
const sender = bytesToUnprefixedHex(privateToAddress(key))
const context = { admin: false }

function tx(nonce: bigint) {
  return createFeeMarket1559Tx({ nonce, gasLimit: 21000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: `0x${'22'.repeat(20)}`, value: 3n, chainId: 901n }, { common }).sign(key)
}

describe('txpool handlers', () => {
  it('default: status, content, contentFrom and inspect over a pool with a nonce gap', async () => {
    const accounts = new Map<string, AccountRecord>([[sender, { nonce: 5n, balance: 10n ** 20n, codeHash: KECCAK256_NULL }]])
    const state: StateReader = { getAccount: (a) => accounts.get(a), getStorage: () => new Uint8Array(), getCode: () => undefined }
    const mempool = new Mempool({ common, maxTxs: 100, maxPerSender: 16, txMaxBytes: 131072, blockGasLimit: 30_000_000n, baseFeeFloor: 1n, state: () => state })
    for (const n of [5n, 7n, 6n, 9n]) await mempool.add(tx(n).serialize())
    const methods = createTxpoolMethods({ mempool })
    assert.deepEqual(await methods.txpool_status!([], context), { pending: '0x3', queued: '0x1' })
    const checksummed = toChecksumAddress(`0x${sender}`)
    const content = (await methods.txpool_content!([], context)) as { pending: Record<string, Record<string, { nonce: string; hash: string }>>; queued: Record<string, Record<string, unknown>> }
    assert.deepEqual(Object.keys(content.pending), [checksummed])
    assert.deepEqual(Object.keys(content.pending[checksummed]!), ['5', '6', '7'])
    assert.deepEqual(Object.keys(content.queued[checksummed]!), ['9'])
    assert.equal(content.pending[checksummed]!['6']!.hash, bytesToHex(tx(6n).hash()))
    assert.deepEqual(await methods.txpool_contentFrom!([`0x${sender}`], context), { pending: content.pending[checksummed], queued: content.queued[checksummed] })
    assert.deepEqual(await methods.txpool_inspect!([], context), {
      pending: { [checksummed]: Object.fromEntries(['5', '6', '7'].map((n) => [n, `${toChecksumAddress(`0x${'22'.repeat(20)}`)}: 3 wei + 21000 gas × 1000000000 wei`])) },
      queued: { [checksummed]: { '9': `${toChecksumAddress(`0x${'22'.repeat(20)}`)}: 3 wei + 21000 gas × 1000000000 wei` } },
    })
  })

  it('behavior: contentFrom names a bad address; content and inspect refuse more than TXPOOL_LIST_MAX transactions with -32005', async () => {
    const methods = createTxpoolMethods({ mempool: { content: () => [] } })
    await assert.rejects(async () => methods.txpool_contentFrom!(['0x1234'], context), (e: RpcError) => e.code === -32602 && /invalid address: expected 20 bytes/.test(e.message))
    await assert.rejects(async () => methods.txpool_contentFrom!([], context), (e: RpcError) => e.code === -32602)
    // A pool larger than the limit (only its size is read before refusing).
    const entries = Array.from({ length: TXPOOL_LIST_MAX + 1 }, () => ({}))
    const huge = createTxpoolMethods({ mempool: { content: () => [{ pending: entries, queued: [] } as unknown as SenderContent] } })
    for (const method of ['txpool_content', 'txpool_inspect']) {
      await assert.rejects(async () => huge[method]!([], context), (e: RpcError) => e.code === -32005 && e.message.includes(`would list ${TXPOOL_LIST_MAX + 1} transactions`))
    }
    assert.deepEqual(await huge.txpool_status!([], context), { pending: `0x${(TXPOOL_LIST_MAX + 1).toString(16)}`, queued: '0x0' })
  })
})
