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
import { Capability, createTxFromBlockBodyData, type TypedTransaction } from '@ethereumjs/tx'
import { type Address, createWithdrawalFromBytesArray, type WithdrawalBytes } from '@ethereumjs/util'
import { blockCommonFor, txCommonFor } from './common.ts'
import { rlpListLength, rlpStringLength } from '../utils/rlp.ts'
import { pinSenderAddress, rememberSerialized, serializedTx } from './transaction.ts'

/** A block of `transactions` (already decoded, kept as they are) under `header`. */
export function blockOf(header: BlockHeader, transactions: TypedTransaction[]): Block {
  const { common } = header
  return new Block(header, transactions, [], common.isActivatedEIP(4895) ? [] : undefined, { common, setHardfork: false })
}

/** The block's RLP, with every typed transaction's bytes as they arrived (no re-encoding). */
export function serializeBlock(block: Block): Uint8Array {
  const raw: unknown[] = [
    block.header.raw(),
    block.transactions.map((tx) => (tx.supports(Capability.EIP2718TypedTransaction) ? serializedTx(tx) : tx.raw())),
    block.uncleHeaders.map((uncle) => uncle.raw()),
  ]
  if (block.withdrawals !== undefined) raw.push(block.withdrawals.map((w) => w.raw()))
  return RLP.encode(raw as never)
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
  const txCommon = txCommonFor(common)
  const transactions = txsData.map((data, i) => {
    const tx = createTxFromBlockBodyData(data, { common: txCommon, freeze: false })
    rememberSerialized(tx, data instanceof Uint8Array ? data : RLP.encode(data))
    pinSenderAddress(tx, senders[i]!)
    return tx
  })
  const withdrawals = common.isActivatedEIP(4895) ? (withdrawalsData ?? []).map(createWithdrawalFromBytesArray) : undefined
  return new Block(header, transactions, [], withdrawals, { common, setHardfork: false })
}
