/**
 * State and block overrides for calls (`eth_call`, `eth_estimateGas`, `eth_createAccessList`,
 * `eth_simulateV1`, `debug_traceCall`), with geth's semantics: an account's `balance`, `nonce` and
 * `code` replace its own; `state` replaces its whole storage, `stateDiff` single slots; and
 * `movePrecompileToAddress` makes a precompile answer at another address, so that its own address
 * can be given code. Overrides never touch committed state: they are written into the call's own
 * state manager, whose changes are thrown away after it.
 */
import type { BlockHeader } from '@ethereumjs/block'
import { Address, hexToBytes } from '@ethereumjs/util'
import { MosaicError } from '../errors.ts'
import type { JournaledStateManager } from '../state/journaled-state-manager.ts'

export type AccountOverride = {
  readonly balance?: bigint | undefined
  readonly nonce?: bigint | undefined
  readonly code?: Uint8Array | undefined
  /** Every slot of the account: slots not listed read as zero. Keys are 64 hex chars, values stripped of leading zeros. */
  readonly state?: ReadonlyMap<string, Uint8Array> | undefined
  /** Single slots over the account's own storage. */
  readonly stateDiff?: ReadonlyMap<string, Uint8Array> | undefined
  /** The precompile at this address answers at that address instead (40 hex chars). */
  readonly movePrecompileToAddress?: string | undefined
}

/** Overrides by address (40 lowercase hex chars, as state keys are). */
export type StateOverrides = ReadonlyMap<string, AccountOverride>

/** geth's `BlockOverrides`: fields of the header a call runs under. */
export type BlockOverrides = {
  readonly number?: bigint | undefined
  readonly time?: bigint | undefined
  readonly gasLimit?: bigint | undefined
  readonly feeRecipient?: Uint8Array | undefined
  readonly prevRandao?: Uint8Array | undefined
  readonly baseFeePerGas?: bigint | undefined
  readonly blobBaseFee?: bigint | undefined
}

/**
 * Writes the overrides into a call's state manager, before the call runs, so that they are part of
 * the state it reads and builds on (`eth_simulateV1` applies each block's on top of the blocks
 * before). Writes outside any checkpoint: nothing the call does can undo them.
 */
export async function applyStateOverrides(stateManager: JournaledStateManager, overrides: StateOverrides | undefined): Promise<void> {
  if (overrides === undefined) return
  for (const [key, override] of overrides) {
    const address = new Address(hexToBytes(`0x${key}`))
    if (override.balance !== undefined || override.nonce !== undefined) {
      await stateManager.modifyAccountFields(address, {
        ...(override.balance === undefined ? {} : { balance: override.balance }),
        ...(override.nonce === undefined ? {} : { nonce: override.nonce }),
      })
    }
    if (override.code !== undefined) await stateManager.putCode(address, override.code)
    if (override.state !== undefined) {
      // The whole storage replaced: every slot not listed reads as zero.
      if (stateManager.readAccount(key) === undefined) await stateManager.modifyAccountFields(address, {})
      await stateManager.clearStorage(address)
    }
    for (const [slot, value] of override.state ?? override.stateDiff ?? []) {
      await stateManager.putStorage(address, hexToBytes(`0x${slot}`), value)
    }
  }
}

/**
 * The precompiles a call runs with, as geth's `StateOverride.Apply` makes them: an overridden
 * precompile address stops being one (so it can be given code), and a moved precompile answers
 * at its new address, which must not be overridden itself.
 */
export function overriddenPrecompiles<T>(precompiles: ReadonlyMap<string, T>, overrides: StateOverrides | undefined): Map<string, T> {
  const result = new Map(precompiles)
  if (overrides === undefined) return result
  for (const [address, override] of overrides) {
    const precompile = precompiles.get(address)
    const to = override.movePrecompileToAddress
    if (to !== undefined) {
      if (precompile === undefined) throw new MosaicError('INVALID_PARAMS', `account 0x${address} is not a precompile`)
      if (overrides.has(to)) throw new MosaicError('INVALID_PARAMS', `account 0x${to} is already overridden`)
    }
    if (precompile !== undefined) result.delete(address)
  }
  for (const [address, override] of overrides) {
    if (override.movePrecompileToAddress !== undefined) result.set(override.movePrecompileToAddress, precompiles.get(address)!)
  }
  return result
}

/** The header a call runs under, with block overrides applied (as the JSON the header was made from). */
export function overriddenHeaderData(header: BlockHeader, overrides: BlockOverrides | undefined): Record<string, unknown> {
  const data: Record<string, unknown> = { ...header.toJSON() }
  if (overrides === undefined) return data
  if (overrides.number !== undefined) data.number = overrides.number
  if (overrides.time !== undefined) data.timestamp = overrides.time
  if (overrides.gasLimit !== undefined) data.gasLimit = overrides.gasLimit
  if (overrides.feeRecipient !== undefined) data.coinbase = overrides.feeRecipient
  if (overrides.prevRandao !== undefined) data.mixHash = overrides.prevRandao
  if (overrides.baseFeePerGas !== undefined) data.baseFeePerGas = overrides.baseFeePerGas
  return data
}
