/**
 * `debug_*`: a block's execution witness in geth/reth's shape and its raw RLP.
 */
import { bytesToHex } from '../utils/hex.ts'
import type { MosaicNode } from '../node/node.ts'
import { decodeWitness, witnessToJSON } from '../witness/witness.ts'
import { type BlockResolver, notFound } from './blocks.ts'
import { invalidParams } from './errors.ts'
import type { Handler } from './methods.ts'

/** Block `number`'s witness as recorded with its commitment (binary form), or a clear error. */
export async function recordedWitness(commitment: Pick<MosaicNode['commitment'], 'witnessOf'>, number: bigint): Promise<Uint8Array> {
  if (number === 0n) throw invalidParams('block 0 (genesis) has no witness: it executes nothing')
  const encoded = await commitment.witnessOf(number)
  // Blocks whose commitment was recomputed after a crash have no read set to rebuild a witness from.
  return encoded ?? notFound(`no witness recorded for block ${number}`)
}

export type DebugDeps = {
  readonly chain: Pick<MosaicNode['chain'], 'getBlock'>
  readonly commitment: Pick<MosaicNode['commitment'], 'witnessOf'>
  readonly blocks: Pick<BlockResolver, 'existingBlockNumber'>
}

export function createDebugMethods({ chain, commitment, blocks }: DebugDeps): Record<string, Handler> {
  const { existingBlockNumber } = blocks
  return {
    // geth/reth's shape: { state, codes, keys, headers }.
    debug_executionWitness: async (params) => witnessToJSON(decodeWitness(await recordedWitness(commitment, existingBlockNumber(params[0])))),
    // geth: the block's RLP.
    debug_getRawBlock: (params) => {
      const number = existingBlockNumber(params[0])
      return bytesToHex(chain.getBlock(number)!.block.serialize())
    },

  }
}
