/**
 * Runs one chunk of a parallel round: its transactions in order, each on top of committed state
 * and the writes of the chunk's earlier transactions, and returns per transaction its read set,
 * write set and result (`TxOutcome`) for the coordinator to validate. Workers run chunks over
 * their own view of committed state (`worker.ts`); the coordinator runs its own share on the main
 * thread over the block's (`parallel-executor.ts`). Both go through here, so an outcome means the
 * same wherever it was computed.
 *
 * Readers under a transaction's state manager (see `recording-reader.ts`):
 *
 *   state manager → `FeeRecipientReads` → the chunk's overlay → `RecordingReader` → committed state
 */
import type { Block } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import { equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import { runTx } from '@ethereumjs/vm'
import { mergeDelta } from '../../state/delta.ts'
import { JournaledStateManager } from '../../state/journaled-state-manager.ts'
import { OverlayReader } from '../../state/overlay-reader.ts'
import type { AccountRecord, StateDelta, StateReader } from '../../state/types.ts'
import type { BlockHashLookup } from '../types.ts'
import { runValueTransfer } from '../value-transfer.ts'
import { createExecutionVM, type ExecutionVM } from '../vm.ts'
import type { TxOutcome } from './protocol.ts'
import { accountKey } from './protocol.ts'
import { FeeRecipientReads, RecordingReader } from './recording-reader.ts'
import { bytesToUnprefixedHex } from '../../utils/hex.ts'

const EMPTY_ACCOUNT = { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL }
const NOTHING: StateReader = { getAccount: () => undefined, getStorage: () => new Uint8Array(0), getCode: () => undefined }

/**
 * What a chunk produced: an outcome per transaction, in the chunk's order, the BLOCKHASH numbers
 * it looked up, and how many of its transactions ran as plain value transfers, without the EVM.
 */
export type ChunkResult = { readonly outcomes: TxOutcome[]; readonly blockNumbers: ReadonlySet<bigint>; readonly transfersWithoutEVM: number }

export class ChunkRunner {
  /** The running transaction's fee recipient reads. */
  private feeRecipient: FeeRecipientReads | undefined
  /** Transactions of the running chunk that went the way without the EVM (`value-transfer.ts`). */
  private transfersWithoutEVM = 0

  private constructor(
    private readonly execution: ExecutionVM,
    private readonly stateManager: JournaledStateManager,
  ) {
    // Messages end innermost first, so the last to end is the transaction's top-level message;
    // the fee payment comes after it.
    execution.vm.evm.events!.on('afterMessage', () => this.feeRecipient?.endMessage())
  }

  static async create(common: Common): Promise<ChunkRunner> {
    // Every run resets it onto that chunk's readers; until then it reads an empty state.
    const stateManager = new JournaledStateManager(NOTHING)
    return new ChunkRunner(await createExecutionVM(common, stateManager), stateManager)
  }

  /** The ethereumjs Common the VM runs under (blocks for `run` are made with it). */
  get common(): Common {
    return this.execution.vm.common
  }

  /**
   * Run `items` in order over `committed`. `txOf` gives an item's transaction, its sender known;
   * if it throws (a transaction that does not decode), that item fails as a refused one would.
   */
  async run<T extends { readonly id: number }>(items: readonly T[], txOf: (item: T) => TypedTransaction, block: Block, committed: StateReader, blockHash: BlockHashLookup): Promise<ChunkResult> {
    const blockNumbers = new Set<bigint>()
    this.execution.hashes.lookup = (n) => {
      blockNumbers.add(n)
      return blockHash(n)
    }
    const coinbase = bytesToUnprefixedHex(block.header.coinbase.bytes)
    const outcomes: TxOutcome[] = []
    this.transfersWithoutEVM = 0
    // The chunk runs in order, each transaction seeing the writes of those before it.
    const chunk = new OverlayReader(committed)
    for (const item of items) {
      const outcome = await this.runOne(item.id, () => txOf(item), block, coinbase, committed, chunk)
      if (outcome.ok) mergeDelta(chunk.delta, outcome.writes)
      outcomes.push(outcome)
    }
    // Hold nothing of this chunk's state until the next (on the main thread: the block's delta).
    this.feeRecipient = undefined
    this.stateManager.reset(NOTHING)
    this.execution.hashes.lookup = () => undefined
    return { outcomes, blockNumbers, transfersWithoutEVM: this.transfersWithoutEVM }
  }

  /**
   * Run one transaction on top of committed state and the writes of the chunk's earlier
   * transactions (`chunk`). Only reads that reach committed state are recorded: what earlier
   * transactions of the same chunk wrote is theirs to validate, and they commit first.
   */
  private async runOne(id: number, txOf: () => TypedTransaction, block: Block, coinbase: string, committed: StateReader, chunk: OverlayReader): Promise<TxOutcome> {
    const recorder = new RecordingReader(committed)
    chunk.inner = recorder
    const fees = new FeeRecipientReads(chunk, coinbase)
    this.feeRecipient = fees
    this.stateManager.reset(fees)
    try {
      const tx = txOf()
      // A plain value transfer skips the EVM, as on the sequential executor; where runTx's
      // top-level message would end, the fee recipient's reads so far are the transaction's own.
      const transfer = runValueTransfer(this.execution.vm, this.stateManager, tx, block, 0n, { messageEnded: () => fees.endMessage() })
      if (transfer !== undefined) this.transfersWithoutEVM++
      const result = transfer ?? (await runTx(this.execution.vm, { tx, block, skipBlockGasLimitValidation: true }))
      const writes = withoutNoOps(this.stateManager.delta(), committedView(committed, chunk))
      const reads = recorder.reads
      let feeDelta = 0n
      // The fee recipient is a hot spot: every transaction pays it. When the transaction's only
      // contact with it is the fee payment (nothing read it before the top-level message ended,
      // and the one write is +fee), that read-modify-write becomes a delta applied at commit, so
      // it does not conflict with every other transaction. Such deltas are credited without a
      // read, so a transaction that did read it itself (its balance, whether it is empty, its
      // code's SELFBALANCE) keeps that read in its set even where its chunk answered it: it then
      // conflicts with any write to the account before it in the round, a fee delta included.
      // A fee recipient without an account yet counts as an empty one (the payment creates it).
      const before = committed.getAccount(coinbase) ?? EMPTY_ACCOUNT
      if (fees.readsBeforeFee !== 0) reads.add(accountKey(coinbase))
      else if (!chunk.delta.accounts.has(coinbase) && onlyFeePayment(writes, coinbase, before, result.minerValue)) {
        reads.delete(accountKey(coinbase))
        writes.accounts.delete(coinbase)
        feeDelta = result.minerValue
      }
      return {
        id,
        ok: true,
        reads,
        writes,
        feeDelta,
        status: 'status' in result.receipt ? result.receipt.status : 1,
        gasUsed: result.totalGasSpent,
        logs: ('execResult' in result ? (result.execResult.logs ?? []) : []) as [Uint8Array, Uint8Array[], Uint8Array][],
        logsBloom: result.receipt.bitvector,
        createdAddress: result.createdAddress?.bytes,
      }
    } catch (error) {
      return { id, ok: false, reads: recorder.reads, error: error instanceof Error ? error.message : String(error) }
    }
  }
}

function sameAccount(a: AccountRecord | undefined, b: AccountRecord | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null
  return a.nonce === b.nonce && a.balance === b.balance && equalsBytes(a.codeHash, b.codeHash)
}

/**
 * Drop writes that leave a value as it was. The EVM writes the callee's account on every call
 * (even with no value: ethereumjs' `_addToBalance`), so without this every ERC-20 transfer
 * "writes" the token account and all of them conflict.
 */
function withoutNoOps(writes: StateDelta, before: StateReader): StateDelta {
  for (const [address, record] of writes.accounts) {
    if (!sameAccount(before.getAccount(address), record)) continue
    writes.accounts.delete(address)
    // An absent account deleted again (a precompile or an empty account touched, EIP-161): its
    // storage "clear" is as much a no-op — kept alone, it would make the commitment insert an
    // empty account the sequential executor never writes.
    if (record === null) {
      writes.storageCleared.delete(address)
      writes.storage.delete(address)
    }
  }
  for (const [address, slots] of writes.storage) {
    if (writes.storageCleared.has(address)) continue
    for (const [slot, value] of slots) if (equalsBytes(before.getStorage(address, slot), value)) slots.delete(slot)
    if (slots.size === 0) writes.storage.delete(address)
  }
  return writes
}

/** Committed state plus the chunk's earlier writes, read without recording (for comparisons). */
function committedView(committed: StateReader, chunk: OverlayReader): OverlayReader {
  const view = new OverlayReader(committed)
  view.delta = chunk.delta
  return view
}

function onlyFeePayment(writes: StateDelta, coinbase: string, before: AccountRecord, fee: bigint): boolean {
  // A zero fee leaves the account as it was: its no-op write was dropped.
  const after = writes.accounts.get(coinbase) ?? (fee === 0n ? before : undefined)
  return (
    after !== undefined &&
    after !== null &&
    after.nonce === before.nonce &&
    after.balance === before.balance + fee &&
    equalsBytes(after.codeHash, before.codeHash) &&
    !writes.storageCleared.has(coinbase) &&
    !writes.storage.has(coinbase)
  )
}
