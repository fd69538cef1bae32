/**
 * An EIP-1559 transaction, as `@ethereumjs/tx` builds it from its decoded fields, built without
 * its constructor when nothing about it is unusual. The type wallets send by default is most of
 * what the mempool admits, and ethereumjs' constructor spends ~4.5 µs and ~7 KiB of garbage on each
 * (the profile of bench:e2e's single transfers): every field copied and converted through generic
 * helpers, every check run over `Object.entries` of a fresh object, the capability list
 * concatenated. Here the fields are read once, checked, and set on an object of ethereumjs' own
 * class, with the same properties in the same order and the same values, so everything downstream
 * (execution, hashing, serialization, JSON) sees what it would have seen.
 *
 * It takes only what needs no judgement: a signed call or transfer (not a contract creation) with
 * an empty access list, every field in its canonical form and within its bounds, for the chain's
 * own Common. Anything else is `undefined`, and the caller runs ethereumjs' constructor, which
 * takes it or throws its own error message: this path never decides that a transaction is
 * invalid. `fee-market-tx.test.ts` holds the two to the same objects over generated transactions,
 * and shows that each check here declines what it guards.
 */
import type { Common } from '@ethereumjs/common'
import { Capability, FeeMarket1559Tx, TransactionType } from '@ethereumjs/tx'
import { Address, bytesToBigInt, MAX_INTEGER, MAX_UINT64, SECP256K1_ORDER_DIV_2 } from '@ethereumjs/util'
import type { RlpDecoded } from '../utils/rlp.ts'

/** The options ethereumjs keeps on each transaction (`txOptions`): the shared Common, not frozen. */
export type FeeMarketTxOptions = { readonly common: Common; readonly freeze: false }

/** [chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value, data, accessList, yParity, r, s] */
const SIGNED_FIELDS = 12
/** The integer fields ethereumjs refuses with a leading zero byte. */
const NO_LEADING_ZEROES = [1, 2, 3, 4, 6, 9, 10, 11] as const

/**
 * The transaction ethereumjs' `create1559FeeMarketTxFromBytesArray(fields, options)` would build,
 * or `undefined` where that is not certain without it (module comment). `options.common` must be
 * a shared transaction Common (`txCommonFor`), which hands out itself for a copy.
 */
export function feeMarketTxFromFields(fields: readonly RlpDecoded[], options: FeeMarketTxOptions): FeeMarket1559Tx | undefined {
  if (fields.length !== SIGNED_FIELDS) return undefined
  const accessList = fields[8]
  if (!Array.isArray(accessList) || accessList.length !== 0) return undefined
  for (let i = 0; i < SIGNED_FIELDS; i++) if (i !== 8 && !(fields[i] instanceof Uint8Array)) return undefined
  const bytes = fields as readonly Uint8Array[]
  for (const i of NO_LEADING_ZEROES) if (bytes[i]!.length > 0 && bytes[i]![0] === 0) return undefined
  const to = bytes[5]!
  if (to.length !== 20) return undefined
  if (bytes[1]!.length > 8 || bytes[4]!.length > 8) return undefined
  for (const i of [2, 3, 6, 10, 11]) if (bytes[i]!.length > 32) return undefined

  const { common } = options
  if (common.copy() !== common) return undefined
  if (bytesToBigInt(bytes[0]!) !== common.chainId() || !common.isActivatedEIP(1559)) return undefined
  const nonce = bytesToBigInt(bytes[1]!)
  const maxPriorityFeePerGas = bytesToBigInt(bytes[2]!)
  const maxFeePerGas = bytesToBigInt(bytes[3]!)
  const gasLimit = bytesToBigInt(bytes[4]!)
  const v = bytesToBigInt(bytes[9]!)
  const r = bytesToBigInt(bytes[10]!)
  const s = bytesToBigInt(bytes[11]!)
  if (nonce >= MAX_UINT64) return undefined
  if (common.isActivatedEIP(7825) && !common.isActivatedEIP(8037) && gasLimit > common.param('maxTransactionGasLimit')) return undefined
  if (gasLimit * maxFeePerGas > MAX_INTEGER || maxFeePerGas < maxPriorityFeePerGas) return undefined
  if (v > 1n) return undefined
  if (s > SECP256K1_ORDER_DIV_2 && common.gteHardfork('homestead')) return undefined

  // ethereumjs' constructor's properties, in the order it sets them; `to` and `data` are copies,
  // as its `toBytes` makes them, and the (empty) access list is the decoded array itself.
  const tx = Object.create(FeeMarket1559Tx.prototype) as Record<string, unknown>
  tx.type = TransactionType.FeeMarketEIP1559
  tx.cache = {}
  tx.activeCapabilities = []
  tx.common = common
  tx.txOptions = options
  tx.to = new Address(new Uint8Array(to))
  tx.nonce = nonce
  tx.gasLimit = gasLimit
  tx.value = bytesToBigInt(bytes[6]!)
  tx.data = new Uint8Array(bytes[7]!)
  tx.v = v
  tx.r = r
  tx.s = s
  tx.chainId = common.chainId()
  tx.activeCapabilities = [Capability.EIP1559FeeMarket, Capability.EIP2718TypedTransaction, Capability.EIP2930AccessLists]
  tx.accessList = accessList
  tx.maxFeePerGas = maxFeePerGas
  tx.maxPriorityFeePerGas = maxPriorityFeePerGas
  return tx as unknown as FeeMarket1559Tx
}
