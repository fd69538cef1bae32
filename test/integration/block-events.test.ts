/**
 * `mosaic_subscribe("blocks")`: each block's life as one ordered stream over WebSocket, every
 * message numbered, so a client that reconnects — here across a kill -9 of the node — with the
 * last number it saw gets every later event once, in order.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { type Hex, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_KEYS, rawRpc, spawnNode, startNode, tempDataDir } from './harness.ts'
import { connect, eventually } from './ws-client.ts'

type Event = { sequence: Hex; block: Hex; status: string; hash?: Hex; transactions?: Hex[]; stateRoot?: Hex; inHeaderOf?: Hex }

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const sender = privateKeyToAccount(DEV_KEYS[2])
async function send(url: string): Promise<Hex> {
  const nonce = Number(BigInt((await rawRpc(url, 'eth_getTransactionCount', [sender.address, 'pending'])).result as string))
  const raw = await sender.signTransaction({ chainId: 901, type: 'eip1559', nonce, to: `0x${'22'.repeat(20)}`, value: parseEther('0.01'), gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n })
  const answer = await rawRpc(url, 'eth_sendRawTransaction', [raw])
  assert.ok(answer.result, JSON.stringify(answer))
  return answer.result as Hex
}

const wsOf = (url: string) => url.replace(/^http/, 'ws')
const numbers = (events: readonly Event[]) => events.map((e) => BigInt(e.sequence))
const consecutive = (events: readonly Event[], from: bigint) => numbers(events).every((n, i) => n === from + BigInt(i))

describe('mosaic_subscribe("blocks"): the ordered stream of each block\'s life', () => {
  it('behavior: each block is executed (with its transactions) then rooted (with the block whose header carries the root), numbered without gaps', async () => {
    const t = await startNode()
    try {
      const client = await connect(wsOf(t.url))
      const subscribed = await client.call('mosaic_subscribe', ['blocks'])
      const id = subscribed.result as string
      assert.match(id, /^0x[0-9a-f]+$/)
      const hash = await send(t.url)
      const executed = await eventually(() => (client.notifications(id) as Event[]).find((e) => e.status === 'executed' && e.transactions?.includes(hash)), 'the block with the transaction')
      const block = executed.block
      const rooted = await eventually(() => (client.notifications(id) as Event[]).find((e) => e.status === 'rooted' && e.block === block), 'its root')
      assert.ok(BigInt(rooted.sequence) > BigInt(executed.sequence))
      assert.equal(BigInt(rooted.inHeaderOf!), BigInt(block) + 2n)
      assert.equal(rooted.stateRoot, ((await t.rpc('mosaic_getStateRoot', [block])).result as { stateRoot: string }).stateRoot)
      assert.equal(executed.hash, ((await t.rpc('eth_getBlockByNumber', [block, false])).result as { hash: string }).hash)
      const events = client.notifications(id) as Event[]
      assert.ok(consecutive(events, BigInt(events[0]!.sequence)), `gaps in ${numbers(events)}`)
      // Refusals: over HTTP, an unknown stream, a number past the stream's end.
      assert.equal((await t.rpc('mosaic_subscribe', ['blocks'])).error?.code, -32601)
      assert.equal((await client.call('mosaic_subscribe', ['nope'])).error?.code, -32601)
      assert.match((await client.call('mosaic_subscribe', ['blocks', { after: '0xffffffff' }])).error!.message, /past the last block event/)
      assert.equal((await client.call('mosaic_unsubscribe', [id])).result, true)
      client.ws.close()
    } finally {
      await t.stop()
    }
  })

  it('behavior: a client that reconnects after a kill -9 with the last number it saw gets every later event once, in order, then live ones', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    let node = await spawnNode(dataDir)
    const seen: Event[] = []
    try {
      const client = await connect(wsOf(node.url))
      const id = (await client.call('mosaic_subscribe', ['blocks', { after: '0x0' }])).result as string
      let last: Hex | undefined
      for (let i = 0; i < 3; i++) last = await send(node.url)
      // From the very first event (the genesis block's), replayed, then live, until the last
      // transaction's block is rooted.
      const executed = await eventually(() => (client.notifications(id) as Event[]).find((e) => e.status === 'executed' && e.transactions?.includes(last!)), 'the last transaction executed')
      await eventually(() => (client.notifications(id) as Event[]).some((e) => e.status === 'rooted' && e.block === executed.block), 'its block rooted')
      seen.push(...(client.notifications(id) as Event[]))
      assert.ok(consecutive(seen, 1n), `from 1 without gaps: ${numbers(seen)}`)
      assert.equal(seen[0]!.block, '0x0')
      assert.equal(seen[0]!.status, 'executed')
      node.child.kill('SIGKILL')
      await new Promise((resolve) => node.child.once('exit', resolve))
    } finally {
      node.child.kill('SIGKILL')
    }
    node = await spawnNode(dataDir)
    try {
      let lastAfterRestart: Hex | undefined
      for (let i = 0; i < 2; i++) lastAfterRestart = await send(node.url)
      // Resume from the middle of what was seen: the rest of it again, byte for byte, then new events.
      const resumeAfter = BigInt(seen[Math.floor(seen.length / 2)]!.sequence)
      const client = await connect(wsOf(node.url))
      const id = (await client.call('mosaic_subscribe', ['blocks', { after: `0x${resumeAfter.toString(16)}` }])).result as string
      // Until the block of the last transaction sent after the restart (the head read now may
      // still be a block from before it, whose `executed` event lies before the resume point).
      const resumed = await eventually(() => {
        const events = client.notifications(id) as Event[]
        return events.some((e) => e.status === 'executed' && e.transactions?.includes(lastAfterRestart!)) && events
      }, 'the events of the blocks after the restart')
      assert.ok(consecutive(resumed, resumeAfter + 1n), `after ${resumeAfter}: ${numbers(resumed)}`)
      const again = resumed.filter((e) => BigInt(e.sequence) <= BigInt(seen.at(-1)!.sequence))
      assert.deepEqual(again, seen.filter((e) => BigInt(e.sequence) > resumeAfter))
      // Negative control: a client resuming from a later number does not get the earlier events.
      const later = await connect(wsOf(node.url))
      const laterId = (await later.call('mosaic_subscribe', ['blocks', { after: seen.at(-1)!.sequence }])).result as string
      const laterEvents = await eventually(() => (later.notifications(laterId) as Event[]).length > 0 && (later.notifications(laterId) as Event[]), 'events after the last seen')
      assert.equal(BigInt(laterEvents[0]!.sequence), BigInt(seen.at(-1)!.sequence) + 1n)
      client.ws.close()
      later.ws.close()
    } finally {
      node.child.kill('SIGKILL')
    }
  })
})
