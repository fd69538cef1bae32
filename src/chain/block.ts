/**
 * Blocks built from, and decoded to, transactions that share the chain's transaction `Common`.
 *
 * ethereumjs' `createBlock` re-creates every transaction it is given (each with its own copy of
 * the `Common`: ~13 KB and ~35–150 µs per transaction) and `createBlockFromRLP` does the same for
 * every decoded one. The sequencer already holds the decoded transactions and the chain store
 * already knows each sender, so both are built here without either cost.
 */
import { Block, type BlockHeader, createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { Capability, type TypedTransaction } from '@ethereumjs/tx'
import { type Address, createWithdrawalFromBytesArray, type WithdrawalBytes } from '@ethereumjs/util'
import { blockCommonFor, txCommonFor } from './common.ts'
import { rlpEncode, rlpListLength, rlpStringLength, type RlpValue } from '../utils/rlp.ts'
import { pinSenderAddress, rememberSerialized, serializedTx, txFromBodyData } from './transaction.ts'

/** A block of `transactions` (already decoded, kept as they are) under `header`. */
export function blockOf(header: BlockHeader, transactions: TypedTransaction[]): Block {
  const { common } = header
  return new Block(header, transactions, [], common.isActivatedEIP(4895) ? [] : undefined, { common, setHardfork: false })
}

/** The block's RLP, with every typed transaction's bytes as they arrived (no re-encoding). */
export function serializeBlock(block: Block): Uint8Array {
  const raw: RlpValue[] = [
    block.header.raw(),
    block.transactions.map((tx) => (tx.supports(Capability.EIP2718TypedTransaction) ? serializedTx(tx) : (tx.raw() as Uint8Array[]))),
    block.uncleHeaders.map((uncle) => uncle.raw()),
  ]
  if (block.withdrawals !== undefined) raw.push(block.withdrawals.map((w) => w.raw()))
  return rlpEncode(raw)
}

const sizes = new WeakMap<Block, number>()

/**
 * `serializeBlock(block).length` (the `size` of an RPC block), from the lengths of its parts:
 * a block of 1,000 transactions is not re-encoded each time a client fetches it.
 */
export function blockSize(block: Block): number {
  const known = sizes.get(block)
  if (known !== undefined) return known
  let transactions = 0
  for (const tx of block.transactions) {
    const bytes = serializedTx(tx)
    // A typed transaction is a byte string in the block's list; a legacy one is its own RLP list.
    transactions += tx.supports(Capability.EIP2718TypedTransaction) ? rlpStringLength(bytes) : bytes.length
  }
  let payload = block.header.serialize().length + rlpListLength(transactions) + rlpListLength(0)
  if (block.withdrawals !== undefined) payload += rlpListLength(block.withdrawals.reduce((sum, w) => sum + RLP.encode(w.raw()).length, 0))
  const size = rlpListLength(payload)
  sizes.set(block, size)
  return size
}

/** Only the header of a stored block's RLP: no transaction is decoded (eth_call at a past block). */
export function decodeHeader(serialized: Uint8Array, common: Common): BlockHeader {
  const [headerData] = RLP.decode(serialized) as unknown as [Uint8Array[]]
  if (!Array.isArray(headerData)) throw new Error('invalid block RLP: expected [header, …]')
  return createBlockHeaderFromBytesArray(headerData, { common: blockCommonFor(common), setHardfork: false })
}

/**
 * Decode a block this node stored (or was given with its senders): transactions on the shared
 * transaction `Common`, their senders pinned from `senders` instead of recovered.
 */
export function decodeBlock(serialized: Uint8Array, common: Common, senders: readonly Address[]): Block {
  const values = RLP.decode(serialized) as unknown as [Uint8Array[], (Uint8Array | Uint8Array[])[], Uint8Array[][], WithdrawalBytes[]?]
  const [headerData, txsData, uncles, withdrawalsData] = values
  if (!Array.isArray(headerData) || !Array.isArray(txsData) || (uncles !== undefined && uncles.length > 0)) {
    throw new Error('invalid block RLP: expected [header, transactions, [], withdrawals?]')
  }
  if (senders.length !== txsData.length) throw new Error(`${senders.length} senders for ${txsData.length} transactions`)
  const header = createBlockHeaderFromBytesArray(headerData, { common: blockCommonFor(common), setHardfork: false })
  const transactions = decodeBodyTransactions(txsData, common)
  transactions.forEach((tx, i) => pinSenderAddress(tx, senders[i]!))
  const withdrawals = common.isActivatedEIP(4895) ? (withdrawalsData ?? []).map(createWithdrawalFromBytesArray) : undefined
  return new Block(header, transactions, [], withdrawals, { common, setHardfork: false })
}

/**
 * A block from elsewhere (what a verifier is given), decoded with the checks `createBlockFromRLP`
 * makes — every header field, every transaction's fields, the body's shape — but on the shared
 * `Common`s, each transaction's bytes remembered. ethereumjs' decoder gives every transaction a
 * copy of the `Common`: ~35–150 µs each, more than re-executing a transfer. Senders are not
 * recovered: the caller does that, and judges a signature; the transactions are left unfrozen
 * for it to pin each sender it recovers (`pinRecoveredSender`), without decoding them again.
 */
export function decodeForeignBlock(serialized: Uint8Array, common: Common): Block {
  if (common.isActivatedEIP(7934) && serialized.length > Number(common.param('maxRlpBlockSize'))) {
    throw new Error(`Block size exceeds limit: ${serialized.length} > ${common.param('maxRlpBlockSize')}`)
  }
  const values = RLP.decode(serialized) as unknown
  if (!Array.isArray(values)) throw new Error('Invalid serialized block input. Must be array')
  if (values.length > 5) throw new Error(`invalid block RLP: ${values.length} values, at most 5`)
  const [headerData, txsData, unclesData, ...tail] = values as [Uint8Array[], (Uint8Array | Uint8Array[])[]?, Uint8Array[][]?, ...unknown[]]
  const header = createBlockHeaderFromBytesArray(headerData, { common: blockCommonFor(common), setHardfork: false })
  const withdrawalsData = header.common.isActivatedEIP(4895) ? tail[0] : undefined
  if (header.common.isActivatedEIP(4895) && !Array.isArray(withdrawalsData)) {
    throw new Error('Invalid serialized block input: EIP-4895 is active, and no withdrawals were provided as array')
  }
  const transactions = decodeBodyTransactions(txsData ?? [], common)
  // Uncles on a copy of the Common: no block of this chain has any (the caller refuses them).
  const uncles = (unclesData ?? []).map((data) => createBlockHeaderFromBytesArray(data, { common, setHardfork: false }))
  const withdrawals = (withdrawalsData as WithdrawalBytes[] | undefined)?.map(createWithdrawalFromBytesArray)
  return new Block(header, transactions, uncles, withdrawals, { common, setHardfork: false })
}

/** A block body's transactions on the shared transaction `Common`, each with its bytes remembered. */
function decodeBodyTransactions(txsData: readonly (Uint8Array | Uint8Array[])[], common: Common): TypedTransaction[] {
  const txCommon = txCommonFor(common)
  return txsData.map((data) => {
    const tx = txFromBodyData(data, txCommon)
    rememberSerialized(tx, data instanceof Uint8Array ? data : RLP.encode(data))
    return tx
  })
}
