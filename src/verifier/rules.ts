/**
 * The chain a verifier checks, from its own configuration and genesis — never from the
 * sequencer it checks: chain id, hardfork, the header rules (gas limit, fee recipient, base-fee
 * floor, state-root lag), the commitment layout, the genesis block and its state root, and the
 * limits on what it reads from outside.
 */
import { createChainCommon } from '../chain/common.ts'
import { deriveDevAccounts } from '../chain/dev-accounts.ts'
import { genesisBlock, loadChainGenesis } from '../chain/genesis.ts'
import { type HeaderRules, headerRulesOf, type ParentHeader } from '../chain/header-rules.ts'
import { type Layout, layoutOf } from '../commitment/layout.ts'
import { computeStateRoot } from '../commitment/root.ts'
import type { Config } from '../config/config.ts'
import type { FetchLimits } from '../utils/bounded-fetch.ts'

export type ChainRules = HeaderRules & {
  readonly layout: Layout
  /** Block 0 as this verifier's genesis makes it, and its state root. */
  readonly genesis: ParentHeader & { readonly stateRoot: Uint8Array }
  /** Seconds a block's timestamp may be ahead of the clock (or L1 time) that vouches for it. */
  readonly timestampDrift: bigint
  readonly limits: FetchLimits & { readonly witnessBytes: number; readonly batchBytes: number }
}

export function chainRulesOf(config: Config): ChainRules {
  // Without a GENESIS_FILE the chain is the devnet's (a sequencer always has one).
  const genesis = loadChainGenesis(config, config.genesisFile === undefined ? deriveDevAccounts() : [])
  const common = createChainCommon({ chainId: genesis.chainId, hardfork: config.hardfork })
  const layout = layoutOf(config.stateCommitment, config.shardNibbles)
  const stateRoot = computeStateRoot(genesis.state, layout)
  const block = genesisBlock(genesis, common, stateRoot)
  return {
    ...headerRulesOf(config, common),
    layout,
    genesis: { header: block.block.header, hash: block.hash, stateRoot },
    timestampDrift: BigInt(config.verifyTimestampDrift),
    limits: {
      maxBytes: config.verifyMaxResponseBytes,
      timeoutMs: config.verifyFetchTimeoutMs,
      witnessBytes: config.verifyMaxWitnessBytes,
      batchBytes: config.verifyMaxBatchBytes,
    },
  }
}
