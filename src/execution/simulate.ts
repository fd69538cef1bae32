/**
 * eth_call, eth_estimateGas and eth_createAccessList: a transaction run on a throw-away overlay of
 * committed state, from any sender without a signature — an address with code too — and without a
 * nonce check, as geth's `DoCall`; the sender must afford what it sends (value, and gas × price when
 * a fee is given), or the call is refused with geth's "insufficient funds for gas * price + value".
 */
import { type Block, type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import { blockOf } from '../chain/block.ts'
import { blockCommonFor, txCommonFor } from '../chain/common.ts'
import type { Common } from '@ethereumjs/common'
import { type AccessList, createAccessList2930Tx, createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import type { InterpreterStep } from '@ethereumjs/evm'
import { Account, Address, bigIntToUnpaddedBytes, equalsBytes, generateAddress, KECCAK256_NULL } from '@ethereumjs/util'
import { type RunTxResult, runTx, type VM } from '@ethereumjs/vm'
import { pinSenderAddress } from '../chain/transaction.ts'
import { MosaicError } from '../errors.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import { applyStateOverrides, type BlockOverrides, overriddenHeaderData, overriddenPrecompiles, type StateOverrides } from './overrides.ts'
import type { BlockHashLookup } from './types.ts'
import { createExecutionVM, type ExecutionVM } from './vm.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'

export type CallRequest = {
  from?: Uint8Array | undefined
  to?: Uint8Array | undefined
  gas?: bigint | undefined
  gasPrice?: bigint | undefined
  maxFeePerGas?: bigint | undefined
  maxPriorityFeePerGas?: bigint | undefined
  value?: bigint | undefined
  data?: Uint8Array | undefined
  nonce?: bigint | undefined
  accessList?: AccessList | undefined
}

export type SimulationContext = {
  readonly state: StateReader
  /** The header the call runs under, block overrides applied (`overriddenHeader`). */
  readonly header: BlockHeader
  readonly blockHash: BlockHashLookup
  readonly stateOverrides?: StateOverrides | undefined
}

export type CallOutcome = {
  readonly gasUsed: bigint
  readonly returnValue: Uint8Array
  /** 'revert', 'out of gas', … — undefined on success. */
  readonly error: string | undefined
}

const ZERO_ADDRESS = new Uint8Array(20)

/**
 * The unsigned transaction and the block a call runs as (geth's `DoCall`): from any sender, with
 * the sender's nonce, and without any fee field a zero base fee, so that nobody needs funds. The
 * header is the context's (block overrides already applied); the call's gas may exceed the block's
 * gas limit (runTx is told to skip that check), and GASLIMIT reads the block's, as in geth.
 */
export function callTransaction(common: Common, request: CallRequest, at: BlockHeader, gasLimit: bigint, state: Pick<JournaledStateManager, 'readAccount'>): { tx: TypedTransaction; block: Block } {
  const from = new Address(request.from ?? ZERO_ADDRESS)
  const feeGiven = request.gasPrice !== undefined || request.maxFeePerGas !== undefined
  const header = createBlockHeader({ ...at.toJSON(), baseFeePerGas: feeGiven ? (at.baseFeePerGas ?? 0n) : 0n }, { common: blockCommonFor(common), setHardfork: false })
  const block = blockOf(header, [])
  const txCommon = txCommonFor(common)
  const base = {
    nonce: request.nonce ?? state.readAccount(bytesToUnprefixedHex(from.bytes))?.nonce ?? 0n,
    gasLimit,
    ...(request.to === undefined ? {} : { to: new Address(request.to) }),
    value: request.value ?? 0n,
    data: request.data ?? new Uint8Array(),
    ...(request.accessList === undefined ? {} : { accessList: request.accessList }),
  }
  let tx: TypedTransaction
  if (request.maxFeePerGas !== undefined || request.maxPriorityFeePerGas !== undefined) {
    const maxFeePerGas = request.maxFeePerGas ?? header.baseFeePerGas ?? 0n
    tx = createFeeMarket1559Tx({ ...base, maxFeePerGas, maxPriorityFeePerGas: request.maxPriorityFeePerGas ?? 0n }, { common: txCommon, freeze: false })
  } else if (request.accessList !== undefined) {
    tx = createAccessList2930Tx({ ...base, gasPrice: request.gasPrice ?? 0n }, { common: txCommon, freeze: false })
  } else {
    tx = createLegacyTx({ ...base, gasPrice: request.gasPrice ?? 0n }, { common: txCommon, freeze: false })
  }
  // Impersonation: the unsigned tx reports the requested sender.
  pinSenderAddress(tx, from)
  return { tx, block }
}

/** The header a call at `header` runs under once block overrides are applied. */
export function overriddenHeader(common: Common, header: BlockHeader, overrides: BlockOverrides | undefined): BlockHeader {
  if (overrides === undefined) return header
  return createBlockHeader(overriddenHeaderData(header, overrides), { common: blockCommonFor(common), setHardfork: false })
}

/** A list only grows from round to round; geth's loop settles in two or three. */
const MAX_ACCESS_LIST_ROUNDS = 16

const ACCOUNT_OPS = new Set(['EXTCODECOPY', 'EXTCODEHASH', 'EXTCODESIZE', 'BALANCE', 'SELFDESTRUCT'])
const CALL_OPS = new Set(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL'])

/** geth's access list tracer: the addresses and slots a call's opcodes touch, in first-touch order. */
class AccessListCollector {
  private readonly entries = new Map<string, Set<string>>()
  private slots = 0

  constructor(
    private readonly excluded: ReadonlySet<string>,
    initial: AccessList,
  ) {
    for (const { address, storageKeys } of initial) {
      const key = address.slice(2).toLowerCase()
      if (!excluded.has(key)) this.addAddress(key)
      for (const slot of storageKeys) this.addSlot(key, slot.slice(2).toLowerCase())
    }
  }

  private addAddress(address: string): Set<string> {
    let slots = this.entries.get(address)
    if (slots === undefined) this.entries.set(address, (slots = new Set()))
    return slots
  }

  private addSlot(address: string, slot: string): void {
    const slots = this.addAddress(address)
    if (!slots.has(slot)) {
      slots.add(slot)
      this.slots++
    }
  }

  readonly onStep = (step: InterpreterStep): void => {
    const name = step.opcode.name
    const { stack } = step
    const top = stack.length
    if ((name === 'SLOAD' || name === 'SSTORE') && top >= 1) {
      this.addSlot(bytesToUnprefixedHex(step.address.bytes), stack[top - 1]!.toString(16).padStart(64, '0'))
    } else if (ACCOUNT_OPS.has(name) && top >= 1) {
      this.addTouched(stack[top - 1]!)
    } else if (CALL_OPS.has(name) && top >= 5) {
      this.addTouched(stack[top - 2]!)
    }
  }

  private addTouched(word: bigint): void {
    const address = (word & ((1n << 160n) - 1n)).toString(16).padStart(40, '0')
    if (!this.excluded.has(address)) this.addAddress(address)
  }

  size(): number {
    return this.entries.size + this.slots
  }

  list(): AccessList {
    return [...this.entries].map(([address, slots]) => ({ address: `0x${address}`, storageKeys: [...slots].map((slot) => `0x${slot}` as const) }))
  }
}

type PrecompileHolder = { _precompiles: Map<string, unknown>; precompiles: Map<string, unknown> }

/**
 * Run `body` with the EVM's precompiles as the state overrides make them (`movePrecompileToAddress`,
 * an overridden precompile address given code), and put them back after. The EVM keeps its active
 * precompiles in one map, which runTx also warms from (EIP-2929).
 */
export async function withPrecompiles<T>(vm: VM, overrides: StateOverrides | undefined, body: () => Promise<T>): Promise<T> {
  if (overrides === undefined || overrides.size === 0) return body()
  const evm = vm.evm as unknown as PrecompileHolder
  const original = evm._precompiles
  evm._precompiles = overriddenPrecompiles(original, overrides)
  try {
    return await body()
  } finally {
    evm._precompiles = original
  }
}

/**
 * The state a call runs on. A call may come from an address with code (a Safe, a 4337 account):
 * geth's eth_call skips the EIP-3607 sender check, which ethereumjs' runTx makes unconditionally
 * on its first read of the sender. That one read shows the sender without code; the account runTx
 * then writes back (fees, nonce) keeps the sender's real code, and every other read sees it.
 */
export class CallStateManager extends JournaledStateManager {
  private sender: { key: string; codeHash: Uint8Array; masked: boolean } | undefined

  /** The next call comes from `key`: let it pass the EOA check. */
  callFrom(key: string): void {
    const codeHash = this.readAccount(key)?.codeHash
    this.sender = codeHash === undefined || equalsBytes(codeHash, KECCAK256_NULL) ? undefined : { key, codeHash, masked: false }
  }

  override reset(base?: StateReader): void {
    this.sender = undefined
    super.reset(base)
  }

  override async getAccount(address: Address): Promise<Account | undefined> {
    const account = await super.getAccount(address)
    const sender = this.sender
    if (account === undefined || sender === undefined || sender.masked || bytesToUnprefixedHex(address.bytes) !== sender.key) return account
    sender.masked = true
    return new Account(account.nonce, account.balance, undefined, KECCAK256_NULL)
  }

  override async putAccount(address: Address, account?: Account): Promise<void> {
    const sender = this.sender
    if (account !== undefined && sender !== undefined && bytesToUnprefixedHex(address.bytes) === sender.key && equalsBytes(account.codeHash, KECCAK256_NULL)) {
      account = new Account(account.nonce, account.balance, account.storageRoot, sender.codeHash)
    }
    return super.putAccount(address, account)
  }
}

export class Simulator {
  private constructor(
    private readonly stateManager: CallStateManager,
    private readonly execution: ExecutionVM,
    private readonly gasCap: bigint,
  ) {}

  static async create(common: Common, gasCap: bigint): Promise<Simulator> {
    const stateManager = new CallStateManager({ getAccount: () => undefined, getStorage: () => new Uint8Array(), getCode: () => undefined })
    return new Simulator(stateManager, await createExecutionVM(common, stateManager), gasCap)
  }

  private async run(request: CallRequest, context: SimulationContext, gasLimit: bigint, onStep?: (step: InterpreterStep) => void): Promise<RunTxResult> {
    const { vm, hashes } = this.execution
    this.stateManager.reset(context.state)
    await applyStateOverrides(this.stateManager, context.stateOverrides)
    this.stateManager.callFrom(bytesToUnprefixedHex(request.from ?? ZERO_ADDRESS))
    hashes.lookup = context.blockHash
    const { tx, block } = callTransaction(vm.common, request, context.header, gasLimit, this.stateManager)
    if (onStep !== undefined) vm.evm.events!.on('step', onStep)
    try {
      return await withPrecompiles(vm, context.stateOverrides, () =>
        runTx(vm, { tx, block, skipNonce: true, skipBlockGasLimitValidation: true, skipHardForkValidation: true }),
      )
    } finally {
      if (onStep !== undefined) vm.evm.events!.off('step', onStep)
    }
  }

  /**
   * eth_createAccessList as geth answers it: run the call, collect the addresses and slots its
   * opcodes touch (not the sender, the recipient or a precompile — those are warm anyway), run it
   * again with that list, until the list no longer grows. The gas used is with the list.
   */
  async createAccessList(request: CallRequest, context: SimulationContext): Promise<{ accessList: AccessList; gasUsed: bigint; error: string | undefined }> {
    const gasLimit = this.capped(request.gas)
    const from = request.from ?? ZERO_ADDRESS
    let to = request.to
    if (to === undefined) {
      // A creation: the new contract's address, from the sender's nonce with the overrides applied.
      this.stateManager.reset(context.state)
      await applyStateOverrides(this.stateManager, context.stateOverrides)
      to = generateAddress(from, bigIntToUnpaddedBytes(request.nonce ?? this.stateManager.readAccount(bytesToUnprefixedHex(from))?.nonce ?? 0n))
    }
    const excluded = new Set([bytesToUnprefixedHex(from), bytesToUnprefixedHex(to), ...overriddenPrecompiles(this.execution.vm.evm.precompiles, context.stateOverrides).keys()])
    let previous = new AccessListCollector(excluded, request.accessList ?? [])
    for (let round = 0; round < MAX_ACCESS_LIST_ROUNDS; round++) {
      const accessList = previous.list()
      const collector = new AccessListCollector(excluded, accessList)
      const result = await this.runChecked({ ...request, accessList }, context, gasLimit, collector.onStep)
      if (collector.size() === previous.size()) return { accessList, gasUsed: result.totalGasSpent, error: outcome(result).error }
      previous = collector
    }
    throw new MosaicError('LIMIT_EXCEEDED', `the access list did not settle in ${MAX_ACCESS_LIST_ROUNDS} runs`)
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

  private async runChecked(request: CallRequest, context: SimulationContext, gasLimit: bigint, onStep?: (step: InterpreterStep) => void): Promise<RunTxResult> {
    try {
      return await this.run(request, context, gasLimit, onStep)
    } catch (error) {
      if (error instanceof MosaicError) throw error
      // Invalid in this state (fee below base fee, funds): a server error, as geth reports it.
      throw txRejection(error)
    }
  }

  /**
   * geth's allowance: with a fee, the most gas the sender can pay for after the value it sends, so
   * that the search is capped by the sender's funds rather than refused at the RPC gas cap.
   */
  private async affordable(request: CallRequest, context: SimulationContext, cap: bigint): Promise<bigint> {
    const feeCap = request.maxFeePerGas ?? request.gasPrice ?? 0n
    if (feeCap === 0n) return cap
    this.stateManager.reset(context.state)
    await applyStateOverrides(this.stateManager, context.stateOverrides)
    const from = bytesToHex(request.from ?? ZERO_ADDRESS)
    const balance = this.stateManager.readAccount(from.slice(2))?.balance ?? 0n
    const value = request.value ?? 0n
    if (value > balance) throw new MosaicError('TX_REJECTED', `insufficient funds for transfer: address ${from} have ${balance} want ${value}`)
    const allowance = (balance - value) / feeCap
    return allowance < cap ? allowance : cap
  }

  /**
   * The smallest gas limit with which the call succeeds: a binary search between the gas used and
   * the cap, as geth's `eth_estimateGas` does (stopping within 1.5%).
   */
  async estimateGas(request: CallRequest, context: SimulationContext): Promise<bigint> {
    const limit = this.capped(request.gas)
    const cap = await this.affordable(request, context, limit)
    let first: RunTxResult
    try {
      first = await this.runChecked(request, context, cap)
    } catch (error) {
      // Funds allow less gas than even the intrinsic cost.
      if (cap < limit) throw new MosaicError('TX_REJECTED', `gas required exceeds allowance (${cap})`, { cause: error })
      throw error
    }
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

/** ethereumjs' refusal of a transaction (nonce, funds, fee, intrinsic gas) as a short TX_REJECTED error. */
export function txRejection(error: unknown): MosaicError {
  const message = (error as Error).message.split('\n')[0]!.replace(/ \((vm hf|tx type)=.*$/, '').replace(/ -> .*$/, '')
  // geth's words for the funds check, which wallets and viem recognise.
  const funds = /enough funds to send tx\. The (?:upfront|max) cost is: (\d+) and the sender's account \((0x[0-9a-fA-F]{40})\) only has: (\d+)/.exec(message)
  if (funds !== null) return new MosaicError('TX_REJECTED', `insufficient funds for gas * price + value: address ${funds[2]} have ${funds[3]} want ${funds[1]}`, { cause: error })
  return new MosaicError('TX_REJECTED', message, { cause: error })
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
