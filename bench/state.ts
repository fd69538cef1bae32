/**
 * `npm run bench:state`: mosaic's `JournaledStateManager` against ethereumjs' own state managers,
 * all under the same VM, the same crypto (mosaic's), the same signed transactions and pre-state:
 *
 * - `merkle-sm`: `MerkleStateManager` (tries in memory, the ethereumjs default);
 * - `simple-sm`: `SimpleStateManager` (maps copied on every checkpoint);
 * - `journaled-sm`: mosaic's flat state with an undo log, over `FlatState`.
 *
 * Each variant runs `runTx` over every block in order (one warm-up run, then the median of 3),
 * so the only difference between them is the state manager. Metric: tx/s; ratios against both.
 */
import { createBlock, createBlockHeader } from '@ethereumjs/block'
import type { Common, StateManagerInterface } from '@ethereumjs/common'
import { MerkleStateManager, SimpleStateManager } from '@ethereumjs/statemanager'
import type { TypedTransaction } from '@ethereumjs/tx'
import { Account, Address, unprefixedHexToBytes } from '@ethereumjs/util'
import { createVM, runTx } from '@ethereumjs/vm'
import { createChainCommon } from '../src/chain/common.ts'
import { decodeTransaction } from '../src/chain/transaction.ts'
import { FlatState } from '../src/state/flat-state.ts'
import { JournaledStateManager } from '../src/state/journaled-state-manager.ts'
import { blockHeaderData } from './exec-variants.ts'
import { createReport, type BenchRow, median, parseBenchArgs, printReport, ratiosOf, writeReport } from './report.ts'
import { createWorkload, type PreState, type Workload, type WorkloadName } from './workloads.ts'

const args = parseBenchArgs('state')
const sizes = args.quick ? { accounts: 1_000, txs: 1_000 } : { accounts: 5_000, txs: 5_000 }
const RUNS = 3
const common = createChainCommon({ chainId: 901, hardfork: 'prague' })

type VariantName = 'merkle-sm' | 'simple-sm' | 'journaled-sm'
const variants: VariantName[] = ['merkle-sm', 'simple-sm', 'journaled-sm']

async function loadPreState(sm: StateManagerInterface, pre: PreState): Promise<void> {
  for (const [key, record] of pre.accounts) {
    const address = new Address(unprefixedHexToBytes(key))
    await sm.putAccount(address, new Account(record.nonce, record.balance))
    const code = pre.code.get(Buffer.from(record.codeHash).toString('hex'))
    if (code !== undefined) await sm.putCode(address, code)
    for (const [slot, value] of pre.storage.get(key) ?? []) await sm.putStorage(address, unprefixedHexToBytes(slot), value)
  }
}

async function createStateManager(variant: VariantName, pre: PreState): Promise<StateManagerInterface> {
  if (variant === 'journaled-sm') {
    return new JournaledStateManager(
      new FlatState({
        readAccount: (a) => pre.accounts.get(a),
        readStorage: (a, s) => pre.storage.get(a)?.get(s),
        readCode: (h) => pre.code.get(h),
      }),
    )
  }
  const sm = variant === 'merkle-sm' ? new MerkleStateManager({ common }) : new SimpleStateManager({ common })
  await sm.checkpoint()
  await loadPreState(sm, pre)
  await sm.commit()
  return sm
}

/** Seconds to run every block of the workload through `runTx` on fresh pre-state. */
async function runOnce(variant: VariantName, workload: Workload, blocks: readonly (readonly TypedTransaction[])[]): Promise<number> {
  const stateManager = await createStateManager(variant, workload.preState)
  const vm = await createVM({ common: common.copy(), stateManager })
  const started = performance.now()
  for (let i = 0; i < blocks.length; i++) {
    const block = createBlock({ header: createBlockHeader(blockHeaderData(workload, i), { common }) }, { common })
    let gas = 0n
    for (const tx of blocks[i]!) {
      const result = await runTx(vm, { tx, block, blockGasUsed: gas })
      if (result.execResult.exceptionError !== undefined) throw new Error(`${variant}: tx failed: ${result.execResult.exceptionError.error}`)
      gas += result.totalGasSpent
    }
  }
  return (performance.now() - started) / 1000
}

const rows: BenchRow[] = []
for (const name of ['transfers', 'erc20'] as WorkloadName[]) {
  if (args.workloads !== undefined && !args.workloads.includes(name)) continue
  const workload = createWorkload({ name, seed: 7, accountCount: sizes.accounts, txCount: sizes.txs, blockSize: 200, common })
  // As the sequencer hands them to execution: sender recovered once and pinned.
  const blocks = workload.blocks.map((b) => b.map((tx) => decodeTransaction(tx.serialize(), common)))
  console.log(`${name}: ${workload.txCount} txs, ${sizes.accounts} accounts`)
  for (const variant of variants) {
    if (args.only !== undefined && !args.only.includes(variant)) continue
    await runOnce(variant, workload, blocks) // warm-up
    const times: number[] = []
    for (let r = 0; r < RUNS; r++) times.push(await runOnce(variant, workload, blocks))
    const seconds = median(times)
    console.log(`  ${variant}: ${times.map((t) => t.toFixed(3)).join(' s, ')} s`)
    rows.push({ workload: name, variant, metric: 'tx_per_s', value: workload.txCount / seconds })
  }
}
const report = createReport({
  bench: 'state',
  quick: args.quick,
  rows,
  ratios: [...ratiosOf(rows, 'tx_per_s', 'journaled-sm', 'merkle-sm'), ...ratiosOf(rows, 'tx_per_s', 'journaled-sm', 'simple-sm')],
})
printReport(report, { tx_per_s: 'tx/s' })
if ((args.only === undefined && args.workloads === undefined) || args.outGiven) writeReport(report, args.out)
