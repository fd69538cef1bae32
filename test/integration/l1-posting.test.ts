/**
 * The poster against a real anvil (issue 6): batches go to the inbox in order and decode back to
 * the sequencer's blocks; an L1 outage mid-posting, a killed poster and an L1 reorg each end with
 * every batch on the L1 once — no gap, no duplicate — and blobs carry batches as well as calldata.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { once as onceEvent } from 'node:events'
import type { AddressInfo } from 'node:net'
import { after, describe, it } from 'node:test'
import type { MosaicError } from '../../src/errors.ts'
import { InboxReader } from '../../src/l1/inbox.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { connectL1 } from '../../src/node/l1.ts'
import { openQueues } from '../../src/queue/open.ts'
import { redisForTests } from '../redis.ts'
import { rawRpc, spawnNode, startNode, tempDataDir, type TestNode } from './harness.ts'
import { checkInbox, readerFor, sleep, traffic, waitFor } from './l1-harness.ts'

const FAST = ['--batch-max-blocks', '4', '--batch-max-age-ms', '200', '--l1-resend-ms', '1500']

/** `fn` run at most once; later calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  return () => (running ??= fn())
}

/** A node posting to `anvil` through in-process queues. */
async function postingNode(anvil: Anvil, flags: string[] = []) {
  const node = await startNode([...FAST, ...flags])
  const queues = await openQueues()
  const l1 = await connectL1(node.node, { url: anvil.url, queues, log: () => {} })
  return {
    node,
    l1,
    reader: readerFor(anvil.url, l1.inbox),
    /** Idempotent: a test stops it, and the suite's cleanup stops it again when the test failed first. */
    stop: once(async () => {
      await l1.stop()
      await queues.close()
      await node.stop()
    }),
  }
}

/** Wait until the inbox covers every block the node had when called. */
async function postedThroughHead(node: TestNode, reader: ReturnType<typeof readerFor>, timeoutMs = 60_000) {
  const head = node.node.chain.head
  await waitFor(`the inbox to reach block ${head}`, async () => (await reader.state()).nextBlock > head, timeoutMs)
}

