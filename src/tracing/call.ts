/**
 * debug_traceCall: a call run as eth_call runs it (`execution/simulate.ts`: from any sender,
 * unsigned, nonce and balance checks relaxed, a zero base fee when no fee is given), traced.
 */
import { type BlockHeader, createBlock, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToUnprefixedHex } from '@ethereumjs/util'
import type { CallRequest } from '../execution/simulate.ts'
import type { BlockHashLookup } from '../execution/types.ts'
import { createExecutionVM } from '../execution/vm.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import type { TraceBudget } from './budget.ts'
import { runTraced } from './run.ts'
import type { Tracer } from './types.ts'

export type TraceCallParameters = {
  readonly common: Common
  readonly request: CallRequest
  readonly gasLimit: bigint
  readonly state: StateReader
  readonly header: BlockHeader
  readonly blockHash: BlockHashLookup
  readonly tracer: Tracer
  readonly budget: TraceBudget
  /** Applied to the fresh state manager before the call runs (state overrides). */
  readonly prepare?: (stateManager: JournaledStateManager) => Promise<void>
}

const ZERO_ADDRESS = new Uint8Array(20)

export async function traceCall({ common, request, gasLimit, state, header: at, blockHash, tracer, budget, prepare }: TraceCallParameters): Promise<unknown> {
  const stateManager = new JournaledStateManager(state)
  const { vm, hashes } = await createExecutionVM(common, stateManager)
  hashes.lookup = blockHash
  if (prepare !== undefined) await prepare(stateManager)
  const from = new Address(request.from ?? ZERO_ADDRESS)
  const feeGiven = request.gasPrice !== undefined || request.maxFeePerGas !== undefined
  const header = createBlockHeader(
    { ...at.toJSON(), baseFeePerGas: feeGiven ? (at.baseFeePerGas ?? 0n) : 0n, gasLimit: gasLimit > at.gasLimit ? gasLimit : at.gasLimit },
    { common: vm.common, setHardfork: false },
  )
  const block = createBlock({ header }, { common: vm.common })
  const nonce = stateManager.readAccount(bytesToUnprefixedHex(from.bytes))?.nonce ?? 0n
  const base = {
    nonce,
    gasLimit,
    ...(request.to === undefined ? {} : { to: new Address(request.to) }),
    value: request.value ?? 0n,
    data: request.data ?? new Uint8Array(),
  }
  let tx: TypedTransaction
  if (request.maxFeePerGas !== undefined || request.maxPriorityFeePerGas !== undefined) {
    const maxFeePerGas = request.maxFeePerGas ?? header.baseFeePerGas ?? 0n
    tx = createFeeMarket1559Tx({ ...base, maxFeePerGas, maxPriorityFeePerGas: request.maxPriorityFeePerGas ?? 0n }, { common: vm.common, freeze: false })
  } else {
    tx = createLegacyTx({ ...base, gasPrice: request.gasPrice ?? 0n }, { common: vm.common, freeze: false })
  }
  // Impersonation: the unsigned tx reports the requested sender.
  Object.defineProperty(tx, 'getSenderAddress', { value: () => from })
  await runTraced({
    vm,
    stateManager,
    tracer,
    budget,
    tx,
    block,
    sender: from.bytes,
    firstLogIndex: 0,
    runOptions: { skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true },
  })
  return tracer.result()
}
