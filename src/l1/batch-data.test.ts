import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createBlock } from '@ethereumjs/block'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { createRandom } from '../utils/random.ts'
import { type BatchContent, batchDataHash, decodeBatchData, encodeBatchData, encodeBatchDataOffThread, reassembleFrames, splitFrames, witnessCommitment } from './batch-data.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const KEY = keccak256(Uint8Array.of(9))

/** Blocks with signed transfers, as the sequencer stores them (RLP), with roots and witness hashes. */
function batch(count: number, txsPerBlock: number): BatchContent {
  const blocks = Array.from({ length: count }, (_, b) => {
    const transactions = Array.from({ length: txsPerBlock }, (_, i) =>
      createFeeMarket1559Tx({ nonce: BigInt(b * txsPerBlock + i), gasLimit: 21_000n, maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n, to: `0x${'42'.repeat(20)}`, value: BigInt(i), chainId: 901n }, { common }).sign(KEY),
    )
    return createBlock({ header: { number: BigInt(b + 1), gasLimit: 30_000_000n, baseFeePerGas: 7n }, transactions }, { common, setHardfork: false }).serialize()
  })
  return { blocks, stateRoots: blocks.map((_, i) => keccak256(Uint8Array.of(1, i))), witnessHashes: blocks.map((_, i) => keccak256(Uint8Array.of(2, i))) }
}

const hexes = (content: BatchContent) => [content.blocks, content.stateRoots, content.witnessHashes].map((list) => list.map(bytesToHex))

describe('batch data and frames', () => {
  it('behavior: blocks survive encoding, splitting into frames of any size, shuffling and reassembly', async () => {
    const random = createRandom(3)
    const original = batch(5, 12)
    const data = encodeBatchData(original)
    const raw = encodeBatchData(original, { encoding: 'raw' })
    // The poster compresses off the main thread: the same bytes, in both encodings, and the same limit.
    assert.equal(bytesToHex(await encodeBatchDataOffThread(original)), bytesToHex(data))
    assert.equal(bytesToHex(await encodeBatchDataOffThread(original, { encoding: 'raw' })), bytesToHex(raw))
    await assert.rejects(encodeBatchDataOffThread(original, { maxBytes: data.length - 1 }), /exceeds the limit/)
    assert.ok(data.length < raw.length, `compressed ${data.length} < raw ${raw.length}`)
    assert.deepEqual(hexes(decodeBatchData(raw)), hexes(original))
    for (const frameBytes of [1, 7, 100, data.length - 1, data.length, 10 * data.length]) {
      const frames = splitFrames(4n, data, frameBytes)
      assert.equal(frames.length, Math.max(1, Math.ceil(data.length / frameBytes)))
      assert.ok(frames.every((f) => f.data.length <= frameBytes) && frames.filter((f) => f.last).length === 1)
      const shuffled = [...frames].sort(() => random.int(3) - 1)
      // A retried transaction posts a frame twice: identical duplicates are fine.
      const withDuplicate = [...shuffled, frames[0]!]
      const back = reassembleFrames(4n, withDuplicate, batchDataHash(data))
      assert.deepEqual(hexes(decodeBatchData(back)), hexes(original))
    }
  })

  it('behavior: a missing, foreign, altered or surplus frame, a wrong hash and oversize data are refused saying what is wrong', () => {
    const data = encodeBatchData(batch(3, 10))
    const frames = splitFrames(2n, data, 64)
    const hash = batchDataHash(data)
    assert.throws(() => reassembleFrames(2n, frames.filter((f) => f.frameIndex !== 1), hash), /frame 1 of batch 2 is missing/)
    assert.throws(() => reassembleFrames(2n, [...frames, { ...frames[0]!, dataHash: keccak256(Uint8Array.of(0)) }], hash), /frame 0 belongs to data 0x[0-9a-f]{64}, not batch 2's/)
    const altered = frames.map((f) => (f.frameIndex === 2 ? { ...f, data: Uint8Array.from(f.data, (b, i) => (i === 0 ? b ^ 1 : b)) } : f))
    assert.throws(() => reassembleFrames(2n, altered, hash), /frames of batch 2 hash to 0x[0-9a-f]{64}, the inbox recorded/)
    assert.throws(() => reassembleFrames(2n, [...altered, frames[2]!], hash), /frame 2 of batch 2 was posted twice with different data/)
    assert.throws(() => reassembleFrames(2n, [...frames, { batchIndex: 2n, dataHash: hash, frameIndex: frames.length, last: true, data: Uint8Array.of(1) }], hash), /has frames after its last frame/)
    assert.throws(() => decodeBatchData(Uint8Array.of(2, 1, 2)), /unknown version 2/)
    assert.throws(() => decodeBatchData(Uint8Array.of(1, 0xff, 0xff)), /cannot decompress/)
    const roots = batch(2, 1)
    assert.throws(() => decodeBatchData(encodeBatchData({ ...roots, stateRoots: [roots.stateRoots[0]!, Uint8Array.of(1)] })), /one 32-byte state root per block/)
    assert.throws(() => encodeBatchData({ ...roots, witnessHashes: [] }), /one state root and one witness hash per block/)
    assert.throws(() => encodeBatchData(batch(3, 10), { maxBytes: 100 }), /exceeds the limit of 100/)
    assert.throws(() => encodeBatchData({ blocks: [], stateRoots: [], witnessHashes: [] }), /at least one block/)
  })

  it('default: the witness commitment is keccak256 of the witness hashes in order, so order and content both count', () => {
    const { witnessHashes } = batch(3, 0)
    assert.equal(witnessCommitment(witnessHashes).length, 32)
    assert.notEqual(bytesToHex(witnessCommitment(witnessHashes)), bytesToHex(witnessCommitment([...witnessHashes].reverse())))
    assert.equal(bytesToHex(witnessCommitment(witnessHashes)), bytesToHex(keccak256(new Uint8Array(witnessHashes.flatMap((h) => [...h])))))
  })
})
