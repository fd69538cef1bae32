/**
 * A plain value transfer without the EVM: a transaction to an account with no code, with nothing
 * to run. ethereumjs' `runTx` prices and applies such a transaction through the same path as any
 * contract call (journal checkpoints, warm sets, a message, an `Account` per read, promises), which
 * made ~37 KB of garbage and most of the executor's time per transfer. Here it is the arithmetic
 * `runTx` ends up doing, on flat records, synchronously.
 *
 * The result is `runTx`'s, exactly, because this does what `runTx` does in the same order:
 *
 * - it reads the recipient (first, so that a call into code leaves at once), the sender and the
 *   fee recipient: the accounts `runTx` reads, so the block's read set, and so its witness, is the
 *   same;
 * - it writes the sender (gas limit paid up front, nonce + 1), the sender again (the value), the
 *   recipient (+ value: the EVM writes it even for a value of 0), the sender (unused gas back)
 *   and the fee recipient (the priority fee);
 * - then it deletes whichever of the three is empty (EIP-161), storage and all, as the journal's
 *   `cleanup` does.
 *
 * The overlay keeps the last value of each key in the order keys were first written, so the
 * state delta is the same too. The differential test "value transfers without the EVM execute as
 * runTx" holds this to `runTx` over chains that mix every case below with contract calls.
 *
 * Whatever does not fit returns `undefined` before anything is written, and the caller runs
 * `runTx`: a contract creation, a 7702 or blob transaction, a recipient with code (a 7702 delegation
 * is code) or a precompile, a sender with code, any check that fails (nonce, funds, intrinsic gas,
 * fee below the base fee: `runTx` then throws its own error), a transfer that would overflow the
 * recipient's balance (the call fails inside the EVM), a hardfork where a transfer does more or
 * records more (Verkle and binary trees, EIP-8037 state gas, EIP-7928 access lists, EIP-2780,
 * EIP-7708 transfer logs, EIP-7778), and any VM that is watched: `DEBUG`, the profiler, or a
 * listener of `beforeTx`, `afterTx`, `beforeMessage` or `afterMessage` (the tracers listen, so
 * they always run `runTx`). The parallel executor's chunk runner listens to `afterMessage` for one
 * thing, where the top-level message ends: it says so (`messageEnded`), and is told here instead.
 */
