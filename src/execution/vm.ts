/**
 * Creates the ethereumjs VM mosaic executes with: our flat, journaled state manager, a BLOCKHASH
 * source backed by the chain store, and the block-level system operations.
 */
import type { BlockHeader } from '@ethereumjs/block'
import type { Common, StateManagerInterface } from '@ethereumjs/common'
import type { EVMMockBlockchainInterface } from '@ethereumjs/evm'
import { Address, bigIntToAddressBytes, bigIntToBytes, setLengthLeft } from '@ethereumjs/util'
import { createVM, type VM } from '@ethereumjs/vm'
import type { JournaledStateManager } from '../state/journaled-state-manager.ts'
import type { BlockHashLookup } from './types.ts'
import { installJumpAnalysisCache } from './jump-analysis.ts'
import { installStepLoop } from './step-loop.ts'
import { installWordOpcodes } from './word-opcodes.ts'

const ZERO_HASH = new Uint8Array(32)

/** BLOCKHASH reads through this; the lookup is swapped per block. */
class ChainHashes implements EVMMockBlockchainInterface {
  lookup: BlockHashLookup = () => undefined
  async getBlock(blockId: number) {
    const hash = this.lookup(BigInt(blockId)) ?? ZERO_HASH
    return { hash: () => hash }
  }
  async putBlock(): Promise<void> {}
  shallowCopy(): ChainHashes {
    const copy = new ChainHashes()
    copy.lookup = this.lookup
    return copy
  }
}

export type ExecutionVM = { vm: VM; hashes: ChainHashes }

export async function createExecutionVM(common: Common, stateManager: JournaledStateManager): Promise<ExecutionVM> {
  installJumpAnalysisCache()
  installWordOpcodes()
  installStepLoop()
  const hashes = new ChainHashes()
  // The EVM owns a copy of common; both must share the same hardfork.
  const vm = await createVM({ common: common.copy(), stateManager, blockchain: hashes })
  return { vm, hashes }
}

/**
 * EIP-2935 (Prague): before the block's transactions, store the parent hash in the history
 * contract's ring buffer — only when the contract has code, as geth and ethereumjs' runBlock do.
 */
export async function applyBlockPrelude(common: Common, stateManager: StateManagerInterface, header: BlockHeader): Promise<void> {
  if (header.number === 0n || !common.isActivatedEIP(2935)) return
  const historyAddress = new Address(bigIntToAddressBytes(common.param('historyStorageAddress')))
  const code = await stateManager.getCode(historyAddress)
  if (code.length === 0) return
  const ringKey = (header.number - 1n) % common.param('historyServeWindow')
  await stateManager.putStorage(historyAddress, setLengthLeft(bigIntToBytes(ringKey), 32), header.parentHash)
}
