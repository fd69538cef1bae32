/**
 * The lagged state root across kill -9 (issue 4, "Crash recovery"): a child `mosaic devnet` with a
 * sharded commitment is killed with SIGKILL while transactions stream in, several times, and
 * restarted on the same data dir; once more with its commitment head moved back 5 blocks, so the
 * restart must recompute those roots. Afterwards every block's recorded root must equal the root
 * an uninterrupted run computes over the same blocks' deltas, and every header must carry the
 * root of the block L before it.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { bytesToHex } from '@ethereumjs/util'
import { type Hex, parseGwei } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { createChainCommon } from '../../src/chain/common.ts'
import { layoutOf } from '../../src/commitment/layout.ts'
import { RpcSource } from '../../src/rpc/client.ts'
import { verifyBlock } from '../../src/verifier/verify.ts'
import { CommitmentPipeline } from '../../src/commitment/pipeline.ts'
import { LmdbStore } from '../../src/storage/lmdb-store.ts'
import { metaKeys, numberKey } from '../../src/storage/schema.ts'
import { rawRpc, spawnNode, type SpawnedNode, tempDataDir } from './harness.ts'

const LAG = 3
const FLAGS = ['--state-commitment', 'sharded', '--shard-nibbles', '2', '--state-root-lag', String(LAG), '--commitment-threads', '2']
const senders = deriveDevAccounts()
  .slice(0, 6)
  .map((account) => privateKeyToAccount(account.privateKey))

async function result<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await rawRpc(url, method, params)
  if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
  return response.result as T
}

describe('state roots across kill -9', { timeout: 240_000 }, () => {
  const children: ChildProcess[] = []
  const dirs: string[] = []
  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGKILL')
        await exited
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  async function spawn(dataDir: string): Promise<SpawnedNode> {
    const node = await spawnNode(dataDir, FLAGS)
    children.push(node.child)
    return node
  }

  /**
   * Transfers from every sender (each to a new account, above the precompiles) until the node
   * goes away; a refusal is an error.
   */
  function stream(url: string) {
    const refusals: string[] = []
    const loops = senders.map(async (account, s) => {
      try {
        let nonce = Number(BigInt(await result<Hex>(url, 'eth_getTransactionCount', [account.address, 'pending'])))
        for (;;) {
          const to = `0x${(0x10000 + s * 1_000_000 + nonce).toString(16).padStart(40, '0')}` as Hex
          const raw = await account.signTransaction({ type: 'eip1559', chainId: 901, nonce, to, value: 1n + BigInt(nonce), gas: 21_000n, maxFeePerGas: parseGwei('10'), maxPriorityFeePerGas: 1n })
          const response = await rawRpc(url, 'eth_sendRawTransaction', [raw])
          if (response.error !== undefined) refusals.push(response.error.message)
          else nonce++
        }
      } catch {
        // fetch failed: the node was killed.
      }
    })
    return {
      stop: async () => {
        await Promise.all(loops)
        assert.deepEqual(refusals, [])
      },
    }
  }

  it('behavior: after kill -9 at any moment, restart recomputes the missing roots and they equal an uninterrupted run', async (context) => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    let recoveries = 0
    let node = await spawn(dataDir)
    for (let cycle = 0; cycle < 4; cycle++) {
      const load = stream(node.url)
      await new Promise((resolve) => setTimeout(resolve, 500 + 100 * cycle))
      // Kill the moment a block is reported sealed: its root is then usually still on its way to LMDB.
      const exited = once(node.child, 'exit')
      const child = node.child
      const onSealed = (chunk: Buffer) => {
        if (chunk.toString().includes('sealed block')) child.kill('SIGKILL')
      }
      child.stdout?.on('data', onSealed)
      setTimeout(() => child.kill('SIGKILL'), 2000).unref()
      await exited
      await load.stop()
      node = await spawn(dataDir)
      // The node logs which roots it had to recompute: the kill landed before they were recorded.
      if (/recomputing state roots of blocks/.test(node.output())) recoveries++
    }
    // Whether a kill lands between a block and its commitment is a race; make sure the recovery
    // path runs at least once: move the commitment head back 5 blocks, as if the last 5
    // commitments had not reached the disk.
    {
      const exited = once(node.child, 'exit')
      node.child.kill('SIGKILL')
      await exited
      const store = LmdbStore.open(dataDir)
      const committed = store.getCommitmentHead()!.number
      assert.ok(committed >= 5n)
      await store.putMeta(metaKeys.commitmentHead, numberKey(committed - 5n))
      await store.close()
      node = await spawn(dataDir)
      assert.match(node.output(), new RegExp(`recomputing state roots of blocks ${committed - 4n}–\\d+`))
      // Their witnesses were rebuilt from the read sets stored with the blocks, and verify.
      const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
      const source = new RpcSource(node.url, common)
      for (let n = committed - 4n; n <= committed; n++) {
        const item = await source.fetch(n)
        await verifyBlock({ common, layout: layoutOf('sharded', 2), block: item.block, witness: item.witness, postStateRoot: item.postStateRoot, delta: item.delta })
      }
    }
    const head = BigInt(await result<Hex>(node.url, 'eth_blockNumber'))
    const final = await result<{ stateRoot: Hex; final: boolean }>(node.url, 'mosaic_getStateRoot', ['latest'])
    const roots: Hex[] = []
    const headerRoots: Hex[] = []
    for (let n = 0n; n <= head; n++) {
      roots.push((await result<{ stateRoot: Hex }>(node.url, 'mosaic_getStateRoot', [`0x${n.toString(16)}`])).stateRoot)
      headerRoots.push((await result<{ stateRoot: Hex }>(node.url, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, false])).stateRoot)
    }
    assert.equal(final.stateRoot, roots[Number(head)])
    const exited = once(node.child, 'exit')
    node.child.kill('SIGKILL')
    await exited

    // The uninterrupted run: the same blocks' deltas, from genesis, through a fresh pipeline.
    const store = LmdbStore.open(dataDir)
    const pipeline = await CommitmentPipeline.open({ layout: layoutOf('sharded', 2), threads: 1 })
    try {
      for (let n = 0n; n <= head; n++) pipeline.submit(n, store.getStateDelta(n)!)
      for (let n = 0n; n <= head; n++) {
        const expected = bytesToHex(await pipeline.rootOf(n))
        assert.equal(roots[Number(n)], expected, `root of block ${n}`)
        if (n > 0n) assert.equal(headerRoots[Number(n)], roots[Number(n - BigInt(LAG) < 0n ? 0n : n - BigInt(LAG))], `header of block ${n}`)
      }
    } finally {
      await pipeline.close()
      await store.close()
    }
    context.diagnostic(`${head} blocks; ${recoveries} of 4 kills landed before a block’s root was recorded, plus one forced 5-block rollback`)
    assert.ok(head > 10n, `only ${head} blocks were produced`)
  })
})
