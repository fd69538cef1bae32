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
import type { BlockExecution, BlockExecutor, ExecuteBlockParameters, ExecutedTx, RejectedTx } from './types.ts'
import { applyBlockPrelude, createExecutionVM, type ExecutionVM } from './vm.ts'

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

  async executeBlock({ header, transactions, state, blockHash }: ExecuteBlockParameters): Promise<BlockExecution> {
    if (this.running) throw new Error('SequentialExecutor.executeBlock is not re-entrant')
    this.running = true
    try {
      const { vm, hashes } = this.execution
      // What the block reads: the prelude's and the included transactions' reads — a
      // transaction left out of the block leaves no reads behind (its witness must not carry them).
      const reads = createReadSet()
      const recorder = new ReadSetRecorder(state, reads)
      this.stateManager.reset(recorder)
      hashes.lookup = (n) => {
        recorder.reads.blockNumbers.add(n)
        return blockHash(n)
      }
      const block = createBlock({ header }, { common: vm.common })
      await applyBlockPrelude(vm.common, this.stateManager, header)
      const executed: ExecutedTx[] = []
      const rejected: RejectedTx[] = []
      let gasUsed = 0n
      for (const tx of transactions) {
        if (gasUsed + tx.gasLimit > header.gasLimit) {
          rejected.push({ tx, reason: `block gas limit reached: ${gasUsed} used, tx gas limit ${tx.gasLimit}` })
          continue
        }
        recorder.reads = createReadSet()
        try {
          const result = await runTx(vm, { tx, block, blockGasUsed: gasUsed })
          mergeReadSet(reads, recorder.reads)
          gasUsed += result.totalGasSpent
          executed.push({
            tx,
            sender: tx.getSenderAddress(),
            receipt: result.receipt,
            gasUsed: result.totalGasSpent,
            createdAddress: result.createdAddress,
          })
        } catch (error) {
          // runTx reverted its own checkpoint, but not those of call frames an exception
          // escaped from: revert them too, so state is exactly as before this tx.
          await this.stateManager.revertAll()
          rejected.push({ tx, reason: error instanceof Error ? error.message : String(error) })
        }
      }
      recorder.reads = reads
      const delta = this.stateManager.delta()
      return { executed, rejected, gasUsed, delta, reads, stats: { mode: 'sequential', rounds: 0, aborts: 0 } }
    } finally {
      this.running = false
    }
  }

  async close(): Promise<void> {}
}
