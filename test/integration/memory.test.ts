import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { bytesToHex } from '@ethereumjs/util'
import type { Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import type { MemoryStatus } from '../../src/node/memory.ts'
import { rawRpc, startNode, type TestNode } from './harness.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const senders = deriveDevAccounts().map((a) => privateKeyToAccount(a.privateKey))
const ADMIN = { authorization: 'Bearer test-token' }
const BLOCKS = 24
const PER_SENDER = 5
const BUDGETS = { chain: 200_000, state: 100_000, trie: 150_000 }

/** Block `b`: every dev account sends PER_SENDER transfers, each to a fresh address (the state grows). */
/**
 * Transfers to fresh addresses. Each carries a byte of calldata: the parallel executor would run
 * plain transfers on its sequential fallback (`predictedWork`), and the test of its workers'
 * budget needs them on the workers.
 */
async function blockTxs(b: number): Promise<Hex[]> {
  const raws: Hex[] = []
  for (const [i, sender] of senders.entries()) {
    for (let k = 0; k < PER_SENDER; k++) {
      const to = bytesToHex(keccak256(Uint8Array.of(b, i, k)).subarray(12)) as Hex
      raws.push(await sender.signTransaction({ chainId: 901, type: 'eip1559', nonce: b * PER_SENDER + k, to, value: 1n, data: '0x01', gas: 22000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n }))
    }
  }
  return raws
}

async function seal(t: TestNode, raws: readonly Hex[]): Promise<void> {
  for (const raw of raws) assert.equal((await t.rpc('eth_sendRawTransaction', [raw])).error, undefined)
  assert.equal(typeof (await rawRpc(t.url, 'admin_sealBlock', [], ADMIN)).result, 'string')
}

/**
 * Weak references to a cached block's transactions, and their hashes. A function of its own: a
 * local of the async test would keep the block alive in the suspended function's registers.
 */
function watchBlock(t: TestNode, number: bigint): { refs: WeakRef<object>[]; hashes: string[] } {
  const { block } = t.node.chain.getBlock(number)!
  assert.equal(block.transactions.length, senders.length * PER_SENDER)
  return { refs: block.transactions.map((tx) => new WeakRef(tx)), hashes: block.transactions.map((tx) => bytesToHex(tx.hash())) }
}

async function memory(t: TestNode): Promise<MemoryStatus> {
  return ((await t.rpc('mosaic_status')).result as { memory: MemoryStatus }).memory
}

describe('memory bounded in bytes', () => {
  it('behavior: caches stay within their byte budgets block after block, evicted blocks free their transactions, and the roots are those of a node that keeps everything', async () => {
    const flags = ['--block-time-ms', '100000', '--commitment-threads', '1']
    const small = await startNode([...flags, '--chain-cache-bytes', String(BUDGETS.chain), '--state-cache-bytes', String(BUDGETS.state), '--trie-cache-bytes', String(BUDGETS.trie)])
    const large = await startNode(flags)
    try {
      let firstBlockTxs: WeakRef<object>[] = []
      let firstHashes: string[] = []
      for (let b = 0; b < BLOCKS; b++) {
        const raws = await blockTxs(b)
        await seal(small, raws)
        await seal(large, raws)
        if (b === 0) ({ refs: firstBlockTxs, hashes: firstHashes } = watchBlock(small, 1n))
        const status = await memory(small)
        for (const cache of ['chain', 'state', 'trie'] as const) {
          assert.equal(status.caches[cache].budget, BUDGETS[cache])
          assert.ok(status.caches[cache].bytes <= BUDGETS[cache], `block ${b + 1}: ${cache} cache ${status.caches[cache].bytes} bytes over its budget ${BUDGETS[cache]}`)
        }
      }
      const status = await memory(small)
      // In-process, through tsx: the status names the sources (the compiled node's says true: compiled.test.ts).
      assert.equal(status.process.compiled, false)
      assert.ok(status.caches.chain.blocks < BLOCKS, `the chain cache holds ${status.caches.chain.blocks} of ${BLOCKS + 1} blocks`)
      assert.ok(status.caches.state.accounts < BLOCKS * senders.length * PER_SENDER, `state holds ${status.caches.state.accounts} accounts`)
      assert.ok(status.caches.trie.releases > 0, 'trie levels were released')
      assert.ok(status.workers.some((w) => w.pool === 'commitment' && w.heapUsed > 0), 'the commitment worker reports its heap')
      assert.ok(status.process.rss > 0 && status.process.heapUsed > 0)
      // Block 1 left the cache: once collected, none of its transaction objects is alive.
      for (let i = 0; i < 3 && firstBlockTxs.some((ref) => ref.deref() !== undefined); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        gc()
      }
      assert.equal(firstBlockTxs.filter((ref) => ref.deref() !== undefined).length, 0, 'transactions of an evicted block are still alive')
      // And it is served again, decoded from LMDB.
      const again = (await small.rpc('eth_getBlockByNumber', ['0x1', false])).result as { transactions: string[] }
      assert.deepEqual(again.transactions, firstHashes)
      // Released trie levels and dropped state change no root, and every account reads back.
      for (let n = 1; n <= BLOCKS; n++) {
        const root = (t: TestNode) => t.rpc('mosaic_getStateRoot', [`0x${n.toString(16)}`]).then((r) => (r.result as { stateRoot: string }).stateRoot)
        assert.equal(await root(small), await root(large), `block ${n}`)
      }
      const probe = bytesToHex(keccak256(Uint8Array.of(0, 0, 0)).subarray(12)) as Hex
      assert.equal(await small.publicClient.getBalance({ address: probe }), 1n)
      const metrics = await (await fetch(`${small.url}/metrics`)).text()
      assert.match(metrics, new RegExp(`mosaic_cache_budget_bytes\\{cache="trie"\\} ${BUDGETS.trie}\\n`))
      assert.match(metrics, /mosaic_memory_bytes\{kind="heap_used"\} \d+/)
    } finally {
      await small.stop()
      await large.stop()
    }
  })

  it('behavior: the parallel executor\'s workers keep their state budget while blocks are built in mini-batches, and the roots stay right', async () => {
    // A worker runs ahead of what is durable for as long as a block is open: it must still drop
    // state within the block, and what it drops must not lose the open block's earlier
    // mini-batches. Two blocks of 12 mini-batches, each mini-batch 100 transfers to fresh addresses.
    const flags = ['--block-time-ms', '100000', '--miniblock-ms', '100000', '--commitment-threads', '1', '--executor', 'parallel', '--executor-threads', '2']
    const small = await startNode([...flags, '--state-cache-bytes', String(BUDGETS.state)])
    const large = await startNode(['--block-time-ms', '100000', '--commitment-threads', '1'])
    const MINI_BATCHES = 12
    try {
      for (let block = 0; block < 2; block++) {
        const all: Hex[] = []
        for (let m = 0; m < MINI_BATCHES; m++) {
          const raws = await blockTxs(block * MINI_BATCHES + m)
          all.push(...raws)
          for (const raw of raws) assert.equal((await small.rpc('eth_sendRawTransaction', [raw])).error, undefined)
          await small.node.sequencer.runMiniBatch()
          // A worker is listed once it has run a chunk: after the first mini-batch, both may not
          // have: while one is busy (recovering senders, say), piscina may hand both chunks to the other.
          const executors = (await memory(small)).workers.filter((w) => w.pool === 'executor')
          assert.ok(executors.length >= 1 && executors.length <= 2, `${executors.length} executor workers listed`)
          if (m === MINI_BATCHES - 1) assert.equal(executors.length, 2, `block ${block + 1}: one executor worker ran no chunk in ${MINI_BATCHES} mini-batches`)
          // Each worker's share is half the budget; it may pass it by one task's reads before its next drop.
          for (const worker of executors) assert.ok(worker.cacheBytes <= BUDGETS.state, `block ${block + 1}, mini-batch ${m}: an executor worker holds ${worker.cacheBytes} bytes of state, over twice its share of ${BUDGETS.state / 2}`)
        }
        assert.equal(typeof (await rawRpc(small.url, 'admin_sealBlock', [], ADMIN)).result, 'string')
        await seal(large, all)
        assert.equal(small.node.sequencer.lastExecution?.mode, 'parallel')
      }
      for (const n of [1, 2]) {
        const root = (t: TestNode) => t.rpc('mosaic_getStateRoot', [`0x${n.toString(16)}`]).then((r) => (r.result as { stateRoot: string }).stateRoot)
        assert.equal(await root(small), await root(large), `block ${n}`)
      }
    } finally {
      await small.stop()
      await large.stop()
    }
  })
})
