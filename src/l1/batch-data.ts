/**
 * A batch's data as it goes to the L1: its blocks (headers and transactions), the post-state
 * root of each block and the hash of each block's witness, versioned and compressed, split into
 * frames small enough for one L1 transaction each (as the OP Stack's channel frames are) and
 * reassembled by readers.
 *
 *   data   = version ‖ body        body = RLP([[block RLP, …], [post-state root, …], [witness hash, …]])
 *            version 0x01: body deflate-raw compressed; 0x00: body as is
 *   dataHash = keccak256(data)
 *   witnessCommitment = keccak256(witness hash ‖ witness hash ‖ …), in block order
 *   frames = data cut into pieces of at most `frameBytes`, numbered from 0, the last one marked
 *
 * The inbox contract (`contracts/Inbox.sol`) records `dataHash`, `witnessCommitment` and the
 * last block's post-state root with the batch. A reader finds the frames by `dataHash`, checks
 * that none is missing or repeated and that their concatenation hashes to `dataHash`, then
 * decodes the blocks; the per-block roots let a verifier check any block of the batch on its
 * own — its pre-state root is the previous block's (the previous batch's root for the first) —
 * and the witness hashes let it check a witness fetched from anywhere against the L1.
 */
import { promisify } from 'node:util'
import { deflateRaw, deflateRawSync } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { concatBytes, equalsBytes } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import { rlpEncode } from '../utils/rlp.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { decompressBounded } from '../witness/witness.ts'

/** Version bytes: how the body is stored. */
export const BATCH_DATA_VERSIONS = { raw: 0, deflate: 1 } as const
export type BatchEncoding = keyof typeof BATCH_DATA_VERSIONS

export type BatchContent = {
  /** The blocks' RLP encodings, in order. */
  readonly blocks: readonly Uint8Array[]
  /** The post-state root of each block. */
  readonly stateRoots: readonly Uint8Array[]
  /** keccak256 of each block's binary witness (`witness/witness.ts`). */
  readonly witnessHashes: readonly Uint8Array[]
}

export type Frame = {
  readonly batchIndex: bigint
  /** keccak256 of the whole batch data: which data the frame is a piece of. */
  readonly dataHash: Uint8Array
  readonly frameIndex: number
  readonly last: boolean
  readonly data: Uint8Array
}

function invalid(what: string): MosaicError {
  return new MosaicError('INVALID_PARAMS', `invalid batch data: ${what}`)
}

/**
 * Encode a batch's content; throws `LIMIT_EXCEEDED` when the result would exceed `maxBytes`
 * (the caller then closes the batch earlier).
 */
export function encodeBatchData(content: BatchContent, { maxBytes = Number.POSITIVE_INFINITY, encoding = 'deflate' }: { maxBytes?: number; encoding?: BatchEncoding } = {}): Uint8Array {
  const body = batchBody(content)
  return withVersion(encoding, encoding === 'deflate' ? deflateRawSync(body, BATCH_DEFLATE) : body, maxBytes)
}

/**
 * `encodeBatchData`, byte for byte, with the compression on libuv's thread pool: the poster's
 * path, so deflating a batch (level 9, tens of ms for a few MB) never holds the sequencer's
 * thread — mini-batches and their preconfirmations wait for it otherwise.
 */
export async function encodeBatchDataOffThread(content: BatchContent, { maxBytes = Number.POSITIVE_INFINITY, encoding = 'deflate' }: { maxBytes?: number; encoding?: BatchEncoding } = {}): Promise<Uint8Array> {
  const body = batchBody(content)
  return withVersion(encoding, encoding === 'deflate' ? await deflateRawAsync(body, BATCH_DEFLATE) : body, maxBytes)
}

const BATCH_DEFLATE = { level: 9 }
const deflateRawAsync = promisify(deflateRaw)

function batchBody({ blocks, stateRoots, witnessHashes }: BatchContent): Uint8Array {
  if (blocks.length === 0) throw invalid('a batch holds at least one block')
  if (stateRoots.length !== blocks.length || witnessHashes.length !== blocks.length) throw invalid('one state root and one witness hash per block')
  return rlpEncode([[...blocks], [...stateRoots], [...witnessHashes]])
}

