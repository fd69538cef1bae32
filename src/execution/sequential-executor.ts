/**
 * The reference executor: a block's transactions one after the other on one thread, through
 * ethereumjs' `runTx` over the journaled flat state. It is the baseline the parallel executor
 * must match exactly, and its fallback for tiny or fully contended blocks.
 */
import { createBlock } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { runTx } from '@ethereumjs/vm'
import { createReadSet, mergeReadSet, ReadSetRecorder } from '../state/read-set.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { BlockExecution, BlockExecutor, ExecuteBlockParameters, ExecutedTx, OpenBlockExecution, OpenBlockParameters, RejectedTx } from './types.ts'
import { runValueTransfer } from './value-transfer.ts'
import { applyBlockPrelude, createExecutionVM, type ExecutionVM } from './vm.ts'

/**
 * Whether plain value transfers skip the EVM (`value-transfer.ts`); off only in the differential
 * test that holds that path to `runTx`.
 */
let transfersWithoutEVM = true
export function useTransfersWithoutEVM(on: boolean): void {
  transfersWithoutEVM = on
}

export type CreateSequentialExecutorParameters = { common: Common }

export async function createSequentialExecutor({ common }: CreateSequentialExecutorParameters): Promise<BlockExecutor> {
  const stateManager = new JournaledStateManager({
    getAccount: () => undefined,
    getStorage: () => new Uint8Array(),
    getCode: () => undefined,
  })
  const execution = await createExecutionVM(common, stateManager)
  return new SequentialExecutor(stateManager, execution)
}

class SequentialExecutor implements BlockExecutor {
  readonly mode = 'sequential' as const
  private running = false

  constructor(
    private readonly stateManager: JournaledStateManager,
    private readonly execution: ExecutionVM,
  ) {}

  async executeBlock({ transactions, ...parameters }: ExecuteBlockParameters): Promise<BlockExecution> {
    const open = await this.openBlock(parameters)
    try {
      await open.execute(transactions)
    } catch (error) {
      // An exception out of execution (not a rejected tx: a bug) still frees the executor.
      try {
        open.finish()
      } catch {}
      throw error
    }
    return open.finish()
  }

  /**
   * One block, executed as its mini-batches arrive: the prelude now, then each `execute` runs its
   * transactions after all earlier ones on the same overlay, VM and cumulative gas — exactly the
   * loop a whole block runs, cut where the mini-batches end.
   */
  async openBlock({ header, state, blockHash }: OpenBlockParameters): Promise<OpenBlockExecution> {
    if (this.running) throw new Error('SequentialExecutor: a block is already being executed (not re-entrant)')
    this.running = true
    const { vm, hashes } = this.execution
    const stateManager = this.stateManager
    // What the block reads: the prelude's and the included transactions' reads — a
    // transaction left out of the block leaves no reads behind (its witness must not carry them).
    const reads = createReadSet()
    const recorder = new ReadSetRecorder(state, reads)
    stateManager.reset(recorder)
    stateManager.trackChanges()
    hashes.lookup = (n) => {
      recorder.reads.blockNumbers.add(n)
      return blockHash(n)
    }
    const block = createBlock({ header }, { common: vm.common })
    try {
      await applyBlockPrelude(vm.common, stateManager, header)
    } catch (error) {
      this.running = false
      throw error
    }
    const executed: ExecutedTx[] = []
    const rejected: RejectedTx[] = []
    let gasUsed = 0n
    let withoutEVM = 0
    let finished = false
    const release = () => {
      finished = true
      this.running = false
    }
    return {
      header,
      get gasUsed() {
        return gasUsed
      },
      async execute(transactions) {
        if (finished) throw new Error('SequentialExecutor: the block is finished')
        const batchExecuted: ExecutedTx[] = []
        const batchRejected: RejectedTx[] = []
        for (const tx of transactions) {
          if (gasUsed + tx.gasLimit > header.gasLimit) {
            batchRejected.push({ tx, reason: `block gas limit reached: ${gasUsed} used, tx gas limit ${tx.gasLimit}` })
            continue
          }
          recorder.reads = createReadSet()
          try {
            const transfer = transfersWithoutEVM ? runValueTransfer(vm, stateManager, tx, block, gasUsed) : undefined
            if (transfer !== undefined) withoutEVM++
            const result = transfer ?? (await runTx(vm, { tx, block, blockGasUsed: gasUsed }))
            mergeReadSet(reads, recorder.reads)
            gasUsed += result.totalGasSpent
            batchExecuted.push({
              tx,
              sender: tx.getSenderAddress(),
              receipt: result.receipt,
              gasUsed: result.totalGasSpent,
              createdAddress: result.createdAddress,
            })
          } catch (error) {
            // runTx reverted its own checkpoint, but not those of call frames an exception
            // escaped from: revert them too, so state is exactly as before this tx.
            await stateManager.revertAll()
            batchRejected.push({ tx, reason: error instanceof Error ? error.message : String(error) })
          }
        }
        recorder.reads = reads
        executed.push(...batchExecuted)
        rejected.push(...batchRejected)
        return { executed: batchExecuted, rejected: batchRejected, gasUsed, changes: stateManager.takeChanges() }
      },
      finish() {
        if (finished) throw new Error('SequentialExecutor: the block is finished')
        release()
        recorder.reads = reads
        const delta = stateManager.delta()
        return { executed, rejected, gasUsed, delta, reads, stats: { mode: 'sequential', rounds: 0, aborts: 0, transfersWithoutEVM: withoutEVM } }
      },
    }
  }

  async close(): Promise<void> {}
}
