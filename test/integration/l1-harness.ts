/**
 * Helpers for the L1 integration tests: a node connected to an anvil, traffic, waiting, and the
 * check every posting test ends with — the inbox's batches chain without gap or duplicate and
 * decode back to exactly the sequencer's blocks and roots.
 */
import assert from 'node:assert/strict'
import { bytesToHex } from '@ethereumjs/util'
import { createPublicClient, type Hex, http, parseEther, type PublicClient, zeroHash } from 'viem'
import { InboxReader, inboxArtifact } from '../../src/l1/inbox.ts'
import type { MosaicNode } from '../../src/node/node.ts'
import type { TestNode } from './harness.ts'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`)
    await sleep(everyMs)
  }
}

export function l1Client(url: string): PublicClient {
  return createPublicClient({ transport: http(url, { retryCount: 0 }), pollingInterval: 50 }) as PublicClient
}

/**
 * Send transfers from dev account `keyIndex` until stopped, or for `maxMs` at most, so that a test
 * that fails before stopping it cannot keep its file's process alive; resolves with how many were sent.
 */
export function traffic(node: TestNode, keyIndex = 1, everyMs = 60, maxMs = 180_000): { stop(): Promise<number> } {
  let running = true
  let sent = 0
  const wallet = node.wallet(keyIndex)
  const until = Date.now() + maxMs
  const loop = (async () => {
    while (running && Date.now() < until) {
      try {
        await wallet.sendTransaction({ to: `0x${(sent % 7 + 1).toString(16).padStart(40, '0')}`, value: parseEther('0.001'), chain: null } as never)
        sent++
      } catch {
        // a full mempool or a stopping node: keep going
      }
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return sent
    },
  }
}

export type L1Summary = { nextIndex: bigint; nextBlock: bigint; batches: number }

/**
 * The inbox's batches 0…nextIndex−1: exactly one `BatchSubmitted` per index (no duplicate),
 * contiguous block ranges from block 1 chained by batch hash (no gap), no frame posted twice,
 * and data that decodes to the node's own blocks, post-state roots and witness hashes.
 */
export async function checkInbox(reader: InboxReader, node: MosaicNode): Promise<L1Summary> {
  const { nextIndex, nextBlock } = await reader.state()
  const { abi } = inboxArtifact()
  let expectedFirst = 1n
  let previous: Hex = zeroHash
  for (let i = 0n; i < nextIndex; i++) {
    const events = await reader.client.getContractEvents({ address: reader.address, abi, eventName: 'BatchSubmitted', args: { index: i }, fromBlock: 0n } as never)
    assert.equal(events.length, 1, `batch ${i} is on the L1 ${events.length} times`)
    const { batch, content } = await reader.readBatch(i)
    assert.equal(batch.firstBlock, expectedFirst, `batch ${i} starts at ${batch.firstBlock}, expected ${expectedFirst} (a gap or overlap)`)
    assert.equal(batch.previous, previous, `batch ${i} names the wrong predecessor`)
    const frames = await reader.frames(batch.dataHash)
    assert.equal(new Set(frames.map((f) => f.frameIndex)).size, frames.length, `a frame of batch ${i} was posted twice`)
    content.blocks.forEach((rlp, j) => {
      const n = batch.firstBlock + BigInt(j)
      assert.equal(bytesToHex(rlp), bytesToHex(node.store.getBlock(n)!.serialized), `block ${n} on the L1 differs from the sequencer's`)
      assert.equal(bytesToHex(content.stateRoots[j]!), bytesToHex(node.commitment.rootIfComputed(n)!), `root of block ${n} on the L1 differs`)
    })
    expectedFirst = batch.lastBlock + 1n
    previous = batch.batchHash
  }
  assert.equal(nextBlock, expectedFirst)
  return { nextIndex, nextBlock, batches: Number(nextIndex) }
}

export function readerFor(url: string, inbox: Hex): InboxReader {
  return new InboxReader(l1Client(url), inbox, url)
}