function withVersion(encoding: BatchEncoding, body: Uint8Array, maxBytes: number): Uint8Array {
  const data = concatBytes(Uint8Array.of(BATCH_DATA_VERSIONS[encoding]), body)
  if (data.length > maxBytes) throw new MosaicError('LIMIT_EXCEEDED', `batch data of ${data.length} bytes exceeds the limit of ${maxBytes}`)
  return data
}

const isBytesList = (value: unknown, size?: number): value is Uint8Array[] =>
  Array.isArray(value) && value.every((item) => item instanceof Uint8Array && (size === undefined || item.length === size))

/** Decode batch data; `maxBytes` bounds the decompressed body (`LIMIT_EXCEEDED` over it). */
export function decodeBatchData(data: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): BatchContent {
  const version = data[0]
  if (version !== BATCH_DATA_VERSIONS.deflate && version !== BATCH_DATA_VERSIONS.raw) {
    throw invalid(`unknown version ${version ?? '(empty)'} (this node reads versions ${Object.values(BATCH_DATA_VERSIONS).join(' and ')})`)
  }
  let decoded: unknown
  try {
    decoded = RLP.decode(version === BATCH_DATA_VERSIONS.deflate ? new Uint8Array(decompressBounded('deflate', data.subarray(1), maxBytes, 'batch data')) : data.subarray(1))
  } catch (error) {
    if (error instanceof MosaicError) throw error
    throw invalid(`cannot decompress or decode (${(error as Error).message})`)
  }
  if (!Array.isArray(decoded) || decoded.length !== 3) throw invalid('expected [blocks, state roots, witness hashes]')
  const [blocks, stateRoots, witnessHashes] = decoded as unknown[]
  if (!isBytesList(blocks) || blocks.length === 0) throw invalid('expected a non-empty list of blocks')
  if (!isBytesList(stateRoots, 32) || stateRoots.length !== blocks.length) throw invalid('expected one 32-byte state root per block')
  if (!isBytesList(witnessHashes, 32) || witnessHashes.length !== blocks.length) throw invalid('expected one 32-byte witness hash per block')
  return { blocks, stateRoots, witnessHashes }
}

/** What the inbox records as `witnessCommitment`: keccak256 of the witness hashes in block order. */
export function witnessCommitment(witnessHashes: readonly Uint8Array[]): Uint8Array {
  return keccak256(concatBytes(...witnessHashes))
}

export function batchDataHash(data: Uint8Array): Uint8Array {
  return keccak256(data)
}

/** Cut batch data into frames of at most `frameBytes` bytes each. */
export function splitFrames(batchIndex: bigint, data: Uint8Array, frameBytes: number): Frame[] {
  const dataHash = batchDataHash(data)
  if (!Number.isSafeInteger(frameBytes) || frameBytes < 1) throw new Error('frameBytes must be a positive integer')
  const count = Math.max(1, Math.ceil(data.length / frameBytes))
  if (count > 0xffff) throw new MosaicError('LIMIT_EXCEEDED', `batch data of ${data.length} bytes needs ${count} frames, more than 65535`)
  return Array.from({ length: count }, (_, i) => ({
    batchIndex,
    dataHash,
    frameIndex: i,
    last: i === count - 1,
    data: data.subarray(i * frameBytes, (i + 1) * frameBytes),
  }))
}

/**
 * Reassemble a batch's data from its frames (in any order, as read from L1) and check it against
 * the `dataHash` the inbox recorded. Throws saying what is wrong: a frame of other data, a
 * missing or repeated frame, frames after the last one, or data that does not match the hash.
 */
export function reassembleFrames(batchIndex: bigint, frames: readonly Frame[], dataHash: Uint8Array): Uint8Array {
  const byIndex = new Map<number, Frame>()
  for (const frame of frames) {
    if (!equalsBytes(frame.dataHash, dataHash)) throw invalid(`frame ${frame.frameIndex} belongs to data ${bytesToHex(frame.dataHash)}, not batch ${batchIndex}'s ${bytesToHex(dataHash)}`)
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
