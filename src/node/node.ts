/**
 * Wires one mosaic node together from a validated config: store, genesis, state, mempool,
 * executor, sequencer and simulator. The RPC server and the CLI sit on top of it.
 */
import { availableParallelism } from 'node:os'
import { RLP } from '@ethereumjs/rlp'
import type { Common } from '@ethereumjs/common'
import { createAddressFromString, equalsBytes } from '@ethereumjs/util'
import { Chain, type ChainBlock } from '../chain/chain.ts'
import { ChainWriter } from '../chain/chain-writer.ts'
import { type Layout, layoutName, layoutOf } from '../commitment/layout.ts'
import { CommitmentPipeline, type WitnessInput } from '../commitment/pipeline.ts'
import { computeStateRoot } from '../commitment/root.ts'
import { createChainCommon } from '../chain/common.ts'
import { type DevAccount, deriveDevAccounts } from '../chain/dev-accounts.ts'
import { genesisBlock, genesisDigest, loadChainGenesis } from '../chain/genesis.ts'
import { type Config, historyWindow, trieHistoryWindow } from '../config/config.ts'
import { MosaicError } from '../errors.ts'
import { decodeReadSet } from '../state/read-set.ts'
import { rebuildExtras } from '../witness/inputs.ts'
import { createSequentialExecutor } from '../execution/sequential-executor.ts'
import { createParallelExecutor } from '../execution/parallel/parallel-executor.ts'
import { createSenderRecovery } from '../execution/parallel/sender-recovery.ts'
import { Simulator } from '../execution/simulate.ts'
import type { BlockExecutor } from '../execution/types.ts'
import { Mempool } from '../mempool/mempool.ts'
import { createNodeMetrics, type NodeMetrics } from '../metrics/registry.ts'
import { Preconfirmations } from '../sequencer/preconfirmations.ts'
import { Sequencer } from '../sequencer/sequencer.ts'
import { FlatState } from '../state/flat-state.ts'
import { metaKeys, numberKey, readNumberKey } from '../storage/schema.ts'
import { LmdbStore } from '../storage/lmdb-store.ts'
import { Mutex } from '../utils/mutex.ts'
import { BlockEvents } from './block-events.ts'
import { memoryStatus, registerMemoryMetrics } from './memory.ts'
import { bytesToHex } from '../utils/hex.ts'

export type MosaicNode = {
  readonly config: Config
  readonly common: Common
  readonly store: LmdbStore
  readonly chain: Chain
  readonly state: FlatState
  readonly mempool: Mempool
  readonly executor: BlockExecutor
  readonly sequencer: Sequencer
  /** The open block's preconfirmed mini-batches: the `pending` tag, preconfirmed receipts. */
  readonly preconfirmations: Preconfirmations
  /** The one path by which a block becomes canonical (sequencer and replica alike). */
  readonly writer: ChainWriter
  /** Each block's life in order — executed, rooted, posted, finalized, verified — numbered (`mosaic_subscribe("blocks")`). */
  readonly blockEvents: BlockEvents
  readonly simulator: Simulator
  readonly commitment: CommitmentPipeline
  readonly layout: Layout
  readonly stateLock: Mutex
  readonly metrics: NodeMetrics
  readonly devAccounts: readonly DevAccount[]
  /** The L1 poster, once `node/l1.ts` connected the node to an L1 (serves `mosaic_posterStatus`). */
  poster?: { status(): Promise<unknown>; readonly safeBlock: bigint; readonly finalizedBlock: bigint }
  close(): Promise<void>
}

export type OpenNodeOptions = { log?: (message: string) => void }

/** What block `n`'s witness needs besides trie nodes, from what was stored with the block. */
function storedWitnessInput(store: LmdbStore, n: bigint): WitnessInput | undefined {
  const stored = store.getReadSet(n)
  if (stored === undefined) return undefined
  const { reads, codeHashes } = decodeReadSet(stored)
  // A stored block's RLP is [header, transactions, …]: its header is the first item.
  const header = (k: bigint) => {
    const serialized = store.getBlockRlp(k)
    return serialized === undefined ? undefined : RLP.encode((RLP.decode(serialized) as unknown as Uint8Array[][])[0]!)
  }
  return { reads, ...rebuildExtras(reads, codeHashes, (hash) => store.readCode(hash), n - 1n, header) }
}

/**
 * One commitment worker per core but one, at most 8: the workers are mostly idle (execution, not
 * hashing, bounds a block), each costs ~50 MB, and the main thread keeps a core to itself.
 */
export function defaultCommitmentThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism() - 1))
}

