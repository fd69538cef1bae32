/**
 * eth_call and eth_estimateGas: a transaction run on a throw-away overlay of committed state, from
 * any sender without a signature (as geth's `DoCall`), with nonce and balance checks relaxed.
 */
import { type BlockHeader, createBlock, createBlockHeader } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, bytesToHex, bytesToUnprefixedHex } from '@ethereumjs/util'
import { type RunTxResult, runTx } from '@ethereumjs/vm'
import { MosaicError } from '../errors.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import type { BlockHashLookup } from './types.ts'
import { createExecutionVM, type ExecutionVM } from './vm.ts'

export type CallRequest = {
  from?: Uint8Array | undefined
  to?: Uint8Array | undefined
  gas?: bigint | undefined
  gasPrice?: bigint | undefined
  maxFeePerGas?: bigint | undefined
  maxPriorityFeePerGas?: bigint | undefined
  value?: bigint | undefined
  data?: Uint8Array | undefined
}

export type SimulationContext = {
  readonly state: StateReader
  readonly header: BlockHeader
  readonly blockHash: BlockHashLookup
}

export type CallOutcome = {
  readonly gasUsed: bigint
  readonly returnValue: Uint8Array
  /** 'revert', 'out of gas', … — undefined on success. */
  readonly error: string | undefined
}

const ZERO_ADDRESS = new Uint8Array(20)

export class Simulator {
  private constructor(
    private readonly stateManager: JournaledStateManager,
    private readonly execution: ExecutionVM,
    private readonly gasCap: bigint,
  ) {}

  static async create(common: Common, gasCap: bigint): Promise<Simulator> {
    const stateManager = new JournaledStateManager({ getAccount: () => undefined, getStorage: () => new Uint8Array(), getCode: () => undefined })
    return new Simulator(stateManager, await createExecutionVM(common, stateManager), gasCap)
  }

  private async run(request: CallRequest, context: SimulationContext, gasLimit: bigint): Promise<RunTxResult> {
    const { vm, hashes } = this.execution
    this.stateManager.reset(context.state)
    hashes.lookup = context.blockHash
    const from = new Address(request.from ?? ZERO_ADDRESS)
    const feeGiven = request.gasPrice !== undefined || request.maxFeePerGas !== undefined
    // geth: without any fee field the call runs with a zero base fee, so nobody needs funds.
    const header = createBlockHeader(
      { ...context.header.toJSON(), baseFeePerGas: feeGiven ? (context.header.baseFeePerGas ?? 0n) : 0n, gasLimit: gasLimit > context.header.gasLimit ? gasLimit : context.header.gasLimit },
      { common: vm.common, setHardfork: false },
    )
    const block = createBlock({ header }, { common: vm.common })
    const nonce = context.state.getAccount(bytesToUnprefixedHex(from.bytes))?.nonce ?? 0n
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
    return runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true })
  }

  private capped(gas: bigint | undefined): bigint {
    if (gas === undefined) return this.gasCap
    if (gas > this.gasCap) {
      throw new MosaicError('INVALID_PARAMS', `gas ${gas} exceeds the RPC gas cap ${this.gasCap}`)
    }
    return gas
  }

  async call(request: CallRequest, context: SimulationContext): Promise<CallOutcome> {
    const result = await this.runChecked(request, context, this.capped(request.gas))
    return outcome(result)
  }

  private async runChecked(request: CallRequest, context: SimulationContext, gasLimit: bigint): Promise<RunTxResult> {
    try {
      return await this.run(request, context, gasLimit)
    } catch (error) {
      if (error instanceof MosaicError) throw error
      const message = (error as Error).message.split('\n')[0]!.replace(/ \(tx type=.*$/, '').replace(/ -> .*$/, '')
      // Invalid in this state (fee below base fee, funds): a server error, as geth reports it.
      throw new MosaicError('TX_REJECTED', message, { cause: error })
    }
  }

  /**
   * The smallest gas limit with which the call succeeds: a binary search between the gas used and
   * the cap, as geth's `eth_estimateGas` does (stopping within 1.5%).
   */
  async estimateGas(request: CallRequest, context: SimulationContext): Promise<bigint> {
    const cap = this.capped(request.gas)
    const first = await this.runChecked(request, context, cap)
    const firstOutcome = outcome(first)
    if (firstOutcome.error !== undefined) throwFailure(firstOutcome, cap)
    let lo = first.totalGasSpent - 1n
    let hi = cap
    // Calls without refunds or the 63/64 reserve (every plain transfer) need exactly what they used.
    if (outcome(await this.runChecked(request, context, first.totalGasSpent)).error === undefined) return first.totalGasSpent
    // Most calls succeed with the gas used plus the refund and the 63/64 reserve: try that first.
    const optimistic = ((first.totalGasSpent + first.gasRefund + 2300n) * 64n) / 63n
    if (optimistic < hi) {
      const result = outcome(await this.runChecked(request, context, optimistic))
      if (result.error === undefined) hi = optimistic
      else lo = optimistic
    }
    while (hi - lo > 1n && (hi - lo) * 1000n > hi * 15n) {
      const mid = (lo + hi) / 2n
      const result = outcome(await this.runChecked(request, context, mid))
      if (result.error === undefined) hi = mid
      else lo = mid
    }
    return hi
  }
}

function outcome(result: RunTxResult): CallOutcome {
  return {
    gasUsed: result.totalGasSpent,
    returnValue: result.execResult.returnValue,
    error: result.execResult.exceptionError?.error,
  }
}

/** A failed call as the JSON-RPC error geth returns: code 3 with the revert data, or a plain message. */
export function throwFailure(failure: CallOutcome, gasLimit?: bigint): never {
  if (failure.error === 'revert') {
    throw new MosaicError('EXECUTION_REVERTED', revertMessage(failure.returnValue), { data: bytesToHex(failure.returnValue) })
  }
  if (failure.error === 'out of gas' && gasLimit !== undefined) {
    throw new MosaicError('EXECUTION_REVERTED', `gas required exceeds allowance (${gasLimit})`)
  }
  throw new MosaicError('EXECUTION_REVERTED', `execution failed: ${failure.error}`)
}

/** "execution reverted: <reason>" for Error(string) reverts, as geth words it. */
export function revertMessage(data: Uint8Array): string {
  // Error(string) selector 0x08c379a0, then offset, length, bytes (ABI encoding).
  if (data.length >= 68 && data[0] === 0x08 && data[1] === 0xc3 && data[2] === 0x79 && data[3] === 0xa0) {
    const view = Buffer.from(data)
    const length = Number(view.readBigUInt64BE(4 + 32 + 24))
    const start = 4 + 64
    if (start + length <= data.length) return `execution reverted: ${view.subarray(start, start + length).toString('utf8')}`
  }
  return 'execution reverted'
}
