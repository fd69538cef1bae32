/**
 * The block producer. Every block time (or as soon as the pool holds a block's worth of gas) it
 * takes the mempool's ordered transactions, executes them, hands the state delta to the
 * commitment pipeline, assembles the header — whose state root is the root after block
 * N − STATE_ROOT_LAG, waiting for it only if the pipeline is further behind —, writes the block
 * and its state changes to LMDB in one transaction, and only then makes it the head: no receipt
 * is served before its block is durable.
 */
import { EventEmitter } from 'node:events'
import { type Block, type BlockHeader, createBlock, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address, bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'
import { Bloom, encodeReceipt } from '@ethereumjs/vm'
import { nextBaseFee } from '../chain/base-fee.ts'
import { type Chain, type ChainBlock, encodeStoredReceipt, type StoredReceipt } from '../chain/chain.ts'
import { orderedTrieRoot } from '../commitment/ordered-root.ts'
import type { CommitmentPipeline } from '../commitment/pipeline.ts'
import { witnessExtras } from '../witness/inputs.ts'
import { encodeReadSet } from '../state/read-set.ts'
import { serializedTx } from '../chain/transaction.ts'
import { keccak256 } from '../crypto/crypto.ts'
import type { BlockExecutor, ExecutedTx } from '../execution/types.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { NodeMetrics } from '../metrics/registry.ts'
import type { FlatState } from '../state/flat-state.ts'
import type { StoredBlock } from '../storage/lmdb-store.ts'
import type { LmdbStore } from '../storage/lmdb-store.ts'
import type { Mutex } from '../utils/mutex.ts'

export type SequencerOptions = {
  readonly common: Common
  readonly store: LmdbStore
  readonly chain: Chain
  readonly state: FlatState
  readonly mempool: Mempool
  readonly executor: BlockExecutor
  readonly metrics: NodeMetrics
  /** Shared with eth_call so a call never sees a half-applied block. */
  readonly stateLock: Mutex
  readonly blockTimeMs: number
  readonly emptyBlocks: boolean
  readonly blockGasLimit: bigint
  readonly baseFeeFloor: bigint
  readonly feeRecipient: Address
  readonly commitment: CommitmentPipeline
  /** L: the header of block N carries the state root after block max(N − L, 0). */
  readonly stateRootLag: number
  readonly log: (message: string) => void
}

export type SequencerEvents = {
  block: [ChainBlock]
  dropped: [Uint8Array, string]
}

export class Sequencer extends EventEmitter<SequencerEvents> {
  private timer: NodeJS.Timeout | undefined
  private sealing: Promise<void> | undefined
  private stopped = true

  constructor(private readonly o: SequencerOptions) {
    super()
    this.setMaxListeners(0)
  }

  start(): void {
    this.stopped = false
    this.schedule()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    await this.sealing
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => void this.tick(), this.o.blockTimeMs)
  }

  private async tick(): Promise<void> {
    try {
      if (this.o.mempool.size > 0 || this.o.emptyBlocks) await this.seal()
    } catch (error) {
      this.o.log(`block production failed: ${(error as Error).stack ?? error}`)
    } finally {
      this.schedule()
    }
  }

  /** Called after a transaction is pooled: seal at once when the pool holds a full block. */
  notifyPooled(): void {
    if (this.stopped || this.sealing !== undefined) return
    if (this.o.mempool.pooledGas >= this.o.blockGasLimit) {
      if (this.timer !== undefined) clearTimeout(this.timer)
      void this.tick()
    }
  }

  /** Seal one block now (tests and the devnet's on-demand mining use this). */
  async seal(): Promise<ChainBlock | undefined> {
    while (this.sealing !== undefined) await this.sealing
    let sealed: ChainBlock | undefined
    this.sealing = this.o.stateLock
      .run(async () => {
        sealed = await this.produce()
      })
      .finally(() => {
        this.sealing = undefined
      })
    await this.sealing
    return sealed
  }

  /** The header template of the block after the head. */
  nextHeader(): BlockHeader {
    const parent = this.o.chain.getBlock(this.o.chain.head)
    if (parent === undefined) throw new Error(`head block ${this.o.chain.head} missing from the store`)
    const p = parent.block.header
    const now = BigInt(Math.floor(Date.now() / 1000))
    return createBlockHeader(
      {
        parentHash: parent.hash,
        number: p.number + 1n,
        // Several blocks per second share a timestamp (as Arbitrum's do); it never goes backwards.
        timestamp: now > p.timestamp ? now : p.timestamp,
        gasLimit: this.o.blockGasLimit,
        coinbase: this.o.feeRecipient,
        baseFeePerGas: nextBaseFee({ gasLimit: p.gasLimit, gasUsed: p.gasUsed, baseFeePerGas: p.baseFeePerGas ?? 0n }, this.o.baseFeeFloor),
        // prevRandao: deterministic from the parent, so a verifier can re-derive it.
        mixHash: keccak256(parent.hash),
      },
      { common: this.o.common, setHardfork: false },
    )
  }

  private async produce(): Promise<ChainBlock | undefined> {
    const { mempool, executor, chain, state, metrics } = this.o
    const started = performance.now()
    const template = this.nextHeader()
    const candidates = mempool.select(template.gasLimit, template.baseFeePerGas ?? 0n)
    if (candidates.length === 0 && !this.o.emptyBlocks) return undefined
    const { commitment } = this.o
    // Trie paths of the accounts the block will write are loaded while it executes.
    commitment.prefetch(touchedAccounts(candidates, template.coinbase))
    const execution = await executor.executeBlock({
      header: template,
      transactions: candidates,
      state,
      blockHash: (n) => chain.getBlockHash(n),
    })
    const number = template.number
    const extras = witnessExtras(execution.reads, state, number - 1n, (n) => chain.getBlock(n)?.block.header.serialize())
    commitment.submit(number, execution.delta, { reads: execution.reads, ...extras })
    const committed = number - BigInt(this.o.stateRootLag)
    const stateRoot = await commitment.rootOf(committed < 0n ? 0n : committed)
    const { block, stored, chainBlock } = await assembleBlock(this.o.common, template, execution.executed, execution.gasUsed, stateRoot)
    const readSet = encodeReadSet(execution.reads, extras.codeHashes)
    await chain.append(stored, chainBlock, () => this.o.store.writeBlock(stored, execution.delta, { readSet }))
    commitment.markDurable(number)
    state.apply(execution.delta)
    mempool.prune(
      execution.executed.map((e) => e.tx),
      execution.rejected.map((r) => r.tx),
      execution.delta.accounts.keys(),
    )
    for (const { tx, reason } of execution.rejected) {
      metrics.rejectedTxs.inc({ reason: 'execution' })
      this.emit('dropped', tx.hash(), reason)
    }
    metrics.blocks.inc()
    metrics.executorBlocks.inc({ executor_mode: execution.stats.mode })
    metrics.executorAborts.inc({}, execution.stats.aborts)
    metrics.executorRounds.inc({}, execution.stats.rounds)
    metrics.executorLastAborts.set(execution.stats.aborts)
    metrics.txs.inc({}, execution.executed.length)
    metrics.blockTime.observe((performance.now() - started) / 1000)
    metrics.stateRootLag.set(Number(number - (commitment.stats().computed ?? -1n)))
    this.o.log(
      `sealed block ${block.header.number} hash=${bytesToHex(chainBlock.hash).slice(0, 18)}… txs=${execution.executed.length} gas=${execution.gasUsed} in ${(performance.now() - started).toFixed(1)} ms`,
    )
    this.emit('block', chainBlock)
    return chainBlock
  }

  /** Resolves with the block holding `hash` once it is durable, or rejects after `timeoutMs`. */
  waitForInclusion(hash: Uint8Array, timeoutMs: number): Promise<{ status: 'included' } | { status: 'dropped'; reason: string } | { status: 'timeout' }> {
    const key = bytesToUnprefixedHex(hash)
    return new Promise((resolve) => {
      const finish = (result: { status: 'included' } | { status: 'dropped'; reason: string } | { status: 'timeout' }) => {
        clearTimeout(timer)
        this.off('block', onBlock)
        this.off('dropped', onDropped)
        resolve(result)
      }
      const onBlock = (block: ChainBlock) => {
        if (block.block.transactions.some((tx) => bytesToUnprefixedHex(tx.hash()) === key)) finish({ status: 'included' })
      }
      const onDropped = (dropped: Uint8Array, reason: string) => {
        if (bytesToUnprefixedHex(dropped) === key) finish({ status: 'dropped', reason })
      }
      const timer = setTimeout(() => finish({ status: 'timeout' }), timeoutMs)
      this.on('block', onBlock)
      this.on('dropped', onDropped)
    })
  }
}

