/**
 * A parallel-execution worker (piscina). It keeps its own view of committed state — the LMDB
 * store opened in this thread, or a snapshot shipped once at start — plus the coordinator's log of
 * committed write sets, applied in order. It runs each task's transactions as one chunk over that
 * state (`chunk-runner.ts`) and returns their outcomes.
 */
import { getHeapStatistics } from 'node:v8'
import { threadId, workerData } from 'node:worker_threads'
import { type Block, createBlock } from '@ethereumjs/block'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Address } from '@ethereumjs/util'
import { Piscina } from 'piscina'
import { createChainCommon, txCommonFor } from '../../chain/common.ts'
import { pinSenderAddress, txFromBodyData } from '../../chain/transaction.ts'
import { FlatState, type StateBackend } from '../../state/flat-state.ts'
import { createStateDelta } from '../../state/types.ts'
import { mergeDelta } from '../../state/delta.ts'
import { OverlayReader } from '../../state/overlay-reader.ts'
import { LmdbStore } from '../../storage/lmdb-store.ts'
import { type ExecuteResult, type ExecuteTask, type LogEntry, packOutcomes, type TxInput, unpackDelta, unpackFromCoordinator, unpackTxInputs, type WorkerInit, type WorkerStateSource } from './protocol.ts'
import { ChunkRunner } from './chunk-runner.ts'
import { recoverSendersWith } from '../recover-senders.ts'

const init = workerData as WorkerInit
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
/** Entries before this are in `cache` (durable); those from it on are in `undurable`. */
let cachedUpTo = 0
/** The coordinator's `resetEpoch` this worker has acted on. */
let resetEpoch = 0
const runner = await ChunkRunner.create(common)

let blockKey = ''
let block: Block | undefined
let ancestors: ReadonlyMap<string, Uint8Array> = new Map()
const ancestorHash = (n: bigint) => ancestors.get(n.toString())

function blockFor(task: ExecuteTask): Block {
  const key = JSON.stringify(task.block.header)
  if (key !== blockKey || block === undefined) {
    block = createBlock({ header: task.block.header }, { common: runner.common, setHardfork: false })
    ancestors = unpackFromCoordinator<ReadonlyMap<string, Uint8Array>>(task.block.ancestors)
    blockKey = key
  }
  return block
}

/**
 * A shipped transaction, decoded here as the mempool decodes it (an EIP-1559 one without
 * ethereumjs' constructor, `txFromBodyData`), with the sender the coordinator recovered.
 */
function decode(input: TxInput): TypedTransaction {
  const tx = txFromBodyData(input.raw, txCommon)
  pinSenderAddress(tx, new Address(input.sender))
  return tx
}

/** Forget what is not durable: the overlay goes, and the log is taken again from `cachedUpTo`. */
function dropUndurable(): void {
  undurable = []
  state.delta = createStateDelta()
  appliedUpTo = cachedUpTo
}

/** `result`, its outcomes' buffer moved to the coordinator rather than copied (piscina's transferable). */
function moving(result: Extract<ExecuteResult, { kind: 'done' }>): unknown {
  const transferable = { [Piscina.transferableSymbol]: result.outcomes.buffer, [Piscina.valueSymbol]: result }
  return Piscina.move(transferable as unknown as Parameters<typeof Piscina.move>[0])
}

export default async function execute(task: ExecuteTask): Promise<unknown> {
  // The blocks committed since the last task are in LMDB: read them (see `refreshReads`).
  store?.refreshReads()
  if (task.resetEpoch !== resetEpoch) {
    // The coordinator took entries back: those not durable may be among them.
    dropUndurable()
    resetEpoch = task.resetEpoch
  }
  const first = task.entries[0]?.seq ?? task.logLength
  if (first > appliedUpTo && init.source.kind === 'lmdb' && appliedUpTo < task.durableBelow && first <= task.durableBelow) {
    // The entries this worker missed were trimmed from the log, and are durable: start over from LMDB.
    cache.clear()
    cachedUpTo = task.durableBelow
    dropUndurable()
  }
  if (first > appliedUpTo) return { kind: 'behind', threadId, appliedUpTo }
  // Entries before `durableBelow` belong to committed blocks: in LMDB (or, for a snapshot, as
  // good as durable) and never taken back. Later ones may be (see `resetEpoch`).
  const durableBelow = task.durableBelow
  if (undurable.length > 0 && undurable[0]!.seq < durableBelow) {
    // Blocks committed since: their writes move from the overlay into the cache.
    const settled = undurable.filter((entry) => entry.seq < durableBelow)
    undurable = undurable.slice(settled.length)
    for (const entry of settled) cache.apply(entry.delta)
    state.delta = createStateDelta()
    for (const entry of undurable) mergeDelta(state.delta, entry.delta)
  }
  for (const packed of task.entries) {
    if (packed.seq < appliedUpTo) continue
    const entry = { seq: packed.seq, delta: unpackDelta(packed.delta) }
    if (entry.seq < durableBelow) cache.apply(entry.delta)
    else {
      undurable.push(entry)
      mergeDelta(state.delta, entry.delta)
    }
    appliedUpTo = entry.seq + 1
  }
  cachedUpTo = undurable[0]?.seq ?? appliedUpTo
  const started = performance.now()
  const { outcomes, blockNumbers, transfersWithoutEVM } = await runner.run(unpackTxInputs(task.txs), decode, blockFor(task), state, ancestorHash)
  const packed = packOutcomes(outcomes)
  const busyMs = performance.now() - started
  const heap = getHeapStatistics()
  const memory = { heapUsed: heap.used_heap_size, heapTotal: heap.total_heap_size, stateBytes: cache.memory().bytes, pendingTimers: process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length }
  return moving({ kind: 'done', threadId, outcomes: packed, busyMs, blockNumbers: [...blockNumbers], transfersWithoutEVM, memory })
}

/** Recover the senders of serialized signed transactions (`SenderRecoveryPool`). */
export function recoverSenders(raws: readonly Uint8Array[]): (Uint8Array | string)[] {
  return recoverSendersWith(txCommon, raws)
}
