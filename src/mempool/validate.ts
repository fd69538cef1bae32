/**
 * Stateless checks of a raw transaction before it may enter the mempool: size, type, chain id
 * (EIP-155 for legacy, the chainId field for typed txs), signature, intrinsic gas, fee floor.
 * Each refusal names what was wrong, the way geth's txpool errors do.
 */
import type { Common } from '@ethereumjs/common'
import {
  create1559FeeMarketTxFromBytesArray,
  createAccessList2930TxFromBytesArray,
  createEOACode7702TxFromBytesArray,
  createLegacyTxFromBytesArray,
  type TypedTransaction,
} from '@ethereumjs/tx'
import { type Address, bytesToBigInt } from '@ethereumjs/util'
import { txCommonFor } from '../chain/common.ts'
import { feeMarketTxFromFields } from '../chain/fee-market-tx.ts'
import { pinSender, rememberSerialized, senderKeyFromRlp } from '../chain/transaction.ts'
import { MosaicError } from '../errors.ts'
import { rlpDecodeViews } from '../utils/rlp.ts'

export type StatelessLimits = {
  readonly txMaxBytes: number
  readonly blockGasLimit: bigint
  readonly baseFeeFloor: bigint
}

/** A valid transaction this node will not take (JSON-RPC -32000, as geth's txpool errors). */
export function txRejected(message: string): MosaicError {
  return new MosaicError('TX_REJECTED', message)
}

/** Bytes that are not a transaction at all (JSON-RPC -32602). */
function txInvalid(message: string): MosaicError {
  return new MosaicError('TX_INVALID', message)
}

export type Precheck = {
  /** The chain id the tx was signed for; undefined for pre-EIP-155 legacy txs. */
  readonly chainId: bigint | undefined
  /**
   * The decoded RLP fields, handed to the tx constructor so the bytes are decoded once. They are
   * views into the raw bytes, and the transaction keeps some of them (data, to, access list):
   * the raw bytes are the transaction's own and nothing changes them.
   */
  readonly fields: Uint8Array[]
  readonly type: 0 | 1 | 2 | 4
}

/**
 * Checks read from the raw fields before the tx object is built (ethereumjs' constructors throw
 * less precise messages for them): the type, the chain id the tx was signed for, and — for
 * EIP-1559-style txs — tip ≤ fee cap.
 */
function precheckFields(raw: Uint8Array): Precheck {
  const first = raw[0]
  if (first === undefined) throw txInvalid('invalid transaction: empty input')
  if (first <= 0x7f) {
    const type = first
    if (type === 3) throw txRejected('blob transactions (type 3) are not supported by this sequencer')
    if (!ADMITTED_TYPES.has(type)) throw txInvalid(`invalid transaction: unknown transaction type ${type}`)
    const fields = rlpDecodeViews(raw.subarray(1))
    if (!Array.isArray(fields) || !fields.slice(0, 4).every((f) => f instanceof Uint8Array)) {
      throw txInvalid('invalid transaction: malformed RLP')
    }
    // ethereumjs checks every other integer field for leading zeros, not the chain id; signed
    // over its shortest form, the same transaction would have another hash and another signer.
    if ((fields[0] as Uint8Array)[0] === 0) throw txInvalid('invalid transaction: chain id cannot have leading zeroes')
    if (type === 2 || type === 4) {
      const tip = bytesToBigInt(fields[2] as Uint8Array)
      const cap = bytesToBigInt(fields[3] as Uint8Array)
      if (tip > cap) throw txRejected(`max priority fee per gas higher than max fee per gas: tip ${tip}, max fee ${cap}`)
    }
    return { chainId: bytesToBigInt(fields[0] as Uint8Array), fields: fields as Uint8Array[], type: type as Precheck['type'] }
  }
  const fields = rlpDecodeViews(raw)
  if (!Array.isArray(fields) || fields.length !== 9 || !(fields[6] instanceof Uint8Array)) {
    throw txInvalid('invalid transaction: malformed RLP')
  }
  const v = bytesToBigInt(fields[6])
  if (v === 27n || v === 28n) return { chainId: undefined, fields: fields as Uint8Array[], type: 0 }
  if (v < 35n) throw txInvalid(`invalid transaction: invalid signature v value ${v}`)
  return { chainId: (v - 35n) / 2n, fields: fields as Uint8Array[], type: 0 }
}

const fromFields = {
  0: createLegacyTxFromBytesArray,
  1: createAccessList2930TxFromBytesArray,
  2: create1559FeeMarketTxFromBytesArray,
  4: createEOACode7702TxFromBytesArray,
} as const

/** The typed transactions this chain admits (and legacy, type 0, with EIP-155 replay protection). */
const ADMITTED_TYPES = new Set([1, 2, 4])

/**
 * `checkChainAdmits` for a transaction already decoded (a block's, in a verifier): the reason it is
 * not admitted, or undefined. Same rule, without decoding the RLP again.
 */
