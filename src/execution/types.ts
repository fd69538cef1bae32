/**
 * The execution interface: one block's ordered transactions in, receipts and the state delta
 * out. The sequential executor implements it now; the parallel executor (optimistic, on worker
 * threads) implements the same interface and must give an identical result.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import type { TxReceipt } from '@ethereumjs/vm'
import type { ReadSet } from '../state/read-set.ts'
import type { StateDelta, StateReader } from '../state/types.ts'

/** Hash of an ancestor block, for BLOCKHASH; undefined when unknown. */
export type BlockHashLookup = (number: bigint) => Uint8Array | undefined

export type ExecuteBlockParameters = {
  /** Header template: number, parentHash, timestamp, coinbase, gasLimit, baseFeePerGas, mixHash. */
  readonly header: BlockHeader
  /**
   * Ordered candidates. Senders pinned by the mempool are used as they are; the parallel executor
   * recovers any others on its workers (unfrozen txs), the sequential one as execution asks.
   */
  readonly transactions: readonly TypedTransaction[]
  /** Committed state of the parent block. */
  readonly state: StateReader
  readonly blockHash: BlockHashLookup
}

export type ExecutedTx = {
  readonly tx: TypedTransaction
  readonly sender: Address
  readonly receipt: TxReceipt
  /** Gas this transaction used (after refunds). */
  readonly gasUsed: bigint
  readonly createdAddress: Address | undefined
}

/** A candidate left out of the block: it would be invalid at its position (e.g. nonce, funds). */
export type RejectedTx = { readonly tx: TypedTransaction; readonly reason: string }

/** How a block was executed, for metrics. */
export type ExecutionStats = {
  readonly mode: 'sequential' | 'parallel'
  /** Batches dispatched to workers (0 when sequential). */
  readonly rounds: number
  /** Executions thrown away on a read/write conflict (each is re-executed). */
  readonly aborts: number
  /** Rounds stopped by a conflict: a transaction read a key an earlier one in the round wrote. */
  readonly conflicts?: number
  /** The keys most often behind those conflicts (`a<address>` or `s<address><slot>`), most first. */
  readonly hotKeys?: readonly { readonly key: string; readonly conflicts: number }[]
  /** Transactions run as plain value transfers, without the EVM (`value-transfer.ts`). */
  readonly transfersWithoutEVM?: number
}

export type BlockExecution = {
  /** In block order: the order the transactions were given in, for both executors. */
  readonly executed: readonly ExecutedTx[]
  readonly rejected: readonly RejectedTx[]
  readonly gasUsed: bigint
  readonly delta: StateDelta
  /** Keys read from the parent's state and BLOCKHASH numbers looked up (for the witness). */
  readonly reads: ReadSet
  readonly stats: ExecutionStats
}

export type ExecutorMode = 'sequential' | 'parallel'

/** An open block: its header template, committed state and BLOCKHASH source; no transactions yet. */
export type OpenBlockParameters = Omit<ExecuteBlockParameters, 'transactions'>

/** One mini-batch executed on top of the open block. */
export type MiniBatchExecution = {
  /** In the order given; their receipts' cumulative gas counts every earlier mini-batch of the block. */
  readonly executed: readonly ExecutedTx[]
  /** Left out: invalid at their position (nonce, funds) or past the block's gas limit. */
  readonly rejected: readonly RejectedTx[]
  /** Gas used by the block so far (every mini-batch up to this one). */
  readonly gasUsed: bigint
  /** The state this mini-batch changed, values after it (merged in order, the block's delta). */
  readonly changes: StateDelta
}

/**
 * A block executed incrementally, mini-batch by mini-batch, on one journaled state (the VM,
 * the overlay, the read set and the cumulative gas stay between calls). `finish` gives the same
 * `BlockExecution` as `executeBlock` of all the transactions given, in that order: the open block
 * is the sequential execution of their concatenation.
 */
export interface OpenBlockExecution {
  readonly header: BlockHeader
  /** Gas used so far. */
  readonly gasUsed: bigint
  execute(transactions: readonly TypedTransaction[]): Promise<MiniBatchExecution>
  /** The whole block; the executor is free again. */
  finish(): BlockExecution
}

export interface BlockExecutor {
  readonly mode: ExecutorMode
  /** The memory of the executor's worker threads, if it has any (`mosaic_status`, `/metrics`). */
  workerMemory?(): readonly { readonly heapUsed: number; readonly heapTotal: number; readonly stateBytes: number }[]
  executeBlock(parameters: ExecuteBlockParameters): Promise<BlockExecution>
  /** Start a block to execute in mini-batches; until it is finished the executor runs nothing else. */
  openBlock(parameters: OpenBlockParameters): Promise<OpenBlockExecution>
  close(): Promise<void>
}
