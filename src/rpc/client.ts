/**
 * A client of a mosaic node over JSON-RPC — the verifier's and the replica's view of a
 * sequencer: per block, the raw block, its witness, its state delta, the root the sequencer
 * claims — everything `verifyBlock` needs, nothing else; and `BlockSource`, what any source of
 * blocks to verify offers (`verifier/bundle.ts` reads them from files).
 * Every call is bounded in size and time (`utils/bounded-fetch.ts`); a failure to get an answer,
 * or an error answer, is a `TRANSPORT` error (retried), never a verdict.
 */
import { type Block, createBlockFromRLP } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { MosaicError } from '../errors.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import type { StateDelta } from '../state/types.ts'
import { DEFAULT_FETCH_LIMITS, type FetchLimits, fetchText } from '../utils/bounded-fetch.ts'
import { hexToBytesIfValid } from '../utils/hex.ts'
import { type BlockWitness, decodeWitness } from '../witness/witness.ts'

/** One block as a source holds it, undecoded: decoding is part of verifying it. */
export type RawBlockData = {
  readonly number: bigint
  /** The block's RLP. */
  readonly block: Uint8Array
  /** The binary witness (its keccak256 is what the L1 commits to). */
  readonly witness: Uint8Array
  /** The binary state delta, when the source publishes one. */
  readonly delta?: Uint8Array
  /** The post-state root the source claims for the block, when it claims one. */
  readonly postStateRoot?: Uint8Array
}

/** Where a verifier gets blocks from: a sequencer over RPC, or bundle files. */
export interface BlockSource {
  head(): Promise<bigint>
  /** Block `n` and what verifies it, as the source serves them. */
  raw(n: bigint): Promise<RawBlockData>
  /** Block `n`'s RLP alone (for checking the header chain below a `--from`). */
  rawBlock(n: bigint): Promise<Uint8Array>
  /** Block `n`'s witness in its binary form. */
  witness(n: bigint): Promise<Uint8Array>
}

export type BlockToVerify = {
  readonly block: Block
  readonly witness: BlockWitness
  readonly delta: StateDelta | undefined
  readonly postStateRoot: Uint8Array | undefined
}

const tag = (n: bigint) => `0x${n.toString(16)}`

function bytesOf(value: unknown, what: string): Uint8Array {
  const bytes = typeof value === 'string' ? hexToBytesIfValid(value) : undefined
  if (bytes === undefined) throw new MosaicError('TRANSPORT', `${what}: the answer is not hex bytes`)
  return bytes
}

export class RpcSource implements BlockSource {
  private id = 0

  constructor(
    readonly url: string,
    private readonly common: Common,
    private readonly limits: FetchLimits = DEFAULT_FETCH_LIMITS,
  ) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const body = JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params })
    const what = `${method} at ${this.url}`
    const { status, text } = await fetchText(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, this.limits, what)
    let answer: { result?: T; error?: { message?: unknown } }
    try {
      answer = JSON.parse(text) as typeof answer
    } catch {
      throw new MosaicError('TRANSPORT', `${what}: HTTP ${status}, not a JSON-RPC answer`)
    }
    if (typeof answer !== 'object' || answer === null) throw new MosaicError('TRANSPORT', `${what}: not a JSON-RPC answer`)
    if (answer.error !== undefined) throw new MosaicError('TRANSPORT', `${what}: ${String(answer.error?.message)}`)
    return answer.result as T
  }

  async head(): Promise<bigint> {
    const head = await this.call<unknown>('eth_blockNumber')
    if (typeof head !== 'string' || !/^0x[0-9a-f]+$/i.test(head)) throw new MosaicError('TRANSPORT', `eth_blockNumber at ${this.url}: not a quantity`)
    return BigInt(head)
  }

  /** The sequencer's claimed root after block `number`. */
  async stateRoot(number: bigint): Promise<Uint8Array> {
    return bytesOf((await this.call<{ stateRoot?: unknown }>('mosaic_getStateRoot', [tag(number)]))?.stateRoot, 'mosaic_getStateRoot')
  }

  async witness(number: bigint): Promise<Uint8Array> {
    return bytesOf((await this.call<{ witness?: unknown }>('mosaic_getWitness', [tag(number)]))?.witness, 'mosaic_getWitness')
  }

  async rawBlock(number: bigint): Promise<Uint8Array> {
    return bytesOf(await this.call<unknown>('debug_getRawBlock', [tag(number)]), 'debug_getRawBlock')
  }

  async raw(number: bigint): Promise<RawBlockData> {
    const [block, witness, delta, postStateRoot] = await Promise.all([
      this.rawBlock(number),
      this.witness(number),
      this.call<{ encoding?: unknown }>('mosaic_getStateDelta', [tag(number), { view: false }]).then((d) => bytesOf(d?.encoding, 'mosaic_getStateDelta')),
      this.stateRoot(number),
    ])
    return { number, block, witness, delta, postStateRoot }
  }

  /** Block `number` decoded (tests and tools; the verifier decodes as part of verifying). */
  async fetch(number: bigint): Promise<BlockToVerify> {
    const raw = await this.raw(number)
    return {
      block: createBlockFromRLP(raw.block, { common: this.common, setHardfork: false }),
      witness: decodeWitness(raw.witness),
      delta: raw.delta === undefined ? undefined : decodeStateDelta(raw.delta),
      postStateRoot: raw.postStateRoot,
    }
  }
}
