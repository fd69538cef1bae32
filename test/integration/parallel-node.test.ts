import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { rawRpc, startNode, type TestNode } from './harness.ts'

const accounts = deriveDevAccounts()
const SINKS = Array.from({ length: 7 }, (_, i) => `0x${(0xa0 + i).toString(16).padStart(40, '0')}` as Hex)
const ADMIN = { authorization: 'Bearer test-token' }

/**
 * 10 senders × 5 nonces, paying the sinks, the fee recipient, and each other (some conflicts).
 * Each carries a byte of calldata: a block of plain transfers is predicted cheaper to run
 * sequentially and would not reach the workers (`sequentialIsFaster`).
 */
async function burst(): Promise<Hex[]> {
  const raws: Hex[] = []
  for (let nonce = 0; nonce < 5; nonce++) {
    for (let i = 0; i < accounts.length; i++) {
      const to = nonce === 2 ? accounts[(i + 1) % accounts.length]!.address : nonce === 4 ? '0x4200000000000000000000000000000000000011' : SINKS[(i + nonce) % SINKS.length]!
      raws.push(
        await privateKeyToAccount(accounts[i]!.privateKey).signTransaction({
          chainId: 901, type: 'eip1559', nonce, to, value: BigInt(1000 + i * 10 + nonce), data: '0x01', gas: 30000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n + BigInt(i),
        }),
      )
    }
  }
  return raws
}

async function runBurst(executor: 'sequential' | 'parallel', flags: string[] = []) {
  const t: TestNode = await startNode(['--executor', executor, '--executor-threads', '2', '--block-time-ms', '100000', '--miniblock-ms', '100000', ...flags])
  try {
    // One JSON-RPC batch: with the parallel executor, the senders are recovered on its workers.
    const raws = await burst()
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(raws.map((raw, id) => ({ jsonrpc: '2.0', id, method: 'eth_sendRawTransaction', params: [raw] }))),
    })
    const answers = (await response.json()) as { id: number; result?: string; error?: unknown }[]
    assert.deepEqual(answers.map((a) => a.id), raws.map((_, id) => id))
    for (const answer of answers) assert.equal(answer.error, undefined)
    const sealed = await rawRpc(t.url, 'admin_sealBlock', [], ADMIN)
    assert.equal(sealed.result, '0x1')
    const block = await t.publicClient.getBlock({ blockNumber: 1n })
    const balances: Record<string, bigint> = {}
    for (const address of [...accounts.map((a) => a.address), ...SINKS, '0x4200000000000000000000000000000000000011' as Hex]) {
      balances[address] = await t.publicClient.getBalance({ address })
    }
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    const receipts = ((await rawRpc(t.url, 'eth_getBlockReceipts', ['0x1'])).result as { transactionHash: string; status: string; gasUsed: string; cumulativeGasUsed: string; from: string }[]).map(
      ({ transactionHash, status, gasUsed, cumulativeGasUsed, from }) => ({ transactionHash, status, gasUsed, cumulativeGasUsed, from }),
    )
    const root = ((await rawRpc(t.url, 'mosaic_getStateRoot', ['0x1'])).result as { stateRoot: string }).stateRoot
    const status = (await rawRpc(t.url, 'mosaic_status')).result as { lastExecution: { block: string; mode: string; rounds: number; reexecutions: number; conflicts: number; hotKeys: { address: string; conflicts: number }[] } }
    return { block, balances, metrics, receipts, root, status }
  } finally {
    await t.stop()
  }
}

describe('parallel executor inside the node (LMDB-backed workers)', () => {
  it('behavior: a 50-transaction block ends in the same state as with the sequential executor', async () => {
    // The sequential node recovers senders on its main thread here (RECOVERY_THREADS=0).
    const sequential = await runBurst('sequential', ['--recovery-threads', '0'])
    const parallel = await runBurst('parallel')
    assert.equal(parallel.block.transactions.length, 50)
    // The same order — the mempool's, as the transactions arrived —, the same receipts, the same state.
    assert.deepEqual(parallel.block.transactions, sequential.block.transactions)
    assert.deepEqual(parallel.receipts, sequential.receipts)
    assert.equal(parallel.root, sequential.root)
    // Visibility: how the block ran, its conflicts and the keys behind them.
    const execution = parallel.status.lastExecution
    assert.equal(execution.block, '0x1')
    assert.equal(execution.mode, 'parallel')
    assert.ok(execution.rounds >= 1)
    assert.equal(execution.hotKeys.length > 0, execution.conflicts > 0, JSON.stringify(execution))
    assert.equal(execution.hotKeys.reduce((sum, k) => sum + k.conflicts, 0) <= execution.conflicts, true)
    assert.match(parallel.metrics, new RegExp(`mosaic_executor_conflicts_total ${execution.conflicts}\n`))
    assert.equal(sequential.status.lastExecution.mode, 'sequential')
    assert.equal(parallel.block.gasUsed, sequential.block.gasUsed)
    assert.deepEqual(parallel.balances, sequential.balances)
    assert.match(parallel.metrics, /mosaic_executor_blocks_total\{executor_mode="parallel"\} 1/)
    assert.match(sequential.metrics, /mosaic_executor_blocks_total\{executor_mode="sequential"\} 1/)
    // Every incoming transaction's sender was recovered on the workers, none on the main thread.
    assert.match(parallel.metrics, /mosaic_worker_sender_recoveries 50\n/)
    assert.doesNotMatch(sequential.metrics, /mosaic_worker_sender_recoveries \d/)
  })
})
