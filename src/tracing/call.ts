/**
 * debug_traceCall: a call run as eth_call runs it (`execution/simulate.ts`: from any sender,
 * unsigned, no nonce or EOA check, a zero base fee when no fee is given; state and block
 * overrides as eth_call takes them), traced.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { applyStateOverrides, type StateOverrides } from '../execution/overrides.ts'
import { type CallRequest, CallStateManager, callTransaction, withPrecompiles } from '../execution/simulate.ts'
import type { BlockHashLookup } from '../execution/types.ts'
import { createExecutionVM } from '../execution/vm.ts'
import type { StateReader } from '../state/types.ts'
import type { TraceBudget } from './budget.ts'
import { runTraced } from './run.ts'
import type { Tracer } from './types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

export type TraceCallParameters = {
  readonly common: Common
  readonly request: CallRequest
  readonly gasLimit: bigint
  readonly state: StateReader
  /** The header the call runs under, block overrides applied. */
  readonly header: BlockHeader
  readonly blockHash: BlockHashLookup
  readonly stateOverrides: StateOverrides | undefined
  readonly tracer: Tracer
  readonly budget: TraceBudget
}

const ZERO_ADDRESS = new Uint8Array(20)

export async function traceCall({ common, request, gasLimit, state, header, blockHash, stateOverrides, tracer, budget }: TraceCallParameters): Promise<unknown> {
  const stateManager = new CallStateManager(state)
  const { vm, hashes } = await createExecutionVM(common, stateManager)
  hashes.lookup = blockHash
  await applyStateOverrides(stateManager, stateOverrides)
  stateManager.callFrom(bytesToUnprefixedHex(request.from ?? ZERO_ADDRESS))
  const { tx, block } = callTransaction(vm.common, request, header, gasLimit, stateManager)
  await withPrecompiles(vm, stateOverrides, () =>
    runTraced({
      vm,
      stateManager,
      tracer,
      budget,
      tx,
      block,
      sender: request.from ?? ZERO_ADDRESS,
      firstLogIndex: 0,
      runOptions: { skipNonce: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true },
    }),
  )
  return tracer.result()
}
