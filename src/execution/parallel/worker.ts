/**
 * A parallel-execution worker (piscina). It keeps its own view of committed state — the LMDB
 * store opened in this thread, or a snapshot shipped once at start — plus the coordinator's log of
 * committed write sets, applied in order. It executes each transaction of a task independently
 * against that snapshot and returns its read set, write set and results.
 */
import { getHeapStatistics } from 'node:v8'
import { threadId, workerData } from 'node:worker_threads'
import { type Block, createBlock } from '@ethereumjs/block'
import { createTxFromRLP } from '@ethereumjs/tx'
import { Address, bytesToUnprefixedHex, equalsBytes, KECCAK256_NULL } from '@ethereumjs/util'
import { runTx } from '@ethereumjs/vm'
import { createChainCommon, txCommonFor } from '../../chain/common.ts'
import { FlatState, type StateBackend } from '../../state/flat-state.ts'
import { JournaledStateManager } from '../../state/journaled-state-manager.ts'
import { type AccountRecord, createStateDelta, type StateDelta, type StateReader } from '../../state/types.ts'
import { mergeDelta } from '../../state/delta.ts'
import { OverlayReader } from '../../state/overlay-reader.ts'
import { LmdbStore } from '../../storage/lmdb-store.ts'
import { createExecutionVM } from '../vm.ts'
import type { ExecuteResult, ExecuteTask, LogEntry, TxInput, TxOutcome, WorkerInit, WorkerStateSource } from './protocol.ts'
import { accountKey } from './protocol.ts'
import { FeeRecipientReads, RecordingReader } from './recording-reader.ts'
import { recoverSendersWith } from '../recover-senders.ts'

const init = workerData as WorkerInit
const EMPTY_ACCOUNT = { nonce: 0n, balance: 0n, codeHash: KECCAK256_NULL }
const common = createChainCommon({ chainId: init.chainId, hardfork: init.hardfork })
const txCommon = txCommonFor(common)

function openBackend(source: WorkerStateSource): StateBackend {
  if (source.kind === 'lmdb') return LmdbStore.open(source.dataDir)
  const { accounts, storage, code } = source.state
  return {
    readAccount: (a) => accounts.get(a) ?? undefined,
    readStorage: (a, s) => storage.get(a)?.get(s),
    readCode: (h) => code.get(h),
  }
}

/**
 * Committed state in two layers. `cache` holds only what is durable in LMDB (or the snapshot), so
 * it keeps its byte budget by dropping whatever it likes: LMDB answers again. `state` lays over it
 * the log entries that are not durable yet (at or after the coordinator's `durableBelow`): the
 * open block's earlier rounds and mini-batches, or a block whose commit is still on its way. A
 * worker runs ahead of LMDB for as long as a block is open; those writes exist nowhere else.
 */
const backend = openBackend(init.source)
/** The LMDB store this worker reads committed state from; undefined with a snapshot. */
const store = backend instanceof LmdbStore ? backend : undefined
const cache = new FlatState(backend, { budget: init.stateCacheBytes })
const state = new OverlayReader(cache)
/** The entries in `state`'s overlay, in order. */
let undurable: LogEntry[] = []
let appliedUpTo = 0
const stateManager = new JournaledStateManager(state)
const execution = await createExecutionVM(common, stateManager)

/** The running transaction's fee recipient reads. */
let feeRecipient: FeeRecipientReads | undefined
// Messages end innermost first, so the last to end is the transaction's top-level message; the
// fee payment comes after it.
execution.vm.evm.events!.on('afterMessage', () => feeRecipient?.endMessage())

let blockKey = ''
let block: Block | undefined
let ancestors: ReadonlyMap<string, Uint8Array> = new Map()
/** BLOCKHASH numbers looked up by the current task. */
let blockNumbers = new Set<bigint>()
execution.hashes.lookup = (n) => {
  blockNumbers.add(n)
  return ancestors.get(n.toString())
}

