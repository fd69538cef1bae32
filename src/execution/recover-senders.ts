/**
 * Sender recovery of serialized signed transactions, as worker threads run it
 * (`parallel/sender-recovery.ts` ships the requests): the 64-byte public key per transaction, or
 * the reason it has none. The one implementation for the parallel executor's workers and the
 * recovery-only workers of the sequential executor.
 *
 * Most take the fast path, `senderKeyFromRlp`; the rest get ethereumjs' answer and error message.
 */
import type { Common } from '@ethereumjs/common'
import { createTxFromRLP } from '@ethereumjs/tx'
import { senderKeyFromRlp } from '../chain/transaction.ts'

export function recoverSendersWith(txCommon: Common, raws: readonly Uint8Array[]): (Uint8Array | string)[] {
  const chainId = txCommon.chainId()
  return raws.map((raw) => {
    try {
      return senderKeyFromRlp(raw, chainId) ?? createTxFromRLP(raw, { common: txCommon }).getSenderPublicKey()
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
  })
}
