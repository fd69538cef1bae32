/** Chain objects as the JSON shapes geth returns (execution-apis spec). */
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address, bigIntToHex, bigIntToUnpaddedBytes, generateAddress, intToHex, setLengthLeft } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import { Bloom } from '@ethereumjs/vm'
import type { ChainBlock, StoredReceipt } from '../chain/chain.ts'
import { blockSize } from '../chain/block.ts'
import type { MiniBatchToPreconfirm } from '../chain/chain-writer.ts'
import type { BlockEvent } from '../storage/lmdb-store.ts'

type Hex = `0x${string}`

export function effectiveGasPrice(tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxFeePerGas' in tx) {
    const tip = tx.maxFeePerGas - baseFee < tx.maxPriorityFeePerGas ? tx.maxFeePerGas - baseFee : tx.maxPriorityFeePerGas
    return baseFee + tip
  }
  return tx.gasPrice
}

export type TxLocation = { chainBlock: ChainBlock; index: number } | undefined

export function formatTransaction(tx: TypedTransaction, sender: Address, location: TxLocation): Record<string, unknown> {
  const json = tx.toJSON() as Record<string, unknown>
  const out: Record<string, unknown> = {
    blockHash: location ? bytesToHex(location.chainBlock.hash) : null,
    blockNumber: location ? bigIntToHex(location.chainBlock.block.header.number) : null,
    from: sender.toString(),
    gas: bigIntToHex(tx.gasLimit),
    hash: bytesToHex(tx.hash()),
    input: bytesToHex(tx.data),
    nonce: bigIntToHex(tx.nonce),
    to: tx.to?.toString() ?? null,
    transactionIndex: location ? intToHex(location.index) : null,
    value: bigIntToHex(tx.value),
    type: intToHex(tx.type),
    v: json.v,
    r: json.r,
    s: json.s,
  }
  if (tx.type !== 0) {
    out.chainId = json.chainId
    out.yParity = json.v
    out.accessList = json.accessList ?? []
  } else {
    out.chainId = bigIntToHex(tx.common.chainId())
  }
  if ('maxFeePerGas' in tx) {
    out.maxFeePerGas = bigIntToHex(tx.maxFeePerGas)
    out.maxPriorityFeePerGas = bigIntToHex(tx.maxPriorityFeePerGas)
    const baseFee = location?.chainBlock.block.header.baseFeePerGas
    out.gasPrice = bigIntToHex(baseFee === undefined ? tx.maxFeePerGas : effectiveGasPrice(tx, baseFee))
  } else {
    out.gasPrice = bigIntToHex(tx.gasPrice)
  }
  if (json.authorizationList !== undefined) out.authorizationList = json.authorizationList
  return out
}

/**
 * A header as geth sends it to `newHeads` subscribers (`RPCMarshalHeader`): a block's fields
 * without its transactions, uncles, size and total difficulty.
 */
export function formatHeader(chainBlock: ChainBlock): Record<string, unknown> {
  const { block, hash } = chainBlock
  const h = block.header.toJSON() as Record<string, unknown>
  const out: Record<string, unknown> = {
    number: bigIntToHex(block.header.number),
    hash: bytesToHex(hash),
    parentHash: h.parentHash,
    nonce: h.nonce,
    sha3Uncles: h.uncleHash,
    logsBloom: h.logsBloom,
    transactionsRoot: h.transactionsTrie,
    stateRoot: h.stateRoot,
    receiptsRoot: h.receiptTrie,
    miner: h.coinbase,
    difficulty: h.difficulty,
    extraData: h.extraData,
    gasLimit: h.gasLimit,
    gasUsed: h.gasUsed,
    timestamp: h.timestamp,
    mixHash: h.mixHash,
  }
  for (const field of ['baseFeePerGas', 'withdrawalsRoot', 'blobGasUsed', 'excessBlobGas', 'parentBeaconBlockRoot', 'requestsHash'] as const) {
    if (h[field] !== undefined) out[field] = h[field]
  }
  return out
}

export function formatBlock(chainBlock: ChainBlock, fullTransactions: boolean): Record<string, unknown> {
  const { block } = chainBlock
  const out: Record<string, unknown> = {
    ...formatHeader(chainBlock),
    totalDifficulty: '0x0',
    size: intToHex(blockSize(block)),
    transactions: block.transactions.map((tx, index) =>
      fullTransactions ? formatTransaction(tx, chainBlock.senders[index]!, { chainBlock, index }) : bytesToHex(tx.hash()),
    ),
    uncles: [],
  }
  if (block.withdrawals !== undefined) out.withdrawals = []
  return out
}

export type LogContext = { chainBlock: ChainBlock; txIndex: number; logIndex: number }

export function formatLog(log: StoredReceipt['logs'][number], { chainBlock, txIndex, logIndex }: LogContext): Record<string, unknown> {
  const tx = chainBlock.block.transactions[txIndex]!
  return {
    address: bytesToHex(log[0]),
    topics: log[1].map((t) => bytesToHex(t)),
    data: bytesToHex(log[2]),
    blockNumber: bigIntToHex(chainBlock.block.header.number),
    blockHash: bytesToHex(chainBlock.hash),
    blockTimestamp: bigIntToHex(chainBlock.block.header.timestamp),
    transactionHash: bytesToHex(tx.hash()),
    transactionIndex: intToHex(txIndex),
    logIndex: intToHex(logIndex),
    removed: false,
  }
}

/** Index of the first log of each transaction within its block. */
export function firstLogIndexes(chainBlock: ChainBlock): number[] {
  const out: number[] = []
  let n = 0
  for (const receipt of chainBlock.receipts) {
    out.push(n)
    n += receipt.logs.length
  }
  return out
}