function blockFor(task: ExecuteTask): Block {
  const key = JSON.stringify(task.block.header)
  if (key !== blockKey || block === undefined) {
    block = createBlock({ header: task.block.header }, { common: execution.vm.common, setHardfork: false })
    ancestors = task.block.ancestors
    blockKey = key
  }
  return block
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
function committedView(chunk: OverlayReader): OverlayReader {
  const view = new OverlayReader(state)
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

/**
 * Run one transaction on top of committed state and the writes of the chunk's earlier
 * transactions (`chunk`). Only reads that reach committed state are recorded: what earlier
 * transactions of the same chunk wrote is theirs to validate, and they commit first.
 */
async function executeOne(input: TxInput, current: Block, coinbase: string, chunk: OverlayReader): Promise<TxOutcome> {
  const recorder = new RecordingReader(state)
  chunk.inner = recorder
  const fees = new FeeRecipientReads(chunk, coinbase)
  feeRecipient = fees
  stateManager.reset(fees)
  const tx = createTxFromRLP(input.raw, { common: txCommon, freeze: false })
  const sender = new Address(input.sender)
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender })
  Object.freeze(tx)
  try {
    const result = await runTx(execution.vm, { tx, block: current, skipBlockGasLimitValidation: true })
    const writes = withoutNoOps(stateManager.delta(), committedView(chunk))
    const reads = recorder.reads
    let feeDelta = 0n
    // The fee recipient is a hot spot: every transaction pays it. When the transaction's only
    // contact with it is the fee payment (nothing read it before the top-level message ended,
    // and the one write is +fee), that read-modify-write becomes a delta applied at commit, so it
    // does not conflict with every other transaction. Such deltas are credited without a read,
    // so a transaction that did read it itself (its balance, whether it is empty, its code's
    // SELFBALANCE) keeps that read in its set even where its chunk answered it: it then
    // conflicts with any write to the account before it in the round, a fee delta included.
    // A fee recipient without an account yet counts as an empty one (the payment creates it).
    const before = state.getAccount(coinbase) ?? EMPTY_ACCOUNT
    if (fees.readsBeforeFee !== 0) reads.add(accountKey(coinbase))
    else if (!chunk.delta.accounts.has(coinbase) && onlyFeePayment(writes, coinbase, before, result.minerValue)) {
      reads.delete(accountKey(coinbase))
      writes.accounts.delete(coinbase)
      feeDelta = result.minerValue
    }
    return {
      id: input.id,
      ok: true,
      reads,
      writes,
      feeDelta,
      status: 'status' in result.receipt ? result.receipt.status : 1,
      gasUsed: result.totalGasSpent,
      logs: (result.execResult.logs ?? []) as [Uint8Array, Uint8Array[], Uint8Array][],
      createdAddress: result.createdAddress?.bytes,
    }
  } catch (error) {
    return { id: input.id, ok: false, reads: recorder.reads, error: error instanceof Error ? error.message : String(error) }
  }
}

export default async function execute(task: ExecuteTask): Promise<ExecuteResult> {
  // The blocks committed since the last task are in LMDB: read them (see `refreshReads`).
  store?.refreshReads()
  const first = task.entries[0]?.seq ?? task.logLength
  if (first > appliedUpTo && init.source.kind === 'lmdb' && appliedUpTo < task.durableBelow && first <= task.durableBelow) {
    // The entries this worker missed were trimmed from the log, and are durable: start over from LMDB.
    cache.clear()
    undurable = []
    state.delta = createStateDelta()
    appliedUpTo = task.durableBelow
  }
  if (first > appliedUpTo) return { kind: 'behind', threadId, appliedUpTo }
  // A snapshot never changes underneath: everything it is given is as good as durable.
  const durableBelow = init.source.kind === 'lmdb' ? task.durableBelow : Number.POSITIVE_INFINITY
  if (undurable.length > 0 && undurable[0]!.seq < durableBelow) {
    // Blocks committed since: their writes move from the overlay into the cache.
    const settled = undurable.filter((entry) => entry.seq < durableBelow)
    undurable = undurable.slice(settled.length)
    for (const entry of settled) cache.apply(entry.delta)
    state.delta = createStateDelta()
    for (const entry of undurable) mergeDelta(state.delta, entry.delta)
  }
  for (const entry of task.entries) {
    if (entry.seq < appliedUpTo) continue
    if (entry.seq < durableBelow) cache.apply(entry.delta)
    else {
      undurable.push(entry)
      mergeDelta(state.delta, entry.delta)
    }
    appliedUpTo = entry.seq + 1
  }
  const current = blockFor(task)
  const coinbase = bytesToUnprefixedHex(current.header.coinbase.bytes)
  const started = performance.now()
  blockNumbers = new Set()
  const outcomes: TxOutcome[] = []
  // The chunk runs in order, each transaction seeing the writes of those before it.
  const chunk = new OverlayReader(state)
  for (const input of task.txs) {
    const outcome = await executeOne(input, current, coinbase, chunk)
    if (outcome.ok) mergeDelta(chunk.delta, outcome.writes)
    outcomes.push(outcome)
  }
  const heap = getHeapStatistics()
  const memory = { heapUsed: heap.used_heap_size, heapTotal: heap.total_heap_size, stateBytes: cache.memory().bytes, pendingTimers: process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length }
  return { kind: 'done', threadId, outcomes, busyMs: performance.now() - started, blockNumbers: [...blockNumbers], memory }
}

/** Recover the senders of serialized signed transactions (`SenderRecoveryPool`). */
export function recoverSenders(raws: readonly Uint8Array[]): (Uint8Array | string)[] {
  return recoverSendersWith(txCommon, raws)
}
