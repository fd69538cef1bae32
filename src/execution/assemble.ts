/**
 * Assembling a block from executed transactions: header roots (transactions, receipts) and bloom,
 * then the block and what the store keeps of it. The sequencer seals its blocks with it, and
 * eth_simulateV1 builds its simulated blocks the same way.
 */
import { type Block, type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import { Bloom, type TxReceipt } from '@ethereumjs/vm'
import { encodeReceipt } from '../chain/receipt.ts'
import { blockOf, serializeBlock } from '../chain/block.ts'
import { type ChainBlock, encodeStoredReceipt, type StoredReceipt } from '../chain/chain.ts'
import { serializedTx } from '../chain/transaction.ts'
import { orderedTrieRoot } from '../commitment/ordered-root.ts'
import type { StoredBlock } from '../storage/lmdb-store.ts'
import type { ExecutedTx } from './types.ts'

/** What the store keeps of an executed transaction's receipt. */
export function storedReceiptOf(receipt: TxReceipt): StoredReceipt {
  return {
    status: 'status' in receipt ? receipt.status : 1,
    cumulativeGasUsed: receipt.cumulativeBlockGasUsed,
    logs: receipt.logs as StoredReceipt['logs'],
  }
}

/**
 * Header roots and bloom from the executed transactions, then the final block — built from the
 * transaction objects already in hand and their bytes as they arrived (`chain/block.ts`).
 */
export function assembleBlock(
  template: BlockHeader,
  executed: readonly ExecutedTx[],
  gasUsed: bigint,
  stateRoot: Uint8Array,
): { block: Block; stored: StoredBlock; chainBlock: ChainBlock } {
  const { common } = template
  const transactions = executed.map((e) => e.tx)
  const bloom = new Bloom(undefined, common)
  const receipts: StoredReceipt[] = []
  for (const { receipt } of executed) {
    if (receipt.logs.length > 0) bloom.or(new Bloom(receipt.bitvector, common))
    receipts.push(storedReceiptOf(receipt))
  }
  const transactionsTrie = orderedTrieRoot(transactions.map((tx) => serializedTx(tx)))
  const receiptTrie = orderedTrieRoot(executed.map(({ tx, receipt }) => encodeReceipt(receipt, tx.type)))
  const header = createBlockHeader(
    { ...template.toJSON(), gasUsed, transactionsTrie, receiptTrie, logsBloom: bloom.bitvector, stateRoot },
    { common, setHardfork: false },
  )
  const block = blockOf(header, transactions)
  const hash = block.hash()
  const senders = executed.map((e) => e.sender)
  const stored: StoredBlock = {
    number: block.header.number,
    hash,
    serialized: serializeBlock(block),
    senders: senders.map((s) => s.bytes),
    txHashes: transactions.map((tx) => tx.hash()),
    receipts: receipts.map(encodeStoredReceipt),
  }
  return { block, stored, chainBlock: { block, hash, senders, receipts } }
}