describe('L1 posting on anvil', { timeout: 240_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {})
  })

  it('behavior: batches are posted in order and decode back to the sequencer’s blocks, roots and witness hashes', async () => {
    const anvil = await startAnvil()
    cleanup.push(() => anvil.stop())
    const posting = await postingNode(anvil)
    cleanup.push(() => posting.stop())
    const load = traffic(posting.node)
    cleanup.push(() => load.stop())
    await waitFor('three batches on the L1', async () => (await posting.reader.state()).nextIndex >= 3n)
    const sent = await load.stop()
    await postedThroughHead(posting.node, posting.reader)
    const summary = await checkInbox(posting.reader, posting.node.node)
    assert.ok(summary.batches >= 3 && sent > 0)
    type Status = { l1: { nextIndex: string }; lastPosted: { index: string } | null; queue: { failed: number }; transactions: { mined: number } }
    // The inbox shows a batch as soon as it is mined; its job finishes once the receipt is confirmed.
    const status = await waitFor('the last batch’s job to finish', async () => {
      const current = (await rawRpc(posting.node.url, 'mosaic_posterStatus')).result as Status
      return current.lastPosted !== null && BigInt(current.lastPosted.index) === summary.nextIndex - 1n && current
    })
    assert.equal(BigInt(status.l1.nextIndex) >= 3n, true)
    assert.equal(status.queue.failed, 0)
    assert.ok(status.transactions.mined >= 2 * summary.batches, 'a frame and a submission per batch')
    const metrics = await (await fetch(`${posting.node.url}/metrics`)).text()
    assert.match(metrics, /mosaic_l1_post_jobs_total\{outcome="posted"\} [1-9]/)
    assert.match(metrics, /mosaic_l1_transactions\{event="mined"\} [1-9]/)
    // `safe` is the last block in a batch on the L1.
    await waitFor('the safe block to reach the L1', async () => {
      const safe = (await rawRpc(posting.node.url, 'eth_getBlockByNumber', ['safe', false])).result as { number: string }
      return BigInt(safe.number) === summary.nextBlock - 1n
    })
    await posting.stop()
  })

  it('behavior: anvil stopped in the middle of posting and restarted: posting resumes with no gap and no duplicate', async () => {
    const state = join(tempDataDir(), 'anvil-state.json')
    let anvil = await startAnvil(['--state', state])
    const port = anvil.port
    cleanup.push(() => anvil.stop())
    const posting = await postingNode(anvil)
    cleanup.push(() => posting.stop())
    const load = traffic(posting.node)
    cleanup.push(() => load.stop())
    await waitFor('a first batch on the L1', async () => (await posting.reader.state()).nextIndex >= 1n)
    await anvil.stop()
    // The L1 is down while blocks keep coming: the poster's jobs fail and back off.
    await sleep(2_500)
    const during = (await rawRpc(posting.node.url, 'mosaic_posterStatus')).result as { lastError: string | null }
    assert.ok(during.lastError !== null, 'the outage is visible in mosaic_posterStatus')
    anvil = await startAnvil(['--state', state], { port })
    await sleep(1_000)
    await load.stop()
    await postedThroughHead(posting.node, posting.reader)
    const summary = await checkInbox(posting.reader, posting.node.node)
    assert.ok(summary.batches >= 2)
    await posting.stop()
    rmSync(state, { force: true })
  })

  it('behavior: an L1 reorg (snapshot/revert) that drops posted batches has them posted again', async () => {
    const anvil = await startAnvil()
    cleanup.push(() => anvil.stop())
    const posting = await postingNode(anvil)
    cleanup.push(() => posting.stop())
    const load = traffic(posting.node)
    cleanup.push(() => load.stop())
    await waitFor('a first batch on the L1', async () => (await posting.reader.state()).nextIndex >= 1n)
    const snapshot = (await rawRpc(anvil.url, 'evm_snapshot')).result as string
    const { nextIndex: before } = await posting.reader.state()
    await waitFor('two more batches', async () => (await posting.reader.state()).nextIndex >= before + 2n)
    assert.equal((await rawRpc(anvil.url, 'evm_revert', [snapshot])).result, true)
    assert.ok((await posting.reader.state()).nextIndex <= before + 1n, 'the revert dropped batches')
    await waitFor('the poster to notice the reorg', async () => ((await rawRpc(posting.node.url, 'mosaic_posterStatus')).result as { reorgs: number }).reorgs >= 1)
    await load.stop()
    await postedThroughHead(posting.node, posting.reader)
    await checkInbox(posting.reader, posting.node.node)
    await posting.stop()
  })

  it('behavior: blob frames (DA_MODE=blobs) carry a batch that decodes back like calldata', async () => {
    const anvil = await startAnvil()
    cleanup.push(() => anvil.stop())
    const posting = await postingNode(anvil, ['--da-mode', 'blobs', '--batch-max-blocks', '100', '--batch-max-age-ms', '1500'])
    cleanup.push(() => posting.stop())
    const load = traffic(posting.node, 1, 30)
    cleanup.push(() => load.stop())
    await sleep(1_000)
    await load.stop()
    await postedThroughHead(posting.node, posting.reader, 90_000)
    const summary = await checkInbox(posting.reader, posting.node.node)
    assert.ok(summary.batches >= 1)
    const { batch } = await posting.reader.readBatch(0n)
    const tx = await posting.reader.client.getTransaction({ hash: (await posting.reader.frames(batch.dataHash)).length > 0 ? await firstFrameTx(posting.reader, batch.dataHash) : '0x' })
    assert.equal(tx.type, 'eip4844')
    // A beacon API that serves other blob bytes is caught by the versioned hash (a transport
    // failure of that API — retried, and FAILED as withheld past the deadline — never a verdict).
    const beacon = createServer(async (req, res) => {
      const upstream = await fetch(`${anvil.url}${req.url}`)
      const body = (await upstream.json()) as { data?: string[] }
      if (Array.isArray(body.data)) body.data = body.data.map((blob) => `${blob.slice(0, 10)}${blob[10] === '0' ? '1' : '0'}${blob.slice(11)}`)
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
    beacon.listen(0, '127.0.0.1')
    await onceEvent(beacon, 'listening')
    try {
      const lying = new InboxReader(posting.reader.client, posting.reader.address, `http://127.0.0.1:${(beacon.address() as AddressInfo).port}`)
      await assert.rejects(lying.readBatch(0n), (error: MosaicError) => error.code === 'TRANSPORT' && /hashes to 0x01[0-9a-f]{62}, the L1 committed/.test(error.message))
    } finally {
      beacon.close()
    }
    await posting.stop()
  })
})

