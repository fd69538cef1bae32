/**
 * The state layer's interface: committed flat state that execution reads directly (no trie
 * walk — the Reddio paper's "direct state reading", §IV-A), and the delta one block makes.
 *
 * Keys are lowercase hex strings without `0x`: addresses (40 chars), storage slots (64 chars,
 * always the full 32 bytes), code hashes (64 chars). Storage values are stripped of leading zero
 * bytes; the empty array means zero.
 */

/** An account as flat state stores it. The storage root is not here: it belongs to the commitment. */
export type AccountRecord = {
  readonly nonce: bigint
  readonly balance: bigint
  /** keccak256 of the code; KECCAK256_NULL for accounts without code. */
  readonly codeHash: Uint8Array
}

/** Read access to committed state at one height. Reads are synchronous: memory, then LMDB. */
export interface StateReader {
  getAccount(address: string): AccountRecord | undefined
  /** The slot's value with leading zeros stripped; empty when unset. */
  getStorage(address: string, slot: string): Uint8Array
  getCode(codeHash: string): Uint8Array | undefined
}

/**
 * Everything one block changed: enough for a replica to apply without re-executing
 * (MISSION.md, "Witness and delta").
 */
export type StateDelta = {
  /** New value of each written account; null when the account was deleted. */
  readonly accounts: Map<string, AccountRecord | null>
  /** Slots written, per account, applied after `storageCleared`. Empty value = slot deleted. */
  readonly storage: Map<string, Map<string, Uint8Array>>
  /** Accounts whose whole storage was wiped (deleted or re-created accounts). */
  readonly storageCleared: Set<string>
  /** Code first seen in this block, by code hash. */
  readonly code: Map<string, Uint8Array>
}

export function createStateDelta(): StateDelta {
  return { accounts: new Map(), storage: new Map(), storageCleared: new Set(), code: new Map() }
}

/** Persists a delta as part of a block write; implemented by the LMDB store. */
export interface StateWriter {
  writeStateDelta(delta: StateDelta): void
}
