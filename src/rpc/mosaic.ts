/**
 * `mosaic_*`: what is ours — the node's status, each block's exact state root, its state delta
 * and witness, the L1 poster's status. (`mosaic_subscribe` is in `subscriptions.ts`.)
 */
import { bigIntToHex } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import { historyWindow } from '../config/config.ts'
import { memoryStatus } from '../node/memory.ts'
import type { MosaicNode } from '../node/node.ts'
import type { Sequencer } from '../sequencer/sequencer.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import type { StateDelta } from '../state/types.ts'
import { witnessHash } from '../witness/witness.ts'
import { type BlockResolver, notFound } from './blocks.ts'
import { recordedWitness } from './debug.ts'
import type { Handler } from './methods.ts'

/** A JSON view of a state delta: accounts (null = deleted), storage, wiped storage, new code. */
function deltaToJSON(delta: StateDelta) {
  const hex = (key: string) => `0x${key}`
  return {
    accounts: Object.fromEntries(
      [...delta.accounts].map(([address, record]) => [
        hex(address),
        record === null ? null : { nonce: bigIntToHex(record.nonce), balance: bigIntToHex(record.balance), codeHash: bytesToHex(record.codeHash) },
      ]),
    ),
    storage: Object.fromEntries([...delta.storage].map(([address, slots]) => [hex(address), Object.fromEntries([...slots].map(([slot, value]) => [hex(slot), bytesToHex(value)]))])),
    storageCleared: [...delta.storageCleared].map(hex),
    code: Object.fromEntries([...delta.code].map(([hash, code]) => [hex(hash), bytesToHex(code)])),
  }
}

function nullableHex(value: bigint | undefined): string | null {
  return value === undefined ? null : bigIntToHex(value)
}

export type MosaicDeps = Pick<MosaicNode, 'chain' | 'mempool' | 'sequencer' | 'config' | 'commitment' | 'store' | 'layout' | 'executor' | 'state' | 'blockEvents'> & {
  readonly blocks: Pick<BlockResolver, 'existingBlockNumber'>
  /** The L1 poster, once the node is connected to an L1 (after the RPC server started). */
  readonly poster: () => MosaicNode['poster']
}

export function createMosaicMethods(node: MosaicDeps): Record<string, Handler> {
  const { chain, mempool, sequencer, config } = node
  const { existingBlockNumber } = node.blocks
  return {
    // The L1 poster: inbox position, planned batches, queue counts, failures, fee bumps, reorgs.
    mosaic_posterStatus: async () => {
      const poster = node.poster() ?? notFound('this node posts no batches: it has no L1 (L1_RPC_URL)')
      return poster.status()
    },
    mosaic_status: () => {
      const head = chain.getBlock(chain.head) ?? notFound('head block missing')
      return {
        head: bigIntToHex(chain.head),
        headHash: bytesToHex(head.hash),
        mempool: { pending: mempool.size, pooledGas: bigIntToHex(mempool.pooledGas) },
        executor: node.executor.mode,
        lastExecution: executionStatus(sequencer.lastExecution),
        stateRoot: {
          mode: node.layout.mode,
          ...(node.layout.mode === 'sharded' ? { shardNibbles: node.layout.splitNibbles } : {}),
          lag: config.stateRootLag,
          computed: nullableHex(node.commitment.stats().computed),
          durable: nullableHex(node.commitment.stats().durable),
        },
        blockTimeMs: config.blockTimeMs,
        // State at earlier blocks: the window and the oldest block readable now.
        history: { blocks: Number.isFinite(historyWindow(config)) ? historyWindow(config) : 'all', from: nullableHex(node.store.historyFrom) },
        blockEvents: { last: bigIntToHex(node.blockEvents.lastSequence) },
        memory: memoryStatus(node),
      }
    },

    // The exact post-state root of a block, once computed (waits at most for the pipeline to
    // catch up); `final` once it is durable; `inHeaderOf`: the block whose header carries it.
    mosaic_getStateRoot: async (params) => {
      const number = existingBlockNumber(params[0])
      const root = await node.commitment.rootOf(number)
      const carrier = number + BigInt(config.stateRootLag)
      return {
        blockNumber: bigIntToHex(number),
        stateRoot: bytesToHex(root),
        final: node.commitment.isDurable(number),
        inHeaderOf: carrier <= chain.head ? bigIntToHex(carrier) : null,
      }
    },
    // The block's state delta (`state/delta-codec.ts`): the binary form and a JSON view.
    mosaic_getStateDelta: (params) => {
      const number = existingBlockNumber(params[0])
      // `{ view: false }`: the binary form only, as stored (what verifiers fetch; a JSON view of a
      // full block's delta is thousands of objects built on the sequencer's thread).
      const view = (params[1] as { view?: unknown } | undefined)?.view !== false
      const encoding = node.store.getStateDeltaEncoding(number) ?? notFound(`no state delta stored for block ${number}`)
      if (!view) return { blockNumber: bigIntToHex(number), encoding: bytesToHex(encoding) }
      return { blockNumber: bigIntToHex(number), encoding: bytesToHex(encoding), ...deltaToJSON(decodeStateDelta(encoding)) }
    },
    // The block's witness in its compact binary form (`witness/witness.ts`) and its hash. Its
    // pre-state root is the root after the block before, as the commitment recorded it: the
    // witness is not inflated and decoded here, on the sequencer's thread, to read it back.
    mosaic_getWitness: async (params) => {
      const number = existingBlockNumber(params[0])
      const encoded = await recordedWitness(node.commitment, number)
      return {
        blockNumber: bigIntToHex(number),
        preStateRoot: bytesToHex(await node.commitment.rootOf(number - 1n)),
        hash: bytesToHex(witnessHash(encoded)),
        size: encoded.length,
        witness: bytesToHex(encoded),
      }
    },
  }
}

/** The last block's execution as `mosaic_status` shows it: conflicts and the keys behind them. */
function executionStatus(stats: Sequencer['lastExecution']) {
  if (stats === undefined) return null
  const { block, mode, rounds, aborts, conflicts, hotKeys } = stats
  return {
    block: bigIntToHex(block),
    mode,
    rounds,
    reexecutions: aborts,
    conflicts: conflicts ?? 0,
    hotKeys: (hotKeys ?? []).map(({ key, conflicts }) => ({ kind: key[0] === 's' ? 'storage' : 'account', address: `0x${key.slice(1, 41)}`, ...(key[0] === 's' ? { slot: `0x${key.slice(41)}` } : {}), conflicts })),
  }
}
