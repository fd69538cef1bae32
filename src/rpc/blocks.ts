/**
 * How the methods find a block and the state at it, shared by every namespace: a block parameter
 * (number, tag, EIP-1898 object or hash) to a block number — `safe` and `finalized` from the L1
 * poster when there is one —, to the block, and to the state a read at it sees (the head's flat
 * state in memory, or an earlier block's within the history window, `HISTORY_BLOCKS`).
 */
import type { BlockHeader } from '@ethereumjs/block'
import { bytesToHex } from '../utils/hex.ts'
import type { Chain, ChainBlock } from '../chain/chain.ts'
import { type Config, historyWindow } from '../config/config.ts'
import { MosaicError } from '../errors.ts'
import { HistoricalState, type HistoryReader } from '../state/historical-state.ts'
import type { StateReader } from '../state/types.ts'
import { RpcError, rpcErrorCodes } from './errors.ts'
import * as p from './params.ts'

export function notFound(what: string): never {
  throw new MosaicError('NOT_FOUND', what)
}

export type BlockResolverDeps = {
  readonly chain: Chain
  /** The head's committed state (`FlatState`). */
  readonly state: StateReader
  readonly store: HistoryReader & { readonly historyFrom: bigint | undefined }
  readonly config: Pick<Config, 'historyBlocks' | 'mode'>
  /** The header the next block will have (a call at `pending` runs under it). */
  readonly nextHeader: () => BlockHeader
  /** Held while a block commits (`withStableState` without history). */
  readonly stateLock: { run<T>(fn: () => Promise<T>): Promise<T> }
  /** The L1 poster's view, once the node posts to an L1 (`safe`, `finalized`). */
  readonly poster: () => { readonly safeBlock: bigint; readonly finalizedBlock: bigint } | undefined
  /**
   * The open block's preconfirmed mini-batches (`sequencer/preconfirmations.ts`): `pending` reads
   * their state, and `pending` blocks are the open block so far (Base's flashblocks: with nothing
   * preconfirmed, the head).
   */
  readonly pending?: { readonly block: { chainBlock(): ChainBlock } | undefined; state(): StateReader }
}

export type BlockResolver = ReturnType<typeof createBlockResolver>

export const isPending = (ref: p.BlockRef): boolean => 'tag' in ref && ref.tag === 'pending'
/**
 * State reads at `latest` (and at `pending`) include the preconfirmed mini-batches, as MegaETH's
 * realtime API does: once a client holds a receipt, `latest` reads see its effects, as on anvil
 * and geth (viem's `writeContract` right after a deploy's receipt estimates gas at `latest`).
 * Blocks at `latest` and reads at the head's number stay the sealed head.
 */
const readsPreconfirmed = (ref: p.BlockRef): boolean => 'tag' in ref && (ref.tag === 'pending' || ref.tag === 'latest')

export function createBlockResolver({ chain, state, store, config, stateLock, nextHeader, poster, pending }: BlockResolverDeps) {
  function resolveNumber(ref: p.BlockRef): bigint | undefined {
    if ('tag' in ref) {
      if (ref.tag === 'earliest') return 0n
      // OP Stack semantics: safe = in a batch on the L1, finalized = in a batch the L1 finalized.
      // Without an L1 every block is as final as it gets: the head.
      const l1 = poster()
      if (ref.tag === 'safe' && l1 !== undefined) return l1.safeBlock
      if (ref.tag === 'finalized' && l1 !== undefined) return l1.finalizedBlock
      return chain.head
    }
    if ('number' in ref) return ref.number
    return chain.getBlockNumber(ref.hash)
  }

  /** The open block as far as it is preconfirmed; undefined when nothing is (then `pending` is the head). */
  function preconfirmedBlock(): ChainBlock | undefined {
    return pending?.block?.chainBlock()
  }

  function blockAt(ref: p.BlockRef): ChainBlock | undefined {
    if (isPending(ref)) {
      const open = pending?.block
      if (open !== undefined) return open.chainBlock()
    }
    const number = resolveNumber(ref)
    return number === undefined ? undefined : chain.getBlock(number)
  }

  /**
   * The state a read at `ref` sees: the head's flat state in memory, or an earlier block's from
   * its change sets (`state/historical-state.ts`) within the history window; anything else is
   * refused with what the window holds.
   */
  function stateAt(ref: p.BlockRef): { state: StateReader; number: bigint } {
    const number = resolveNumber(ref)
    if (number === undefined) throw new RpcError(rpcErrorCodes.serverError, 'hash' in ref ? `header for hash ${bytesToHex(ref.hash)} not found` : 'header not found')
    if (number > chain.head) throw new RpcError(rpcErrorCodes.serverError, `header not found: block ${number} is past the head ${chain.head}`)
    if (number === chain.head) return { state: readsPreconfirmed(ref) && pending?.block !== undefined ? pending.state() : state, number }
    const oldest = store.historyFrom ?? chain.head
    if (number < oldest) {
      const window = historyWindow(config)
      throw new MosaicError(
        'HISTORY_UNAVAILABLE',
        window === 0
          ? `state at block ${number} is not available: this node serves the head's state only (HISTORY_BLOCKS=0)`
          : `state at block ${number} is not available: this node keeps the state of the last ${window} blocks (HISTORY_BLOCKS), blocks ${oldest} to ${chain.head}`,
      )
    }
    return { state: new HistoricalState(store, number), number }
  }

  /**
   * Run `body` on the state at `ref` without its changing underneath: an earlier block's state, or
   * the head's as history keeps it (later blocks only add change sets), needs no lock; without
   * history the head's live state is only stable under the state lock, which then blocks new blocks
   * for as long as `body` runs. For work longer than a call: traces and simulations.
   */
  async function withStableState<T>(ref: p.BlockRef, body: (at: { state: StateReader; number: bigint }) => Promise<T>): Promise<T> {
    const at = stateAt(ref)
    if (at.number !== chain.head) return body(at)
    // The preconfirmed state changes with each mini-batch, which runs under the state lock.
    if (readsPreconfirmed(ref) && pending?.block !== undefined) return stateLock.run(() => body(stateAt(ref)))
    if (historyWindow(config) > 0 && store.historyFrom !== undefined) return body({ state: new HistoricalState(store, at.number), number: at.number })
    return stateLock.run(() => body(stateAt(ref)))
  }

  /**
   * The header a call at `ref` (resolved to block `number`) runs under, as geth's: `pending` the
   * next block's (what a transaction sent now meets), anything else that block's own — so NUMBER,
   * TIMESTAMP and BASEFEE at `latest` read the head's, as on geth and anvil.
   */
  function callHeader(ref: p.BlockRef, number: bigint): BlockHeader {
    if ('tag' in ref && ref.tag === 'pending' && number === chain.head) return nextHeader()
    return chain.getHeader(number) ?? notFound(`block ${number} missing`)
  }

  /** A block by number, tag, EIP-1898 object or plain 32-byte hash; must exist. */
  function existingBlockNumber(value: unknown): bigint {
    const ref = typeof value === 'string' && /^0x[0-9a-fA-F]{64}$/.test(value) ? { hash: p.hash(value, 'block hash'), requireCanonical: false } : p.blockRef(value)
    const number = resolveNumber(ref)
    if (number === undefined || number > chain.head) throw new RpcError(rpcErrorCodes.serverError, 'header not found')
    return number
  }

  return { resolveNumber, blockAt, preconfirmedBlock, stateAt, withStableState, callHeader, existingBlockNumber }
}