/** Senders, recipients and the fee recipient of the candidates (lowercase hex, no 0x). */
function touchedAccounts(candidates: readonly TypedTransaction[], coinbase: Address): Set<string> {
  const touched = new Set<string>([bytesToUnprefixedHex(coinbase.bytes)])
  for (const tx of candidates) {
    touched.add(bytesToUnprefixedHex(tx.getSenderAddress().bytes))
    if (tx.to !== undefined) touched.add(bytesToUnprefixedHex(tx.to.bytes))
  }
  return touched
}

/** Header roots and bloom from the executed transactions, then the final block. */
export async function assembleBlock(
  common: Common,
  template: BlockHeader,
  executed: readonly ExecutedTx[],
  gasUsed: bigint,
  stateRoot: Uint8Array,
): Promise<{ block: Block; stored: StoredBlock; chainBlock: ChainBlock }> {
  const transactions = executed.map((e) => e.tx)
  const bloom = new Bloom(undefined, common)
  const receipts: StoredReceipt[] = []
  for (const { receipt } of executed) {
    bloom.or(new Bloom(receipt.bitvector, common))
    receipts.push({
      status: 'status' in receipt ? receipt.status : 1,
      cumulativeGasUsed: receipt.cumulativeBlockGasUsed,
      logs: receipt.logs as StoredReceipt['logs'],
    })
  }
  const transactionsTrie = orderedTrieRoot(transactions.map((tx) => serializedTx(tx)))
  const receiptTrie = orderedTrieRoot(executed.map(({ tx, receipt }) => encodeReceipt(receipt, tx.type)))
  const block = createBlock(
    {
      header: { ...template.toJSON(), gasUsed, transactionsTrie, receiptTrie, logsBloom: bloom.bitvector, stateRoot },
      transactions,
      ...(common.isActivatedEIP(4895) ? { withdrawals: [] } : {}),
    },
    { common, setHardfork: false },
  )
  const hash = block.hash()
  const senders = executed.map((e) => e.sender)
  const stored: StoredBlock = {
    number: block.header.number,
    hash,
    serialized: block.serialize(),
    senders: senders.map((s) => s.bytes),
    txHashes: transactions.map((tx) => tx.hash()),
    receipts: receipts.map(encodeStoredReceipt),
  }
  return { block, stored, chainBlock: { block, hash, senders, receipts } }
}