/**
 * Block 0 of the data dir. At the first start the genesis is parsed and its state root computed
 * once, by the commitment workers within their trie budget (the pipeline's block 0), then block
 * 0 is written with the genesis digest and chain id. A later start whose genesis digest matches
 * reads nothing more; otherwise (the file reformatted, a data dir from before the digest) the
 * root is computed again and the genesis hash compared: a data dir started with another genesis
 * is refused.
 */
async function openGenesis({ config, devAccounts, layout, store, commitment, log }: {
  readonly config: Config
  readonly devAccounts: readonly DevAccount[]
  readonly layout: Layout
  readonly store: LmdbStore
  readonly commitment: CommitmentPipeline
  readonly log: (message: string) => void
}): Promise<{ chainId: number; head: bigint }> {
  const digest = genesisDigest(config, devAccounts, layoutName(layout))
  const head = store.getHead()
  const storedChainId = store.getMeta(metaKeys.genesisChainId)
  if (head !== undefined && storedChainId !== undefined && equalsBytes(store.getMeta(metaKeys.genesisDigest) ?? new Uint8Array(), digest)) {
    log(`resuming at block ${head} from ${config.dataDir} (genesis digest matches)`)
    return { chainId: Number(readNumberKey(storedChainId)), head }
  }
  const genesis = loadChainGenesis(config, devAccounts)
  const common = createChainCommon({ chainId: genesis.chainId, hardfork: config.hardfork })
  const meta = { [metaKeys.genesisDigest]: digest, [metaKeys.genesisChainId]: numberKey(BigInt(genesis.chainId)) }
  if (head === undefined) {
    commitment.submit(0n, genesis.state)
    const block = genesisBlock(genesis, common, await commitment.rootOf(0n))
    await store.writeBlock(
      { number: 0n, hash: block.hash, serialized: block.block.serialize(), senders: [], txHashes: [], receipts: [] },
      genesis.state,
      { meta: { [metaKeys.genesisHash]: block.hash, ...meta } },
    )
    commitment.markDurable(0n)
    log(`initialised ${config.dataDir} with genesis ${bytesToHex(block.hash)}`)
    return { chainId: genesis.chainId, head: 0n }
  }
  const hash = genesisBlock(genesis, common, computeStateRoot(genesis.state, layout)).hash
  const stored = store.getMeta(metaKeys.genesisHash)
  if (stored === undefined || !equalsBytes(stored, hash)) {
    throw new MosaicError(
      'GENESIS_INVALID',
      `Data dir ${config.dataDir} holds a chain with genesis ${stored ? bytesToHex(stored) : '(none)'}, but the configured genesis is ${bytesToHex(hash)}: use another DATA_DIR or the same genesis`,
    )
  }
  for (const [key, value] of Object.entries(meta)) await store.putMeta(key, value)
  log(`resuming at block ${head} from ${config.dataDir} (genesis root recomputed: the genesis digest is new to this data dir)`)
  return { chainId: genesis.chainId, head }
}

