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
import { bytesToHex, type Hex, type PublicClient, toBlobs } from 'viem'
import { blobVersionedHash } from '../crypto/kzg.ts'
import type { MosaicError } from '../errors.ts'
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