import type { Block } from '@ethereumjs/block'
import { ConsensusType, Hardfork } from '@ethereumjs/common'
import { Capability, getCalldataFloorGas, type TypedTransaction } from '@ethereumjs/tx'
import { equalsBytes, KECCAK256_NULL, MAX_INTEGER } from '@ethereumjs/util'
import type { VM } from '@ethereumjs/vm'
import type { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { AccountRecord } from '../state/types.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/** What the executors take from `runTx`'s result, for a transfer. */
export type ValueTransferResult = {
  readonly totalGasSpent: bigint
  /** The fee recipient's share (the priority fee per gas times the gas used). */
  readonly minerValue: bigint
  readonly receipt: { status: 1; cumulativeBlockGasUsed: bigint; bitvector: Uint8Array; logs: [] }
  readonly createdAddress: undefined
}

/** Transaction types whose only effect, to an account without code, is the transfer: legacy, 2930, 1559. */
const TRANSFER_TYPES: ReadonlySet<number> = new Set([0, 1, 2])
/** EIPs under which a transfer charges, records or logs more than this does. */
const EIPS_THAT_CHANGE_A_TRANSFER = [2780, 6800, 7708, 7778, 7864, 7928, 8037] as const
const WATCHED_VM_EVENTS = ['beforeTx', 'afterTx'] as const
const WATCHED_EVM_EVENTS = ['beforeMessage', 'afterMessage'] as const

type Watchable = { DEBUG: boolean; _opts: { profilerOpts?: { reportAfterTx?: boolean } } }
type Listened = { listenerCount(event: string): number }

/**
 * Whether this VM runs every transaction exactly as `runValueTransfer` assumes, and nobody watches
 * it; `ownAfterMessage`: one `afterMessage` listener is the caller's own (`messageEnded`).
 */
function vmAdmitsTransfers(vm: VM, ownAfterMessage: boolean): boolean {
  const common = vm.common
  const watchable = vm as unknown as Watchable
  if (watchable.DEBUG || watchable._opts.profilerOpts?.reportAfterTx === true) return false
  if (!common.isActivatedEIP(1559) || !common.gteHardfork(Hardfork.SpuriousDragon)) return false
  if (common.consensusType() === ConsensusType.ProofOfAuthority) return false
  for (const eip of EIPS_THAT_CHANGE_A_TRANSFER) if (common.isActivatedEIP(eip)) return false
  const vmEvents = vm.events as unknown as Listened | undefined
  const evmEvents = vm.evm.events as unknown as Listened | undefined
  for (const event of WATCHED_VM_EVENTS) if ((vmEvents?.listenerCount(event) ?? 0) > 0) return false
  for (const event of WATCHED_EVM_EVENTS) if ((evmEvents?.listenerCount(event) ?? 0) > (ownAfterMessage && event === 'afterMessage' ? 1 : 0)) return false
  return true
}

function hasCode(account: AccountRecord | undefined): boolean {
  return account !== undefined && !equalsBytes(account.codeHash, KECCAK256_NULL)
}

function isEmpty(account: AccountRecord): boolean {
  return account.nonce === 0n && account.balance === 0n && equalsBytes(account.codeHash, KECCAK256_NULL)
}

/** `account` (absent: empty) with `balance` added; nonce and code as they are. */
function credited(account: AccountRecord | undefined, amount: bigint): AccountRecord {
  return account === undefined
    ? { nonce: 0n, balance: amount, codeHash: KECCAK256_NULL }
    : { nonce: account.nonce, balance: account.balance + amount, codeHash: account.codeHash }
}

export type ValueTransferOptions = {
  /**
   * Called where `runTx`'s top-level message would end and emit `afterMessage`: after the value
   * reached the recipient, before the unused gas goes back and the fee recipient is paid. A caller
   * that passes it has one `afterMessage` listener of its own on the VM, for that moment only.
   */
  readonly messageEnded?: () => void
}

/**
 * Run `tx` as a plain value transfer on `state` (`vm`'s state manager), or return `undefined`,
 * having written nothing, when it is not one or `runTx` would do anything else with it (module
 * comment). `blockGasUsed` is the gas the block's earlier transactions used, as `runTx` takes it.
 */
export function runValueTransfer(vm: VM, state: JournaledStateManager, tx: TypedTransaction, block: Block, blockGasUsed: bigint, options: ValueTransferOptions = {}): ValueTransferResult | undefined {
  const to = tx.to
  if (to === undefined || !TRANSFER_TYPES.has(tx.type)) return undefined
  const common = vm.common
  if (tx.common.hardfork() !== block.common.hardfork() || block.common.hardfork() !== common.hardfork()) return undefined
  if (!vmAdmitsTransfers(vm, options.messageEnded !== undefined)) return undefined
  const toKey = bytesToUnprefixedHex(to.bytes)
  if (vm.evm.precompiles.has(toKey)) return undefined
  const baseFee = block.header.baseFeePerGas
  if (baseFee === undefined || block.header.gasLimit < tx.gasLimit) return undefined
  // The recipient first: a call into code (an ERC-20 transfer, a swap) goes to runTx before
  // anything is priced, ~8 µs sooner. runTx reads it too, so the read set is the same.
  const recipientBefore = state.readAccount(toKey)
  if (hasCode(recipientBefore)) return undefined
  let caller
  try {
    caller = tx.getSenderAddress()
  } catch {
    return undefined
  }
  const intrinsicGas = tx.getIntrinsicGas()
  const floorCost = getCalldataFloorGas(tx, caller)
  if (tx.gasLimit < (intrinsicGas > floorCost ? intrinsicGas : floorCost)) return undefined
  const feeMarket = tx.supports(Capability.EIP1559FeeMarket)
  const maxFeePerGas = feeMarket ? (tx as { maxFeePerGas: bigint }).maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice
  if (maxFeePerGas < baseFee) return undefined

  // The sender: an account without code (EIP-3607), with the nonce and the funds.
  const callerKey = bytesToUnprefixedHex(caller.bytes)
  const sender = state.readAccount(callerKey)
  if (hasCode(sender)) return undefined
  const balance = sender?.balance ?? 0n
  const value = tx.value
  if (balance < tx.getUpfrontCost(baseFee)) return undefined
  if (feeMarket && balance < value + tx.gasLimit * maxFeePerGas) return undefined
  if (balance < value) return undefined
  if ((sender?.nonce ?? 0n) !== tx.nonce) return undefined
  const inclusionFeePerGas = feeMarket ? tx.getEffectivePriorityFee(baseFee) : maxFeePerGas - baseFee
  const gasPrice = feeMarket ? inclusionFeePerGas + baseFee : maxFeePerGas
  const upFront = tx.gasLimit * gasPrice

  // The recipient: room for the value (else the call fails inside the EVM).
  const recipientBalance = toKey === callerKey ? balance - upFront - value : (recipientBefore?.balance ?? 0n)
  if (recipientBalance + value > MAX_INTEGER) return undefined

  // runTx's writes, in its order.
  state.writeAccountRecord(callerKey, { nonce: tx.nonce + 1n, balance: balance - upFront, codeHash: KECCAK256_NULL })
  state.writeAccountRecord(callerKey, credited(state.readAccount(callerKey), -value))
  state.writeAccountRecord(toKey, credited(state.readAccount(toKey), value))
  options.messageEnded?.()
  const gasUsed = common.isActivatedEIP(7623) && intrinsicGas < floorCost ? floorCost : intrinsicGas
  state.writeAccountRecord(callerKey, credited(state.readAccount(callerKey), (tx.gasLimit - gasUsed) * gasPrice))
  const coinbaseKey = bytesToUnprefixedHex(block.header.coinbase.bytes)
  const minerValue = gasUsed * inclusionFeePerGas
  state.writeAccountRecord(coinbaseKey, credited(state.readAccount(coinbaseKey), minerValue))
  // EIP-161: the touched accounts that are left empty go, in the order they were touched.
  for (const key of new Set([callerKey, toKey, coinbaseKey])) {
    const account = state.readAccount(key)
    if (account === undefined || isEmpty(account)) state.deleteAccountRecord(key)
  }
  return {
    totalGasSpent: gasUsed,
    minerValue,
    receipt: { status: 1, cumulativeBlockGasUsed: blockGasUsed + gasUsed, bitvector: new Uint8Array(256), logs: [] },
    createdAddress: undefined,
  }
}