export function formatReceipt(chainBlock: ChainBlock, index: number, firstLogIndex: number): Record<string, unknown> {
  const { block } = chainBlock
  const tx = block.transactions[index]!
  const receipt = chainBlock.receipts[index]!
  const sender = chainBlock.senders[index]!
  const previous = index === 0 ? 0n : chainBlock.receipts[index - 1]!.cumulativeGasUsed
  const bloom = new Bloom(undefined, tx.common)
  for (const [address, topics] of receipt.logs) {
    bloom.add(address)
    for (const topic of topics) bloom.add(topic)
  }
  return {
    transactionHash: bytesToHex(tx.hash()),
    transactionIndex: intToHex(index),
    blockHash: bytesToHex(chainBlock.hash),
    blockNumber: bigIntToHex(block.header.number),
    from: sender.toString(),
    to: tx.to?.toString() ?? null,
    cumulativeGasUsed: bigIntToHex(receipt.cumulativeGasUsed),
    gasUsed: bigIntToHex(receipt.cumulativeGasUsed - previous),
    contractAddress: tx.to === undefined ? (bytesToHex(generateAddress(sender.bytes, bigIntToUnpaddedBytes(tx.nonce))) as Hex) : null,
    logs: receipt.logs.map((log, i) => formatLog(log, { chainBlock, txIndex: index, logIndex: firstLogIndex + i })),
    logsBloom: bytesToHex(bloom.bitvector),
    type: intToHex(tx.type),
    status: intToHex(receipt.status),
    effectiveGasPrice: bigIntToHex(effectiveGasPrice(tx, block.header.baseFeePerGas ?? 0n)),
  }
}

/**
 * One block event of `mosaic_subscribe("blocks")`: `{ sequence, block, status, … }` with what the
 * status adds — `executed`: the block's hash and transaction hashes; `rooted`: its post-state root
 * and the block whose header carries it; `posted`: the batch, L1 block and L1 transaction (when
 * this node posted it); `verified`: the verdict (`ok`, `batch`, `reason` when not ok).
 */
export function formatBlockEvent(
  event: BlockEvent,
  context: { readonly block: (number: bigint) => { hash: Uint8Array; txHashes: readonly Uint8Array[] } | undefined; readonly stateRootLag: number },
): Record<string, unknown> {
  const base = { sequence: bigIntToHex(event.sequence), block: bigIntToHex(event.block), status: event.status, ...event.data }
  if (event.status === 'executed') {
    const stored = context.block(event.block)
    return stored === undefined ? base : { ...base, hash: bytesToHex(stored.hash), transactions: stored.txHashes.map((h) => bytesToHex(h)) }
  }
  if (event.status === 'rooted') return { ...base, inHeaderOf: bigIntToHex(event.block + BigInt(context.stateRootLag)) }
  return base
}

/** The open block as far as it is preconfirmed (`sequencer/preconfirmations.ts`'s `PendingBlock`). */
export type PendingBlockView = { chainBlock(): ChainBlock; firstLogIndexes(): number[] }

/**
 * One preconfirmed mini-batch, as `eth_subscribe("miniBatches")` sends it (after Base's
 * flashblocks payload and MegaETH's mini-blocks): the open block's number and this mini-batch's
 * index in it, the block's parent, timestamp and base fee, the gas used by the block so far, its
 * transactions, their receipts (preconfirmed: block hash zero) and the state it changed, values
 * after it — accounts (null when deleted), storage slots (32-byte values), accounts whose storage
 * was wiped, and new code by hash.
 */
export function formatMiniBatch(batch: MiniBatchToPreconfirm, pending: PendingBlockView | undefined): Record<string, unknown> {
  const chainBlock = pending?.chainBlock()
  const header = chainBlock?.block.header
  const firstLogs = pending?.firstLogIndexes() ?? []
  const { changes } = batch
  const accounts: Record<string, unknown> = {}
  for (const [address, record] of changes.accounts) {
    accounts[`0x${address}`] = record === null ? null : { nonce: bigIntToHex(record.nonce), balance: bigIntToHex(record.balance), codeHash: bytesToHex(record.codeHash) }
  }
  const storage: Record<string, Record<string, string>> = {}
  for (const [address, slots] of changes.storage) {
    const out: Record<string, string> = {}
    for (const [slot, value] of slots) out[`0x${slot}`] = bytesToHex(setLengthLeft(value, 32))
    storage[`0x${address}`] = out
  }
  const code: Record<string, string> = {}
  for (const [hash, bytes] of changes.code) code[`0x${hash}`] = bytesToHex(bytes)
  const receipts: unknown[] = []
  if (chainBlock !== undefined) {
    for (let i = batch.firstIndex; i < batch.firstIndex + batch.included.length && i < chainBlock.receipts.length; i++) receipts.push(formatReceipt(chainBlock, i, firstLogs[i]!))
  }
  return {
    blockNumber: bigIntToHex(batch.block),
    index: intToHex(batch.index),
    parentHash: header === undefined ? null : bytesToHex(header.parentHash),
    timestamp: header === undefined ? null : bigIntToHex(header.timestamp),
    baseFeePerGas: header?.baseFeePerGas === undefined ? null : bigIntToHex(header.baseFeePerGas),
    gasUsed: bigIntToHex(batch.gasUsed),
    firstTransactionIndex: intToHex(batch.firstIndex),
    transactions: batch.included.map((tx) => bytesToHex(tx.hash())),
    receipts,
    stateChanges: { accounts, storage, storageCleared: [...changes.storageCleared].map((a) => `0x${a}`), code },
  }
}
