/**
 * A block's stateless witness (MISSION.md, "Witness and delta"): everything needed to re-execute
 * the block and recompute its post-state root from its pre-state root and nothing else.
 *
 * - `nodes`: every trie node on the paths of the accounts and slots the block read or wrote, as
 *   they were before it, plus the siblings its deletions pull up; the `mpt` root node or, in
 *   `sharded` mode, the binary-Merkle pages on the paths of the shards it touched;
 * - `codes`: the bytecode of every account it read that has code;
 * - `headers`: RLP headers from the parent back to the oldest block BLOCKHASH read;
 * - `keys`: the addresses (20 bytes) and storage slots (32 bytes) it read or wrote.
 *
 * Two encodings: the JSON shape geth and reth serve for `debug_executionWitness`
 * (`{ state, codes, keys, headers }`, hex strings), and a compact binary form:
 *
 *   0x02 (version) ‖ brotli(RLP([blockNumber, preStateRoot, nodes, codes, headers, keys]))
 *
 * with every list sorted and deduplicated, so one witness has one encoding; the witness hash is
 * keccak256 of the whole binary form. Version 0x01, the same body deflate-raw compressed, is what
 * nodes wrote until 2026-12-03: it is still read (data dirs and verifiers of older chains).
 *
 * Why brotli at quality 1: most of a witness is trie nodes, and most of a trie node is 32-byte
 * hashes, which do not compress. deflate at level 6 took a block of 200 transfers' witness
 * (~373 KB) from 100% to 88% in ~9 ms, ~45 µs of CPU per transaction, on libuv's pool of a
 * two-core node where every thread competes with the sequencing thread; brotli at quality 1
 * takes the same bodies to 89–93% (deflate: 88–93%) at ~11× the speed, and inflates them ~3×
 * faster for a verifier (`witness-format.test.ts` shows the ratio; the figures are in README).
 */
import { promisify } from 'node:util'
import { brotliCompress, brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToBigInt, hexToBytes } from '@ethereumjs/util'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { bytesToHex } from '../utils/hex.ts'
import { rlpEncode } from '../utils/rlp.ts'

/** How a binary witness's body is compressed; its first byte names it (`WITNESS_VERSIONS`). */
export type WitnessFormat = 'deflate' | 'brotli'
export const WITNESS_VERSIONS: { readonly [format in WitnessFormat]: number } = { deflate: 1, brotli: 2 }
/** The format this node writes. */
export const WITNESS_FORMAT: WitnessFormat = 'brotli'

export type BlockWitness = {
  readonly blockNumber: bigint
  /** The post-state root of the parent block, which every node is checked against. */
  readonly preStateRoot: Uint8Array
  readonly nodes: readonly Uint8Array[]
  readonly codes: readonly Uint8Array[]
  readonly headers: readonly Uint8Array[]
  readonly keys: readonly Uint8Array[]
}

/**
 * Sorted by bytes (the order of their hex), duplicates dropped. Each item is first ranked by its
 * first six bytes read as a number (zero-padded: exact, and never against the bytes' order), and
 * only items whose six bytes tie are compared whole: a block's witness sorts thousands of trie
 * nodes on the sequencing thread, and a native `Buffer.compare` per comparison made that ~4 µs
 * per transaction (2.8 ms for the nodes and keys of 700 transfers; ~1.05 ms ranked first).
 */
function canonical(items: Iterable<Uint8Array>): Uint8Array[] {
  const list = [...items]
  const ranks = new Float64Array(list.length)
  list.forEach((item, i) => {
    let rank = 0
    for (let b = 0; b < 6; b++) rank = rank * 256 + (item[b] ?? 0)
    ranks[i] = rank
  })
  const order = Array.from(list.keys()).sort((a, b) => ranks[a]! - ranks[b]! || Buffer.compare(list[a]!, list[b]!))
  const out: Uint8Array[] = []
  let last: number | undefined
  for (const i of order) {
    if (last === undefined || ranks[last] !== ranks[i] || Buffer.compare(list[last]!, list[i]!) !== 0) out.push(list[i]!)
    last = i
  }
  return out
}

/** The witness with every list sorted and deduplicated (headers keep their order: parent first). */
export function createWitness(parts: BlockWitness): BlockWitness {
  return { ...parts, nodes: canonical(parts.nodes), codes: canonical(parts.codes), keys: canonical(parts.keys), headers: [...parts.headers] }
}

/** The uncompressed RLP body of the binary form (what `encodeWitness` compresses). */
export function witnessBody(witness: BlockWitness): Uint8Array {
  const { blockNumber, preStateRoot, nodes, codes, headers, keys } = createWitness(witness)
  return rlpEncode([bigIntToUnpaddedBytes(blockNumber), preStateRoot, nodes, codes, headers, keys])
}

/** brotli's options for a body of `bytes`: quality 1 (module comment), the size known up front. */
function brotliOptions(bytes: number) {
  return { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: bytes } }
}