async function firstFrameTx(reader: ReturnType<typeof readerFor>, dataHash: `0x${string}`): Promise<`0x${string}`> {
  const { inboxArtifact } = await import('../../src/l1/inbox.ts')
  const logs = await reader.client.getContractEvents({ address: reader.address, abi: inboxArtifact().abi, eventName: 'FramePosted', args: { dataHash }, fromBlock: 0n } as never)
  return (logs[0] as unknown as { transactionHash: `0x${string}` }).transactionHash
}

describe('L1 posting through Redis queues', { timeout: 180_000 }, async () => {
  const redis = await redisForTests()
  it('behavior: the poster killed (SIGKILL) mid-posting and restarted resumes from the inbox: no gap, no duplicate', { skip: 'skip' in redis ? redis.skip : false }, async () => {
    if ('skip' in redis) return
    const anvil = await startAnvil(['--block-time', '1'])
    const dataDir = tempDataDir()
    const queueFlags = ['--redis-url', redis.url, '--queue-prefix', `poster-kill-${process.pid}`, '--status-port', '0']
    try {
      let child = await spawnNode(dataDir, [...FAST, '--l1', anvil.url, ...queueFlags])
      const inbox = /Inbox: +(0x[0-9a-f]{40})/.exec(await waitFor('the inbox address', () => /Inbox: +0x[0-9a-f]{40}/.test(child.output()) && child.output()))![1] as `0x${string}`
      const reader = readerFor(anvil.url, inbox)
      const send = async () => {
        for (let i = 0; i < 6; i++) await rawRpc(child.url, 'eth_sendRawTransaction', [await signedTransfer(child.url, i)])
      }
      await send()
      await waitFor('a first batch', async () => (await reader.state()).nextIndex >= 1n)
      await send()
      child.child.kill('SIGKILL')
      await new Promise((resolve) => child.child.once('exit', resolve))
      child = await spawnNode(dataDir, [...FAST, '--l1', anvil.url, '--inbox', inbox, ...queueFlags])
      // Transactions still pooled at the kill are gone: wait for blocks past what is posted, so
      // the restarted poster has a batch of its own to post.
      const posted = (await reader.state()).nextBlock
      await send()
      const head = await waitFor('blocks past the posted ones', async () => {
        const n = BigInt((await rawRpc(child.url, 'eth_blockNumber')).result as string)
        return n >= posted ? n : undefined
      })
      await waitFor(`the inbox to reach block ${head}`, async () => (await reader.state()).nextBlock > head, 90_000)
      child.child.kill('SIGTERM')
      await new Promise((resolve) => child.child.once('exit', resolve))
      // Check the L1 against the node's own store, opened once the process is gone.
      const reopened = await startNode([], { dataDir })
      try {
        const summary = await checkInbox(reader, reopened.node)
        assert.ok(summary.batches >= 2)
      } finally {
        await reopened.stop()
      }
    } finally {
      await anvil.stop()
      await redis.stop()
    }
  })
})

/** A signed transfer from dev account 2 with the node's next nonce. */
async function signedTransfer(url: string, i: number): Promise<`0x${string}`> {
  const { privateKeyToAccount } = await import('viem/accounts')
  const account = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a')
  const nonce = Number(BigInt((await rawRpc(url, 'eth_getTransactionCount', [account.address, 'pending'])).result as string))
  return account.signTransaction({ chainId: 901, type: 'eip1559', nonce, to: `0x${(i + 1).toString(16).padStart(40, '0')}`, value: 1n, gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n })
}