export function notAdmitted(tx: TypedTransaction, common: Common): string | undefined {
  if (tx.type === 0) {
    const v = tx.v ?? 0n
    if (v < 35n) return 'only replay-protected (EIP-155) transactions allowed'
    const chainId = (v - 35n) / 2n
    return chainId === common.chainId() ? undefined : `invalid chain id: expected ${common.chainId()}, got ${chainId}`
  }
  if (!ADMITTED_TYPES.has(tx.type)) return tx.type === 3 ? 'blob transactions (type 3) are not supported by this sequencer' : `unknown transaction type ${tx.type}`
  const chainId = (tx as { chainId?: bigint }).chainId
  return chainId === common.chainId() ? undefined : `invalid chain id: expected ${common.chainId()}, got ${chainId}`
}

/**
 * The transaction types and signing rules this chain admits — the one owner of that rule: the
 * mempool refuses anything else, and verifiers fail a block that carries anything else. Types
 * 0 (EIP-155 replay-protected only), 1, 2 and 4, signed for this chain; no blob transactions.
 */
export function checkChainAdmits(raw: Uint8Array, common: Common): Precheck {
  let precheck: Precheck
  try {
    precheck = precheckFields(raw)
  } catch (error) {
    if (error instanceof MosaicError) throw error
    throw txInvalid(`invalid transaction: malformed RLP (${(error as Error).message})`)
  }
  const { chainId } = precheck
  if (chainId === undefined) throw txRejected('only replay-protected (EIP-155) transactions allowed over RPC')
  if (chainId !== common.chainId()) {
    throw txRejected(`invalid chain id: expected ${common.chainId()}, got ${chainId}`)
  }
  return precheck
}

export type DecodedTx = { readonly tx: TypedTransaction; readonly sender: Address; readonly hash: Uint8Array }

/**
 * Recovers the sender's 64-byte public key from a serialized signed transaction somewhere else
 * (the worker threads: `SenderRecoveryPool`); rejects with the reason when there is none.
 */
export type RecoverSender = (raw: Uint8Array) => Promise<Uint8Array>

/**
 * Decode and check everything that does not depend on state. The checks that need no sender run
 * first, so malformed or underpriced transactions cost no signature recovery; recovery runs on
 * `recoverSender` when given, on this thread otherwise.
 */
export async function decodeAndValidate(raw: Uint8Array, common: Common, limits: StatelessLimits, recoverSender?: RecoverSender): Promise<DecodedTx> {
  if (raw.length > limits.txMaxBytes) {
    throw txRejected(`oversized data: transaction size ${raw.length} bytes, limit ${limits.txMaxBytes}`)
  }
  const precheck = checkChainAdmits(raw, common)
  let tx: TypedTransaction
  try {
    // Unfrozen, so the recovered sender can be pinned on it before it is frozen. The usual
    // EIP-1559 transaction is built without ethereumjs' constructor (`fee-market-tx.ts`), the
    // same object; whatever that path declines goes through the constructor, which decides.
    const options = { common: txCommonFor(common), freeze: false } as const
    tx = (precheck.type === 2 ? feeMarketTxFromFields(precheck.fields, options) : undefined) ?? fromFields[precheck.type](precheck.fields as never, options)
  } catch (error) {
    throw txInvalid(`invalid transaction: ${firstLine((error as Error).message)}`)
  }
  if (!tx.isSigned()) throw txInvalid('invalid transaction: not signed')
  // geth's wording first (wallets such as viem recognise it).
  const intrinsic = tx.getIntrinsicGas()
  if (tx.gasLimit < intrinsic) throw txRejected(`intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${intrinsic}`)
  if (tx.gasLimit > limits.blockGasLimit) {
    throw txRejected(`exceeds block gas limit: tx gas ${tx.gasLimit}, block gas limit ${limits.blockGasLimit}`)
  }
  const feeCap = maxFeePerGas(tx)
  if (feeCap < limits.baseFeeFloor) {
    throw txRejected(`transaction underpriced: max fee per gas ${feeCap} below the base fee floor ${limits.baseFeeFloor}`)
  }
  // Before the sender is pinned, which freezes the transaction: its bytes are kept on it.
  rememberSerialized(tx, raw)
  let sender: Address
  try {
    // On this thread the fields are checked already (the constructor above): the key comes
    // straight from the RLP, and ethereumjs recovers only what that path does not take.
    sender = pinSender(tx, recoverSender === undefined ? senderKeyFromRlp(raw, common.chainId()) : await recoverSender(raw))
  } catch (error) {
    throw txRejected(`invalid sender: ${firstLine((error as Error).message)}`)
  }
  // ethereumjs' own checks (signature, EIP-7623 calldata floor); the signature check reads the
  // public key cached above instead of recovering it again.
  const errors = tx.getValidationErrors()
  if (errors.length > 0) throw txRejected(`invalid transaction: ${errors.join('; ')}`)
  return { tx, sender, hash: tx.hash() }
}


export function maxFeePerGas(tx: TypedTransaction): bigint {
  return 'maxFeePerGas' in tx ? tx.maxFeePerGas : tx.gasPrice
}

export function maxPriorityFeePerGas(tx: TypedTransaction): bigint {
  return 'maxPriorityFeePerGas' in tx ? tx.maxPriorityFeePerGas : tx.gasPrice
}

/** The most the transaction can cost its sender: gas limit × max fee + value. */
export function maxCost(tx: TypedTransaction): bigint {
  return tx.gasLimit * maxFeePerGas(tx) + tx.value
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ \(tx type=.*$/, '')
}
