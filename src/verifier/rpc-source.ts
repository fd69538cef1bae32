/**
 * A verifier's view of a sequencer over JSON-RPC: per block, the raw block, its witness, its
 * state delta, the roots the sequencer claims — everything `verifyBlock` needs, nothing else.
 */
import { type Block, createBlockFromRLP } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { hexToBytes } from '@ethereumjs/util'
import { MosaicError } from '../errors.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import type { StateDelta } from '../state/types.ts'
import { type BlockWitness, decodeWitness } from '../witness/witness.ts'

export type BlockToVerify = {
  readonly block: Block
  readonly witness: BlockWitness
  readonly witnessHash: Uint8Array
  readonly delta: StateDelta
  /** The post-state root the sequencer claims for the block. */
  readonly postStateRoot: Uint8Array
}

/** Where a verifier gets blocks from: a sequencer over RPC, or bundle files. */
export interface BlockSource {
  head(): Promise<bigint>
  /** The root after block `n` as the source claims it. */
  stateRoot(n: bigint): Promise<Uint8Array>
  fetch(n: bigint): Promise<BlockToVerify>
  /** Block `n`'s witness in its binary form, as stored (its keccak256 is what the L1 commits to). */
  witness(n: bigint): Promise<Uint8Array>
}

export class RpcSource implements BlockSource {
  private id = 0

  constructor(
    readonly url: string,
    private readonly common: Common,
  ) {}

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    let response: Response
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params }),
      })
    } catch (error) {
      throw new MosaicError('NOT_FOUND', `cannot reach the sequencer at ${this.url}: ${(error as Error).message}`)
    }
    const body = (await response.json()) as { result?: T; error?: { message: string } }
    if (body.error !== undefined) throw new MosaicError('NOT_FOUND', `${method} at ${this.url}: ${body.error.message}`)
    return body.result as T
  }

  async head(): Promise<bigint> {
    return BigInt(await this.call<string>('eth_blockNumber'))
  }

  /** The sequencer's exact root of block `number`. */
  async stateRoot(number: bigint): Promise<Uint8Array> {
    return hexToBytes((await this.call<{ stateRoot: `0x${string}` }>('mosaic_getStateRoot', [`0x${number.toString(16)}`])).stateRoot)
  }

  async witness(number: bigint): Promise<Uint8Array> {
    return hexToBytes((await this.call<{ witness: `0x${string}` }>('mosaic_getWitness', [`0x${number.toString(16)}`])).witness)
  }

  async fetch(number: bigint): Promise<BlockToVerify> {
    const tag = `0x${number.toString(16)}`
    const [raw, witness, delta, postStateRoot] = await Promise.all([
      this.call<`0x${string}`>('debug_getRawBlock', [tag]),
      this.call<{ witness: `0x${string}`; hash: `0x${string}` }>('mosaic_getWitness', [tag]),
      this.call<{ encoding: `0x${string}` }>('mosaic_getStateDelta', [tag]),
      this.stateRoot(number),
    ])
    return {
      block: createBlockFromRLP(hexToBytes(raw), { common: this.common, setHardfork: false }),
      witness: decodeWitness(hexToBytes(witness.witness)),
      witnessHash: hexToBytes(witness.hash),
      delta: decodeStateDelta(hexToBytes(delta.encoding)),
      postStateRoot,
    }
  }
}
