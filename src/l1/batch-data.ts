/**
 * A batch's data as it goes to the L1: the blocks (headers and transactions), versioned and
 * compressed, split into frames small enough for one L1 transaction each (as the OP Stack's
 * channel frames are) and reassembled by readers.
 *
 *   data   = 0x01 (version) ‖ deflate-raw(RLP([block RLP as a byte string, …]))   dataHash = keccak256(data)
 *   frames = data cut into pieces of at most `frameBytes`, numbered from 0, the last one marked
 *
 * The inbox contract (`contracts/Inbox.sol`) records `dataHash` with the batch; a reader takes the
 * frames of a batch in order, checks that none is missing or repeated and that their
 * concatenation hashes to `dataHash`, then decodes the blocks.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, concatBytes, equalsBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'

export const BATCH_DATA_VERSION = 1

export type Frame = {
  readonly batchIndex: bigint
  readonly frameIndex: number
  readonly last: boolean
  readonly data: Uint8Array
}

function invalid(what: string): MosaicError {
  return new MosaicError('INVALID_PARAMS', `invalid batch data: ${what}`)
}

/**
 * Encode blocks (their RLP, in order) as batch data; throws when the result would exceed
 * `maxBytes` (the caller then closes the batch earlier).
 */
export function encodeBatchData(blocks: readonly Uint8Array[], maxBytes = Number.POSITIVE_INFINITY): Uint8Array {
  if (blocks.length === 0) throw invalid('a batch holds at least one block')
  const compressed = deflateRawSync(RLP.encode([...blocks]), { level: 9 })
  const data = concatBytes(Uint8Array.of(BATCH_DATA_VERSION), compressed)
  if (data.length > maxBytes) throw new MosaicError('LIMIT_EXCEEDED', `batch data of ${data.length} bytes exceeds the limit of ${maxBytes}`)
  return data
}

/** The blocks' RLP encodings, in order. */
export function decodeBatchData(data: Uint8Array): Uint8Array[] {
  if (data[0] !== BATCH_DATA_VERSION) throw invalid(`unknown version ${data[0] ?? '(empty)'} (this node reads version ${BATCH_DATA_VERSION})`)
  let blocks: unknown
  try {
    blocks = RLP.decode(new Uint8Array(inflateRawSync(data.subarray(1))))
  } catch (error) {
    throw invalid(`cannot decompress or decode (${(error as Error).message})`)
  }
  if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((block) => block instanceof Uint8Array)) {
    throw invalid('expected a non-empty list of blocks')
  }
  return blocks as Uint8Array[]
}

export function batchDataHash(data: Uint8Array): Uint8Array {
  return keccak256(data)
}

/** Cut batch data into frames of at most `frameBytes` bytes each. */
export function splitFrames(batchIndex: bigint, data: Uint8Array, frameBytes: number): Frame[] {
  if (!Number.isSafeInteger(frameBytes) || frameBytes < 1) throw new Error('frameBytes must be a positive integer')
  const count = Math.max(1, Math.ceil(data.length / frameBytes))
  if (count > 0xffff) throw new MosaicError('LIMIT_EXCEEDED', `batch data of ${data.length} bytes needs ${count} frames, more than 65535`)
  return Array.from({ length: count }, (_, i) => ({
    batchIndex,
    frameIndex: i,
    last: i === count - 1,
    data: data.subarray(i * frameBytes, (i + 1) * frameBytes),
  }))
}

/**
 * Reassemble a batch's data from its frames (in any order, as read from L1) and check it against
 * the `dataHash` the inbox recorded. Throws saying what is wrong: a frame of another batch, a
 * missing or repeated frame, frames after the last one, or data that does not match the hash.
 */
export function reassembleFrames(batchIndex: bigint, frames: readonly Frame[], dataHash: Uint8Array): Uint8Array {
  const byIndex = new Map<number, Frame>()
  for (const frame of frames) {
    if (frame.batchIndex !== batchIndex) throw invalid(`frame ${frame.frameIndex} belongs to batch ${frame.batchIndex}, not ${batchIndex}`)
    const seen = byIndex.get(frame.frameIndex)
    // A frame posted twice (a retried L1 transaction) is harmless if identical.
    if (seen !== undefined && !equalsBytes(seen.data, frame.data)) throw invalid(`frame ${frame.frameIndex} of batch ${batchIndex} was posted twice with different data`)
    byIndex.set(frame.frameIndex, frame)
  }
  const ordered: Frame[] = []
  for (let i = 0; ; i++) {
    const frame = byIndex.get(i)
    if (frame === undefined) throw invalid(`frame ${i} of batch ${batchIndex} is missing`)
    ordered.push(frame)
    if (frame.last) break
  }
  if (byIndex.size > ordered.length) throw invalid(`batch ${batchIndex} has frames after its last frame ${ordered.length - 1}`)
  const data = concatBytes(...ordered.map((f) => f.data))
  const hash = batchDataHash(data)
  if (!equalsBytes(hash, dataHash)) throw invalid(`the frames of batch ${batchIndex} hash to ${bytesToHex(hash)}, the inbox recorded ${bytesToHex(dataHash)}`)
  return data
}