export async function openNode(config: Config, { log = () => {} }: OpenNodeOptions = {}): Promise<MosaicNode> {
  // A replica of a devnet starts from the same built-in genesis.
  const devAccounts = (config.mode === 'devnet' || config.mode === 'replica') && config.genesisFile === undefined ? deriveDevAccounts() : []
  const layout = layoutOf(config.stateCommitment, config.shardNibbles)
  const store = LmdbStore.open(config.dataDir, { exclusive: true, historyBlocks: historyWindow(config) })
  const blockEvents = new BlockEvents(store)
  let commitment: CommitmentPipeline
  try {
    commitment = await CommitmentPipeline.open({ layout, threads: config.commitmentThreads ?? defaultCommitmentThreads(), store, dataDir: config.dataDir, memoryBudget: config.trieCacheBytes, trieHistoryBlocks: trieHistoryWindow(config) })
  } catch (error) {
    await store.close()
    throw error
  }
  let opened: { chainId: number; head: bigint }
  try {
    opened = await openGenesis({ config, devAccounts, layout, store, commitment, log })
  } catch (error) {
    await commitment.close()
    await store.close()
    throw error
  }
  const common = createChainCommon({ chainId: opened.chainId, hardfork: config.hardfork })
  const head = opened.head
  // Blocks after the last durable commitment (a crash, or a fresh data dir): their stored deltas
  // go through the pipeline again, and the roots come out as in an uninterrupted run.
  const behind = commitment.expected
  for (let n = behind; n <= head; n++) {
    const delta = store.getStateDelta(n)
    if (delta === undefined) throw new MosaicError('STORE_CORRUPT', `the state delta of block ${n} is missing from ${config.dataDir}`)
    // The witness is rebuilt too, from the read set stored with the block.
    const witness = storedWitnessInput(store, n)
    commitment.submit(n, delta, witness)
    commitment.markDurable(n)
  }
  if (behind > 0n && behind <= head) log(`recomputing state roots of blocks ${behind}–${head}`)
  const metrics = createNodeMetrics()
  const chain = new Chain(store, common, head, { cacheBytes: config.chainCacheBytes })
  const state = new FlatState(store, { budget: config.stateCacheBytes })
  // What a transaction sent now meets: the head's state with the open block's preconfirmed mini-batches over it.
  const preconfirmations = new Preconfirmations(state)
  const sequential = await createSequentialExecutor({ common })
  // Parallel workers read committed state straight from LMDB, which holds the head state now.
  const parallel =
    config.executor === 'parallel'
      ? createParallelExecutor({
          common,
          // The main thread runs a chunk of every round too: one worker per other core.
          threads: config.executorThreads ?? Math.max(1, availableParallelism() - 1),
          mainThreadShare: true,
          source: { kind: 'lmdb', dataDir: config.dataDir },
          stateCacheBytes: config.stateCacheBytes,
          fallback: sequential,
        })
      : undefined
  const executor: BlockExecutor = parallel ?? sequential
  // Incoming transactions' senders are recovered on worker threads: the executor's, or threads of their own.
  const recovery = parallel === undefined && config.recoveryThreads > 0 ? createSenderRecovery({ common, threads: config.recoveryThreads }) : undefined
  const senders = parallel?.senders ?? recovery?.senders
  const mempool = new Mempool({
    common,
    maxTxs: config.mempoolMaxTxs,
    maxPerSender: config.mempoolMaxPerSender,
    txMaxBytes: config.txMaxBytes,
    blockGasLimit: config.blockGasLimit,
    baseFeeFloor: config.baseFeeFloor,
    state: () => preconfirmations.state(),
    recoverSender: senders === undefined ? undefined : (raw) => senders.recover(raw),
  })
  const simulator = await Simulator.create(common, config.rpcGasCap)
  const parts = { common, store, chain, state, mempool, executor, metrics, stateLock: new Mutex() }
  const writer = new ChainWriter({ store, chain, state, commitment, mempool, pending: preconfirmations })
  const sequencer = new Sequencer({
    ...parts,
    writer,
    blockTimeMs: config.blockTimeMs,
    miniblockMs: config.miniblockMs,
    emptyBlocks: config.emptyBlocks,
    blockGasLimit: config.blockGasLimit,
    baseFeeFloor: config.baseFeeFloor,
    feeRecipient: createAddressFromString(config.feeRecipient),
    commitment,
    stateRootLag: config.stateRootLag,
    log,
  })
  commitment.onRoot = (_number, ms) => metrics.stateRootTime.observe(ms / 1000)
  metrics.head.set(() => Number(chain.head))
  metrics.mempoolSize.set(() => mempool.size)
  if (senders !== undefined) {
    metrics.workerSenderRecoveries.set(() => senders.recovered)
    metrics.workerSenderShipments.set(() => senders.shipments)
    metrics.mainSenderRecoveries.set(() => senders.recoveredHere)
  }
  metrics.stateRootDurable.set(() => Number(commitment.stats().durable ?? -1n))
  metrics.trieNodeLoads.set(() => commitment.stats().loadsOnPrefetch, { phase: 'prefetch' })
  metrics.trieNodeLoads.set(() => commitment.stats().loadsOnUpdate, { phase: 'update' })
  metrics.trieNodesPruned.set(() => commitment.stats().prunedNodes)
  registerMemoryMetrics(metrics, () => memoryStatus({ chain, state, commitment, executor, mempool, config }))
  // A crash left an open block with preconfirmed mini-batches: seal it before anything is served.
  try {
    await sequencer.recoverOpenBlock()
  } catch (error) {
    await commitment.close()
    await executor.close()
    await recovery?.close()
    await store.close()
    throw error
  }
  return {
    ...parts,
    config,
    sequencer,
    preconfirmations,
    writer,
    blockEvents,
    simulator,
    commitment,
    layout,
    devAccounts,
    async close() {
      await sequencer.stop()
      // Let the roots of the last blocks become durable (a failed pipeline has nothing to add;
      // anything missing is recomputed from the stored deltas at the next start).
      await Promise.race([commitment.flush().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 10_000).unref())])
      await commitment.close()
      await executor.close()
      await recovery?.close()
      await store.close()
    },
  }
}
