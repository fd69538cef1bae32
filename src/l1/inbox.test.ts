/**
 * Blob frames read from a beacon API (issue 12): the beacon block is found by its root — which
 * the next execution block carries (EIP-4788) — not by the execution block number, and every
 * blob must match the versioned hash the L1 transaction committed to.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { bytesToHex, ContractFunctionExecutionError, ContractFunctionZeroDataError, createPublicClient, type Hex, http, type PublicClient, toBlobs, zeroHash } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { deriveDevAccounts } from '../chain/dev-accounts.ts'
import { blobVersionedHash } from '../crypto/kzg.ts'
import type { MosaicError } from '../errors.ts'
import { type Anvil, startAnvil } from './anvil.ts'
import { deployInbox } from './deploy.ts'
import { InboxReader } from './inbox.ts'

const L1_BLOCK = 41n
const BEACON_ROOT = `0x${'be'.repeat(32)}` as Hex

describe('blob frames from a beacon API', { timeout: 60_000 }, () => {
  const frame = new TextEncoder().encode('a frame of batch data, carried in a blob')
  const [blob] = toBlobs({ data: bytesToHex(frame) })
  const [other] = toBlobs({ data: bytesToHex(new TextEncoder().encode('something else')) })
  let versioned: Hex
  let served: Hex
  let requested: string[] = []
  let server: Server
  let beacon: string

  /** The L1 as the reader sees it: block 41 carries one blob transaction; block 42 names 41's beacon root. */
  const client = {
    getBlock: async ({ blockNumber }: { blockNumber: bigint }) =>
      blockNumber === L1_BLOCK ? { transactions: [{ type: 'eip4844', blobVersionedHashes: [versioned] }] } : { parentBeaconBlockRoot: BEACON_ROOT },
  } as unknown as PublicClient

  before(async () => {
    versioned = blobVersionedHash(blob!)
    server = createServer((req, res) => {
      requested.push(req.url ?? '')
      if (req.url === `/eth/v1/beacon/blobs/${BEACON_ROOT}`) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [served] }))
      else res.writeHead(404).end('{"code":404,"message":"Block not found"}')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    beacon = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => server.close())

  const blobsOf = (reader: InboxReader, n: bigint) => (reader as unknown as { blobsOf(n: bigint): Promise<Map<string, Uint8Array>> }).blobsOf(n)

  it('behavior: the blobs of an L1 block are fetched by its beacon block root and decode to the frame', async () => {
    served = blob!
    requested = []
    const blobs = await blobsOf(new InboxReader(client, `0x${'11'.repeat(20)}`, beacon), L1_BLOCK)
    assert.deepEqual(requested, [`/eth/v1/beacon/blobs/${BEACON_ROOT}`])
    assert.deepEqual(blobs.get(versioned), frame)
  })

  it('behavior: a blob that does not match the committed versioned hash is refused (a transport failure, never the frame)', async () => {
    served = other!
    await assert.rejects(blobsOf(new InboxReader(client, `0x${'11'.repeat(20)}`, beacon), L1_BLOCK), (error: MosaicError) => error.code === 'TRANSPORT' && error.message.includes(`the L1 committed ${versioned}`))
  })
})

describe('the inbox state at an L1 tag (the poster and verifiers poll it every 250 ms)', { timeout: 60_000 }, () => {
  let anvil: Anvil
  let client: PublicClient
  /** JSON-RPC methods the reader's client sent, in order. */
  let calls: string[] = []
  let inbox: Hex

  before(async () => {
    anvil = await startAnvil()
    client = createPublicClient({
      transport: http(anvil.url, {
        retryCount: 0,
        onFetchRequest: async (request) => {
          const body = (await request.clone().json()) as { method: string } | { method: string }[]
          for (const call of Array.isArray(body) ? body : [body]) calls.push(call.method)
        },
      }),
    }) as PublicClient
    const account = privateKeyToAccount(deriveDevAccounts(1)[0]!.privateKey as Hex)
    inbox = await deployInbox({ client, url: anvil.url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: zeroHash })
  })
  after(() => anvil.stop())

  it('behavior: is read once per L1 block: asked again at the same block, only the block is looked up', async () => {
    const reader = new InboxReader(client, inbox)
    calls = []
    const first = await reader.state()
    assert.deepEqual(calls.sort(), ['eth_call', 'eth_call', 'eth_call', 'eth_getBlockByNumber'], 'the first read: the block, then three fields')
    assert.equal(first.nextBlock, 1n)
    calls = []
    assert.deepEqual(await reader.state(), first)
    assert.deepEqual(calls, ['eth_getBlockByNumber'], 'the same block: nothing read again')
    // Control: once the L1 has a new block, the state is read at it.
    await client.request({ method: 'evm_mine' } as never)
    calls = []
    const next = await reader.state()
    assert.equal(calls.filter((method) => method === 'eth_call').length, 3, `the new block must be read; calls: ${calls.join(', ')}`)
    assert.equal(next.l1Block, first.l1Block + 1n)
    // A given block number is always read: it may be asked again after a reorg.
    calls = []
    await reader.state(first.l1Block)
    assert.equal(calls.filter((method) => method === 'eth_call').length, 3)
  })

  it('behavior: an L1 block that predates the inbox has no state, and is not asked again either', async () => {
    const reader = new InboxReader(client, inbox)
    // anvil's finalized block is still its genesis, before the inbox was deployed.
    calls = []
    await assert.rejects(reader.state('finalized'), (error: Error) => error instanceof ContractFunctionExecutionError && error.walk((e) => e instanceof ContractFunctionZeroDataError) !== null)
    assert.ok(calls.includes('eth_call'), 'read once')
    calls = []
    await assert.rejects(reader.state('finalized'), (error: Error) => error instanceof ContractFunctionExecutionError)
    assert.deepEqual(calls, ['eth_getBlockByNumber'], 'the same block: not read again')
    // finalizedState says so without an error: nothing is final yet.
    assert.equal(await reader.finalizedState(), undefined)
  })
})
