/**
 * The two variants of `bench:exec`, each a `run()` that executes the whole workload on fresh
 * pre-state and reports its time, gas and final state:
 *
 * - `stock`: what a TypeScript developer would write first — `@ethereumjs/vm`'s `runTx` in block
 *   order over the default `MerkleStateManager`, with a `Common` without custom crypto.
 * - `sequential`: mosaic's sequential executor over `FlatState`, applying each block's delta
 *   before the next block, as the sequencer does.
 */
import { createBlock, createBlockHeader, type Block, type BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { MerklePatriciaTrie } from '@ethereumjs/mpt'
import { MerkleStateManager } from '@ethereumjs/statemanager'
import type { FeeMarket1559Tx } from '@ethereumjs/tx'
import {
  Account,
  Address,
  bytesToBigInt,
  bytesToUnprefixedHex,
  equalsBytes,
  hexToBytes,
  KECCAK256_NULL,
  MapDB,
  ValueEncoding,
} from '@ethereumjs/util'
import { createVM, runTx, type TxReceipt } from '@ethereumjs/vm'
import { createSequentialExecutor } from '../src/execution/sequential-executor.ts'
import { decodeAndValidate } from '../src/mempool/validate.ts'
import { FlatState, type StateBackend } from '../src/state/flat-state.ts'
import type { VariantName } from './exec-protocol.ts'
import { copyTransaction, type PreState, type Workload } from './workloads.ts'

const GAS_LIMIT = 1_000_000_000n
const BASE_FEE = 7n
const FIRST_TIMESTAMP = 1_700_000_000n

/** Reads of a run's final state, for the cross-check between variants. */
export type FinalState = {
  balance(address: Address): Promise<bigint>
  storage(address: Address, slot: Uint8Array): Promise<bigint>
}

export type RunResult = {
  readonly seconds: number
  readonly gasUsed: bigint
  readonly state: FinalState
}

export type Variant = {
  readonly name: VariantName
  /** Executes every block on fresh pre-state; throws unless every transaction succeeded. */
  run(): Promise<RunResult>
}

/** Header fields of block `index` (0-based) of the workload; the same for both variants. */
export function blockHeaderData(workload: Workload, index: number) {
  return {
    number: BigInt(index + 1),
    timestamp: FIRST_TIMESTAMP + BigInt(index) * 2n,
    gasLimit: GAS_LIMIT,
    baseFeePerGas: BASE_FEE,
    coinbase: workload.coinbase,
  }
}

function statusOf(receipt: TxReceipt): number | undefined {
  return 'status' in receipt ? receipt.status : undefined
}

/** Throws with the first few failures unless all `expected` transactions have status 1. */
function checkReceipts(variant: VariantName, expected: number, receipts: readonly TxReceipt[], rejected: readonly string[]): void {
  const problems = rejected.slice(0, 5).map((reason) => `rejected: ${reason}`)
  let succeeded = 0
  receipts.forEach((receipt, i) => {
    if (statusOf(receipt) === 1) succeeded++
    else if (problems.length < 5) problems.push(`tx ${i}: receipt status ${statusOf(receipt)}`)
  })
  if (succeeded !== expected || problems.length > 0) {
    throw new Error(`${variant}: ${succeeded} of ${expected} transactions succeeded; ${problems.join('; ')}`)
  }
}

// ---- stock ----

async function putPreState(stateManager: MerkleStateManager, preState: PreState): Promise<void> {
  for (const [key, record] of preState.accounts) {
    const address = new Address(hexToBytes(`0x${key}`))
    await stateManager.putAccount(address, new Account(record.nonce, record.balance))
    if (!equalsBytes(record.codeHash, KECCAK256_NULL)) {
      const code = preState.code.get(bytesToUnprefixedHex(record.codeHash))
      if (code === undefined) throw new Error(`pre-state: code of ${key} missing`)
      await stateManager.putCode(address, code)
    }
    for (const [slot, value] of preState.storage.get(key) ?? []) {
      await stateManager.putStorage(address, hexToBytes(`0x${slot}`), value)
    }
  }
}

/**
 * The trie `createVM`'s default `MerkleStateManager` builds (`useKeyHashing`, the common's
 * keccak, bytes values), over the given node database.
 */
function stockTrie(common: Common, nodes: Map<string, Uint8Array>, options: { root?: Uint8Array; prune?: boolean }) {
  return new MerklePatriciaTrie({
    useKeyHashing: true,
    common,
    db: new MapDB<string, Uint8Array>(nodes),
    valueEncoding: ValueEncoding.Bytes,
    useNodePruning: options.prune ?? false,
    ...(options.root === undefined ? {} : { root: options.root }),
  })
}

/**
 * Pre-state goes in once through `putAccount`/`putCode`/`putStorage`, into a trie that prunes
 * replaced nodes, so its database holds only the pre-state's live nodes (the unpruned database
 * of 100,000 one-by-one inserts also holds every intermediate node: gigabytes). Each run then
 * starts from a fresh copy of that database — fresh pre-state, without the nodes earlier runs
 * wrote — under a stock `MerkleStateManager` and `createVM` with the stock `common`.
 *
 * The untimed set-up hashes with `setupCommon`'s (mosaic's native) keccak: the nodes are the
 * same bytes under the same hashes, built minutes faster at 100,000 accounts.
 */
export async function createStockVariant(
  workload: Workload,
  common: Common,
  setupCommon: Common,
  onSetup: (label: string, seconds: number) => void,
): Promise<Variant> {
  let started = performance.now()
  const blocks: { block: Block; transactions: FeeMarket1559Tx[] }[] = workload.blocks.map((txs, i) => ({
    block: createBlock({ header: blockHeaderData(workload, i) }, { common }),
    transactions: txs.map((tx) => copyTransaction(tx, common, true)),
  }))
  onSetup('stock: blocks and transaction copies', (performance.now() - started) / 1000)

  started = performance.now()
  const preStateNodes = new Map<string, Uint8Array>()
  const setupStateManager = new MerkleStateManager({
    common: setupCommon,
    trie: stockTrie(setupCommon, preStateNodes, { prune: true }),
  })
  await putPreState(setupStateManager, workload.preState)
  const preStateRoot = await setupStateManager.getStateRoot()
  onSetup(`stock: pre-state into MerkleStateManager (${preStateNodes.size} trie nodes)`, (performance.now() - started) / 1000)

  return {
    name: 'stock',
    async run() {
      const trie = stockTrie(common, new Map(preStateNodes), { root: preStateRoot })
      const stateManager = new MerkleStateManager({ common, trie })
      const vm = await createVM({ common, stateManager })
      const receipts: TxReceipt[] = []
      let gasUsed = 0n
      const start = performance.now()
      for (const { block, transactions } of blocks) {
        let blockGasUsed = 0n
        for (const tx of transactions) {
          const result = await runTx(vm, { tx, block, blockGasUsed })
          blockGasUsed += result.totalGasSpent
          receipts.push(result.receipt)
        }
        gasUsed += blockGasUsed
      }
      const seconds = (performance.now() - start) / 1000
      checkReceipts('stock', workload.txCount, receipts, [])
      const state: FinalState = {
        balance: async (address) => (await stateManager.getAccount(address))?.balance ?? 0n,
        storage: async (address, slot) => bytesToBigInt(await stateManager.getStorage(address, slot)),
      }
      return { seconds, gasUsed, state }
    },
  }
}

// ---- sequential ----

/** The pre-state as the `StateBackend` `FlatState` falls back to (LMDB in the sequencer). */
function createPreStateBackend(preState: PreState): StateBackend {
  return {
    readAccount: (address) => preState.accounts.get(address),
    readStorage: (address, slot) => preState.storage.get(address)?.get(slot),
    readCode: (codeHash) => preState.code.get(codeHash),
  }
}

export async function createSequentialVariant(workload: Workload, common: Common): Promise<Variant> {
  // In the sequencer every transaction comes through the mempool's decoder, which recovers the
  // sender once and pins it on the tx: the executor gets txs in that shape.
  const blocks = workload.blocks.map((block) =>
    block.map((tx) => decodeAndValidate(tx.serialize(), common, { txMaxBytes: 1 << 20, blockGasLimit: GAS_LIMIT, baseFeeFloor: 0n }).tx),
  )
  const headers: BlockHeader[] = workload.blocks.map((_, i) => createBlockHeader(blockHeaderData(workload, i), { common }))
  const backend = createPreStateBackend(workload.preState)
  return {
    name: 'sequential',
    async run() {
      const executor = await createSequentialExecutor({ common })
      const flatState = new FlatState(backend)
      const receipts: TxReceipt[] = []
      const rejected: string[] = []
      let gasUsed = 0n
      const start = performance.now()
      for (let i = 0; i < headers.length; i++) {
        const result = await executor.executeBlock({
          header: headers[i]!,
          transactions: blocks[i]!,
          state: flatState,
          blockHash: () => undefined,
        })
        // As the sequencer does once the block is durable: the next block reads these changes.
        flatState.apply(result.delta)
        gasUsed += result.gasUsed
        for (const executed of result.executed) receipts.push(executed.receipt)
        for (const { reason } of result.rejected) rejected.push(reason)
      }
      const seconds = (performance.now() - start) / 1000
      await executor.close()
      checkReceipts('sequential', workload.txCount, receipts, rejected)
      const state: FinalState = {
        balance: async (address) => flatState.getAccount(bytesToUnprefixedHex(address.bytes))?.balance ?? 0n,
        storage: async (address, slot) =>
          bytesToBigInt(flatState.getStorage(bytesToUnprefixedHex(address.bytes), bytesToUnprefixedHex(slot))),
      }
      return { seconds, gasUsed, state }
    },
  }
}