/** The binary form: this node's format, or (benchmarks, tests) the one named. */
export function encodeWitness(witness: BlockWitness, format: WitnessFormat = WITNESS_FORMAT): Uint8Array {
  return versioned(format, compressWitnessBody(witnessBody(witness), format))
}

/** A witness body (`witnessBody`) compressed as `format` writes it, without the version byte. */
export function compressWitnessBody(body: Uint8Array, format: WitnessFormat): Uint8Array {
  return format === 'brotli' ? brotliCompressSync(body, brotliOptions(body.length)) : deflateRawSync(body, { level: 6 })
}

const brotliCompressAsync = promisify(brotliCompress)

/**
 * `encodeWitness` with the compression on libuv's thread pool instead of the calling thread (the
 * sequencer's main thread spent several percent of a transfer load compressing witnesses).
 */
export async function encodeWitnessAsync(witness: BlockWitness): Promise<Uint8Array> {
  const body = witnessBody(witness)
  return versioned('brotli', await brotliCompressAsync(body, brotliOptions(body.length)))
}

function versioned(format: WitnessFormat, compressed: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + compressed.length)
  out[0] = WITNESS_VERSIONS[format]
  out.set(compressed, 1)
  return out
}

/**
 * `data` decompressed (deflate-raw or brotli), or `LIMIT_EXCEEDED` once the output would pass
 * `maxBytes`: the one bound on what untrusted compressed bytes (witnesses, L1 batch data) may
 * grow to.
 */
export function decompressBounded(format: 'deflate' | 'brotli', data: Uint8Array, maxBytes: number, what: string): Buffer {
  const options = { maxOutputLength: Math.min(maxBytes, 2 ** 32) }
  try {
    return format === 'deflate' ? inflateRawSync(data, options) : brotliDecompressSync(data, options)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new MosaicError('LIMIT_EXCEEDED', `the ${what} inflates to more than ${maxBytes} bytes (the limit)`, { cause: error })
    }
    throw error
  }
}

function invalid(what: string): MosaicError {
  return new MosaicError('WITNESS_INVALID', `invalid witness: ${what}`)
}

/**
 * Decode a binary witness. `maxBytes` bounds the decompressed body (a verifier's defence against
 * decompression bombs): over it, a `LIMIT_EXCEEDED` error, before the rest is inflated.
 */
export function decodeWitness(bytes: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): BlockWitness {
  const format = bytes[0] === WITNESS_VERSIONS.brotli ? 'brotli' : bytes[0] === WITNESS_VERSIONS.deflate ? 'deflate' : undefined
  if (format === undefined) throw invalid(`unknown version ${bytes[0] ?? '(empty)'} (this node reads versions ${WITNESS_VERSIONS.deflate} and ${WITNESS_VERSIONS.brotli})`)
  let fields: unknown
  try {
    fields = RLP.decode(new Uint8Array(decompressBounded(format, bytes.subarray(1), maxBytes, 'witness')))
  } catch (error) {
    if (error instanceof MosaicError) throw error
    throw invalid(`cannot decompress or decode (${(error as Error).message})`)
  }
  if (!Array.isArray(fields) || fields.length !== 6) throw invalid('expected 6 fields')
  const [number, root, ...lists] = fields as [unknown, unknown, unknown, unknown, unknown, unknown]
  if (!(number instanceof Uint8Array) || !(root instanceof Uint8Array) || root.length !== 32) throw invalid('malformed block number or pre-state root')
  const list = (value: unknown, what: string): Uint8Array[] => {
    if (!Array.isArray(value) || !value.every((item) => item instanceof Uint8Array)) throw invalid(`${what} must be a list of byte strings`)
    return value as Uint8Array[]
  }
  return {
    blockNumber: bytesToBigInt(number),
    preStateRoot: root,
    nodes: list(lists[0], 'nodes'),
    codes: list(lists[1], 'codes'),
    headers: list(lists[2], 'headers'),
    keys: list(lists[3], 'keys'),
  }
}

export function witnessHash(encoded: Uint8Array): Uint8Array {
  return keccak256(encoded)
}

/** The `debug_executionWitness` JSON shape (geth, reth). */
export type ExecutionWitnessJSON = { state: string[]; codes: string[]; keys: string[]; headers: string[] }

export function witnessToJSON(witness: BlockWitness): ExecutionWitnessJSON {
  const w = createWitness(witness)
  return { state: w.nodes.map(bytesToHex), codes: w.codes.map(bytesToHex), keys: w.keys.map(bytesToHex), headers: w.headers.map(bytesToHex) }
}

export function witnessFromJSON(json: ExecutionWitnessJSON, blockNumber: bigint, preStateRoot: Uint8Array): BlockWitness {
  const bytes = (items: unknown, what: string) => {
    if (!Array.isArray(items) || !items.every((item) => typeof item === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(item))) throw invalid(`${what} must be a list of hex strings`)
    return (items as string[]).map((item) => hexToBytes(item as `0x${string}`))
  }
  return { blockNumber, preStateRoot, nodes: bytes(json.state, 'state'), codes: bytes(json.codes, 'codes'), keys: bytes(json.keys, 'keys'), headers: bytes(json.headers, 'headers') }
}
