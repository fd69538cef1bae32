/**
 * A receipt as the receipts root commits to it (EIP-2718: the type byte, then the RLP of status,
 * cumulative gas, bloom and logs). The one encoding for the sequencer's blocks, the replica's
 * checks and the verifier's; the same bytes as `@ethereumjs/vm`'s `encodeReceipt`
 * (`receipt.test.ts`), written into one buffer (it re-copies the 256-byte bloom per list level:
 * ~4% of the main thread sealing full blocks of transfers).
 */
import { bigIntToUnpaddedBytes } from '@ethereumjs/util'
import type { TxReceipt } from '@ethereumjs/vm'
import { type RlpValue, rlpEncode } from '../utils/rlp.ts'

const SUCCESS = Uint8Array.of(1)
const FAILURE = new Uint8Array()

export function encodeReceipt(receipt: TxReceipt, txType: number): Uint8Array {
  const outcome = (receipt as { stateRoot?: Uint8Array }).stateRoot ?? ((receipt as { status: 0 | 1 }).status === 0 ? FAILURE : SUCCESS)
  const fields: RlpValue = [outcome, bigIntToUnpaddedBytes(receipt.cumulativeBlockGasUsed), receipt.bitvector, receipt.logs as RlpValue]
  if (txType === 0) return rlpEncode(fields)
  const body = rlpEncode(fields)
  const typed = new Uint8Array(body.length + 1)
  typed[0] = txType
  typed.set(body, 1)
  return typed
}
