/**
 * A worker thread that only recovers senders (`recover-senders.ts`): with the sequential executor,
 * incoming transactions' ecrecover — the largest cost of admitting one, ~100–150 µs — runs here
 * instead of on the thread that serves RPC and seals blocks.
 */
import { workerData } from 'node:worker_threads'
import { createChainCommon, txCommonFor } from '../chain/common.ts'
import { recoverSendersWith } from './recover-senders.ts'

const { chainId, hardfork } = workerData as { chainId: number; hardfork: string }
const txCommon = txCommonFor(createChainCommon({ chainId, hardfork }))

export function recoverSenders(raws: readonly Uint8Array[]): (Uint8Array | string)[] {
  return recoverSendersWith(txCommon, raws)
}
