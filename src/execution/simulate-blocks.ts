/**
 * eth_simulateV1 (execution-apis): blocks of calls simulated on top of a block, each block with its
 * own block and state overrides, each call seeing the calls before it — geth's `simulate.go` rules:
 * - a block's number and time default to the previous one's plus 1 and plus 12 s, must increase,
 *   and gaps in the numbers are filled with empty blocks (256 blocks at most in all);
 * - a call's gas defaults to what is left of its block's gas limit, and all calls together spend at
 *   most the RPC gas cap;
 * - `validation: false` runs calls as eth_call does (no nonce or balance checks, a zero base fee);
 *   `validation: true` runs them as transactions, with the base fee the chain's rule gives;
 * - `traceTransfers` adds each ETH transfer as an ERC-20 `Transfer` log from 0xeeee…eeee, in order
 *   with the logs around it, dropped with its frame when the frame reverts.
 * Simulated blocks have no state root (zero): mosaic computes roots off the execution path.
 */
import { type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import { blockOf } from '../chain/block.ts'
import { blockCommonFor, txCommonFor } from '../chain/common.ts'
import type { Common } from '@ethereumjs/common'
import type { EVM, EVMResult, InterpreterStep, Message } from '@ethereumjs/evm'
import { createFeeMarket1559Tx, type TypedTransaction } from '@ethereumjs/tx'
import { Address, setLengthLeft, bigIntToBytes, equalsBytes } from '@ethereumjs/util'
import { runTx } from '@ethereumjs/vm'
import { nextBaseFee } from '../chain/base-fee.ts'
import type { ChainBlock } from '../chain/chain.ts'
import { pinSenderAddress } from '../chain/transaction.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import { assembleBlock } from './assemble.ts'
import { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { StateReader } from '../state/types.ts'
import { applyStateOverrides, type BlockOverrides, overriddenPrecompiles, type StateOverrides } from './overrides.ts'
import { type CallRequest, revertMessage, txRejection } from './simulate.ts'
import type { BlockHashLookup, ExecutedTx } from './types.ts'
import { applyBlockPrelude, createExecutionVM } from './vm.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/** geth's limit on blocks in one simulation, gaps included. */
export const MAX_SIMULATED_BLOCKS = 256
/** geth's default time between simulated blocks. */
const SECONDS_PER_BLOCK = 12n

export type SimulatedBlockRequest = {
  readonly blockOverrides?: BlockOverrides | undefined
  readonly stateOverrides?: StateOverrides | undefined
  readonly calls: readonly CallRequest[]
}

export type SimulateParameters = {
  readonly common: Common
  /** The block the simulation builds on, its hash, and the state after it. */
  readonly parent: { readonly header: BlockHeader; readonly hash: Uint8Array }
  readonly state: StateReader
  readonly blockHash: BlockHashLookup
  readonly blocks: readonly SimulatedBlockRequest[]
  readonly validation: boolean
  readonly traceTransfers: boolean
  /** The RPC gas cap: what all calls together may use. */
  readonly gasCap: bigint
  readonly baseFeeFloor: bigint
}

export type SimulatedLog = readonly [address: Uint8Array, topics: Uint8Array[], data: Uint8Array]

export type SimulatedCall = {
  readonly returnData: Uint8Array
  readonly logs: readonly SimulatedLog[]
  readonly gasUsed: bigint
  readonly status: 0 | 1
  /** code 3 for a revert (with its data), -32015 for any other failure of the EVM. */
  readonly error?: { readonly code: number; readonly message: string; readonly data?: Uint8Array }
}

export type SimulatedBlock = { readonly chainBlock: ChainBlock; readonly calls: readonly SimulatedCall[] }

/** A simulation refused as a whole, with the execution-apis error code. */
export class SimulateError extends MosaicError {
  constructor(
    readonly rpcCode: number,
    message: string,
  ) {
    super('INVALID_PARAMS', message)
  }
}

const ZERO_ADDRESS = new Uint8Array(20)
/** Where traceTransfers' logs come from, and the ERC-20 Transfer topic. */
export const TRANSFER_LOG_ADDRESS = new Uint8Array(20).fill(0xee)
const TRANSFER_TOPIC = keccak256(new TextEncoder().encode('Transfer(address,address,uint256)'))

export async function simulateBlocks(parameters: SimulateParameters): Promise<SimulatedBlock[]> {
  const { common, parent, blockHash, validation, gasCap } = parameters
  const stateManager = new JournaledStateManager(parameters.state)
  const { vm, hashes } = await createExecutionVM(common, stateManager)
  const simulatedHashes = new Map<bigint, Uint8Array>()
  hashes.lookup = (n) => simulatedHashes.get(n) ?? blockHash(n)
  const evm = vm.evm as unknown as { _precompiles: Map<string, unknown> }
  let precompiles = evm._precompiles

  const requests = withGaps(parameters.blocks, parent.header)
  let previous = parent
  let budget = gasCap
  const out: SimulatedBlock[] = []
  for (const { request, filler } of requests) {
    const header = simulatedHeader(common, previous, request?.blockOverrides, parameters)
    if (request?.stateOverrides !== undefined) {
      precompiles = overriddenPrecompiles(precompiles, request.stateOverrides)
      await applyStateOverrides(stateManager, request.stateOverrides)
    }
    evm._precompiles = precompiles
    await applyBlockPrelude(vm.common, stateManager, header)
    const block = blockOf(header, [])
    const executed: ExecutedTx[] = []
    const calls: SimulatedCall[] = []
    let gasUsed = 0n
    for (const [index, call] of (filler ? [] : request!.calls).entries()) {
      const from = call.from ?? ZERO_ADDRESS
      let gas = call.gas ?? header.gasLimit - gasUsed
      if (gasUsed + gas > header.gasLimit) {
        throw new SimulateError(-38015, `block gas limit reached: call ${index} of block ${header.number} asks for ${gas} gas with ${header.gasLimit - gasUsed} left`)
      }
      if (gas > budget) gas = budget
      const tx = simulatedTransaction(vm.common, call, from, gas, stateManager, header.baseFeePerGas ?? 0n)
      const transfers = parameters.traceTransfers ? traceTransfers(vm.evm as EVM) : undefined
      let result
      try {
        result = await runTx(vm, {
          tx,
          block,
          blockGasUsed: gasUsed,
          skipNonce: !validation,
          skipBalance: !validation,
          skipBlockGasLimitValidation: true,
          skipHardForkValidation: true,
        })
      } catch (error) {
        throw refusal(error, index, header.number)
      } finally {
        transfers?.stop()
      }
      gasUsed += result.totalGasSpent
      budget -= result.totalGasSpent
      const failure = result.execResult.exceptionError?.error
      const returnData = result.execResult.returnValue
      const evmLogs = (result.execResult.logs ?? []) as unknown as SimulatedLog[]
      calls.push({
        returnData,
        logs: transfers === undefined ? evmLogs : transfers.merge(evmLogs),
        gasUsed: result.totalGasSpent,
        status: failure === undefined ? 1 : 0,
        ...(failure === undefined
          ? {}
          : failure === 'revert'
            ? { error: { code: 3, message: revertMessage(returnData), data: returnData } }
            : { error: { code: -32015, message: failure } }),
      })
      executed.push({ tx, sender: new Address(from), receipt: result.receipt, gasUsed: result.totalGasSpent, createdAddress: result.createdAddress })
    }
    const { chainBlock } = assembleBlock(header, executed, gasUsed, new Uint8Array(32))
    simulatedHashes.set(header.number, chainBlock.hash)
    out.push({ chainBlock, calls })
    previous = { header: chainBlock.block.header, hash: chainBlock.hash }
  }
  evm._precompiles = precompiles
  return out
}

/** The requested blocks, with empty ones filling gaps in their numbers. */
function withGaps(blocks: readonly SimulatedBlockRequest[], parent: BlockHeader): { request: SimulatedBlockRequest | undefined; filler: boolean }[] {
  const out: { request: SimulatedBlockRequest | undefined; filler: boolean }[] = []
  let number = parent.number
  for (const request of blocks) {
    const wanted = request.blockOverrides?.number ?? number + 1n
    if (wanted <= number) throw new SimulateError(-38020, `block numbers must be in order: ${wanted} <= ${number}`)
    if (wanted - parent.number > BigInt(MAX_SIMULATED_BLOCKS)) {
      throw new SimulateError(-38026, `too many blocks: block ${wanted} is more than ${MAX_SIMULATED_BLOCKS} after the base block ${parent.number}`)
    }
    for (let n = number + 1n; n < wanted; n++) out.push({ request: { calls: [], blockOverrides: { number: n } }, filler: true })
    out.push({ request, filler: false })
    number = wanted
  }
  return out
}

function simulatedHeader(common: Common, previous: { header: BlockHeader; hash: Uint8Array }, overrides: BlockOverrides | undefined, parameters: SimulateParameters): BlockHeader {
  const p = previous.header
  const number = overrides?.number ?? p.number + 1n
  const timestamp = overrides?.time ?? p.timestamp + SECONDS_PER_BLOCK
  if (timestamp <= p.timestamp) throw new SimulateError(-38021, `block timestamps must be in order: ${timestamp} <= ${p.timestamp}`)
  const baseFee =
    overrides?.baseFeePerGas ?? (parameters.validation ? nextBaseFee({ gasLimit: p.gasLimit, gasUsed: p.gasUsed, baseFeePerGas: p.baseFeePerGas ?? 0n }, parameters.baseFeeFloor) : 0n)
  return createBlockHeader(
    {
      ...parameters.parent.header.toJSON(),
      parentHash: previous.hash,
      number,
      timestamp,
      gasLimit: overrides?.gasLimit ?? parameters.parent.header.gasLimit,
      coinbase: overrides?.feeRecipient ?? ZERO_ADDRESS,
      mixHash: overrides?.prevRandao ?? new Uint8Array(32),
      baseFeePerGas: baseFee,
      extraData: new Uint8Array(),
      gasUsed: 0n,
    },
    { common: blockCommonFor(common), setHardfork: false },
  )
}

/**
 * A call as the transaction geth puts in a simulated block: EIP-1559, unsigned, with the
 * sender's next nonce; its hash is that of its encoding with a zero signature.
 */
function simulatedTransaction(common: Common, call: CallRequest, from: Uint8Array, gasLimit: bigint, state: JournaledStateManager, baseFee: bigint): TypedTransaction {
  const maxFeePerGas = call.maxFeePerGas ?? call.gasPrice ?? (baseFee === 0n ? 0n : undefined)
  if (maxFeePerGas === undefined) throw new SimulateError(-38012, `max fee per gas less than block base fee: the call gives no fee and the base fee is ${baseFee}`)
  const tx = createFeeMarket1559Tx(
    {
      chainId: common.chainId(),
      nonce: call.nonce ?? state.readAccount(bytesToUnprefixedHex(from))?.nonce ?? 0n,
      gasLimit,
      maxFeePerGas,
      maxPriorityFeePerGas: call.maxPriorityFeePerGas ?? call.gasPrice ?? 0n,
      ...(call.to === undefined ? {} : { to: new Address(call.to) }),
      value: call.value ?? 0n,
      data: call.data ?? new Uint8Array(),
      ...(call.accessList === undefined ? {} : { accessList: call.accessList }),
    },
    { common: txCommonFor(common), freeze: false },
  )
  const hash = keccak256(tx.serialize())
  Object.defineProperty(tx, 'hash', { value: () => hash })
  pinSenderAddress(tx, new Address(from))
  return tx
}

/** An invalid call (in validation mode, or whatever mode for intrinsic gas) refuses the whole simulation, as in geth. */
function refusal(error: unknown, index: number, number: bigint): SimulateError {
  const message = txRejection(error).shortMessage
  const where = `call ${index} of block ${number}`
  const nonce = /account has nonce of: (\d+) tx has nonce of: (\d+)/.exec(message)
  if (nonce !== null) {
    return BigInt(nonce[2]!) < BigInt(nonce[1]!)
      ? new SimulateError(-38010, `nonce too low: ${where}: address nonce ${nonce[1]}, tx nonce ${nonce[2]}`)
      : new SimulateError(-38011, `nonce too high: ${where}: address nonce ${nonce[1]}, tx nonce ${nonce[2]}`)
  }
  if (/enough funds|insufficient/i.test(message)) return new SimulateError(-38014, `insufficient funds for gas * price + value: ${where}: ${message}`)
  if (/base ?fee/i.test(message)) return new SimulateError(-38012, `max fee per gas less than block base fee: ${where}: ${message}`)
  if (/gas ?limit is too low|intrinsic/i.test(message)) return new SimulateError(-38013, `intrinsic gas too low: ${where}: ${message}`)
  return new SimulateError(-32000, `${where}: ${message}`)
}

type TransferLog = [address: Uint8Array, topics: Uint8Array[], data: Uint8Array]
type Frame = { entries: (TransferLog | 'evm')[]; transfer: TransferLog | undefined }

/**
 * ETH transfers of one call as logs: each frame's transfer (on entry) and its own LOGs in order;
 * a failed frame's entries are dropped, as the EVM drops its logs.
 */
function traceTransfers(evm: EVM) {
  const frames: Frame[] = [{ entries: [], transfer: undefined }]
  const onBefore = (message: Message) => {
    const frame: Frame = { entries: [], transfer: undefined }
    // DELEGATECALL carries its caller's value without moving it.
    if (message.value > 0n && message.delegatecall !== true) {
      // A creation's address is known once it ran: filled in on exit.
      const to = message.to?.bytes ?? new Uint8Array(20)
      frame.transfer = [TRANSFER_LOG_ADDRESS, [TRANSFER_TOPIC, setLengthLeft(message.caller.bytes, 32), setLengthLeft(to, 32)], setLengthLeft(bigIntToBytes(message.value), 32)]
      frame.entries.push(frame.transfer)
    }
    frames.push(frame)
  }
  const onAfter = (result: EVMResult) => {
    const frame = frames.pop()!
    if (frame.transfer !== undefined && result.createdAddress !== undefined) frame.transfer[1][2] = setLengthLeft(result.createdAddress.bytes, 32)
    if (result.execResult.exceptionError === undefined) frames[frames.length - 1]!.entries.push(...frame.entries)
  }
  const onStep = (step: InterpreterStep) => {
    if (step.opcode.name.startsWith('LOG')) frames[frames.length - 1]!.entries.push('evm')
  }
  evm.events.on('beforeMessage', onBefore)
  evm.events.on('afterMessage', onAfter)
  evm.events.on('step', onStep)
  return {
    stop() {
      evm.events.off('beforeMessage', onBefore)
      evm.events.off('afterMessage', onAfter)
      evm.events.off('step', onStep)
    },
    /** The EVM's logs with the transfers in their places. */
    merge(logs: readonly SimulatedLog[]): SimulatedLog[] {
      const out: SimulatedLog[] = []
      let next = 0
      for (const entry of frames[0]!.entries) out.push(entry === 'evm' ? logs[next++]! : entry)
      // A LOG that fails fails its frame, whose entries are dropped: the counts always agree.
      if (next !== logs.length) throw new MosaicError('INTERNAL', `traceTransfers saw ${next} logs, the EVM kept ${logs.length}`)
      return out
    },
  }
}

export function isTransferLog(log: SimulatedLog): boolean {
  return equalsBytes(log[0], TRANSFER_LOG_ADDRESS)
}
