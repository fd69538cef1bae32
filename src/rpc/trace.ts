/**
 * `debug_traceTransaction`, `debug_traceBlockByNumber`, `debug_traceBlockByHash` and
 * `debug_traceCall` with geth's tracers and options (`tracing/`). A transaction is traced by
 * re-running its block from the parent block's state — within the history window, like any read
 * at a past block — on a fresh VM, never under the state lock: the parent's state is read from
 * history, which later blocks do not change. Each call has a budget (RPC_TRACE_TIMEOUT_MS, lowered
 * by its `timeout` option; RPC_TRACE_MAX_BYTES) and is refused with -32000 naming the limit it hit.
 */
import { bytesToHex } from '../utils/hex.ts'
import type { Chain } from '../chain/chain.ts'
import type { Config } from '../config/config.ts'
import { MosaicError } from '../errors.ts'
import { overriddenHeader, txRejection } from '../execution/simulate.ts'
import type { MosaicNode } from '../node/node.ts'
import { isTraceLimitError, TraceBudget } from '../tracing/budget.ts'
import { traceCall } from '../tracing/call.ts'
import { createTracer, parseTraceOptions } from '../tracing/options.ts'
import { replayBlock } from '../tracing/replay.ts'
import type { TraceOptions } from '../tracing/types.ts'
import type { BlockResolver } from './blocks.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'

export type TraceDeps = {
  readonly chain: Chain
  readonly common: MosaicNode['common']
  readonly config: Pick<Config, 'rpcTraceTimeoutMs' | 'rpcTraceMaxBytes' | 'rpcGasCap' | 'historyBlocks' | 'mode'>
  readonly blocks: Pick<BlockResolver, 'stateAt' | 'withStableState' | 'callHeader' | 'existingBlockNumber'>
}

export function createTraceMethods({ chain, common, config, blocks }: TraceDeps): Record<string, Handler> {
  function budgetFor(options: TraceOptions): TraceBudget {
    const timeout = options.timeoutMs === undefined ? config.rpcTraceTimeoutMs : Math.min(options.timeoutMs, config.rpcTraceTimeoutMs)
    return new TraceBudget(timeout, config.rpcTraceMaxBytes)
  }

  /** The block's transactions re-run from its parent's state; `only`: trace just that one. */
  async function traceBlock(number: bigint, options: TraceOptions, only?: number) {
    if (number === 0n) throw new RpcError(rpcErrorCodes.serverError, 'genesis is not traceable')
    const chainBlock = chain.getBlock(number) ?? notFound(`block ${number} not found`)
    // Outside the history window this is refused as any read at that block is (HISTORY_UNAVAILABLE).
    const { state: parentState } = blocks.stateAt({ number: number - 1n })
    return limited(() =>
      replayBlock({
        common,
        block: chainBlock.block,
        senders: chainBlock.senders,
        parentState,
        blockHash: (n) => chain.getBlockHash(n),
        budget: budgetFor(options),
        createTracer: () => createTracer(options),
        only,
      }),
    )
  }

  async function traceTransaction(params: readonly unknown[]) {
    const hash = p.hash(params[0], 'transaction hash')
    const options = parseTraceOptions(params[1])
    const found = chain.getTransaction(hash)
    if (found === undefined) throw new RpcError(rpcErrorCodes.serverError, `transaction ${bytesToHex(hash)} not found`)
    const [traced] = await traceBlock(found.chainBlock.block.header.number, options, found.index)
    if (traced === undefined) throw new MosaicError('INTERNAL', 'replay traced no transaction')
    if ('error' in traced) throw new RpcError(rpcErrorCodes.serverError, traced.error)
    return traced.result
  }

  async function traceBlockBy(params: readonly unknown[], by: 'number' | 'hash') {
    const options = parseTraceOptions(params[1])
    let number: bigint
    if (by === 'hash') {
      const hash = p.hash(params[0], 'block hash')
      number = chain.getBlockNumber(hash) ?? notFound(`block ${bytesToHex(hash)} not found`)
    } else {
      number = blocks.existingBlockNumber(params[0])
    }
    return traceBlock(number, options)
  }

  async function traceCallMethod(params: readonly unknown[]) {
    if (params[0] === undefined) throw invalidParams('missing value for required argument 0 (transaction)')
    const request = p.callRequest(params[0])
    const ref = p.blockRef(params[1])
    const options = parseTraceOptions(params[2], 'call')
    const stateOverrides = p.stateOverrides(options.stateOverrides, 'stateOverrides')
    const blockOverrides = p.blockOverrides(options.blockOverrides, 'blockOverrides')
    const gasLimit = request.gas ?? config.rpcGasCap
    if (gasLimit > config.rpcGasCap) throw invalidParams(`gas ${gasLimit} exceeds the RPC gas cap ${config.rpcGasCap}`)
    blocks.stateAt(ref)
    return blocks.withStableState(ref, (at) => {
      const header = overriddenHeader(common, blocks.callHeader(ref, at.number), blockOverrides)
      return limited(async () => {
        try {
          return await traceCall({ common, request, gasLimit, state: at.state, header, blockHash: (n) => chain.getBlockHash(n), stateOverrides, tracer: createTracer(options), budget: budgetFor(options) })
        } catch (error) {
          if (error instanceof MosaicError || error instanceof RpcError) throw error
          // Invalid in this state (fee below base fee, …): refused as eth_call refuses it.
          throw txRejection(error)
        }
      })
    })
  }

  return {
    debug_traceTransaction: traceTransaction,
    debug_traceBlockByNumber: (params) => traceBlockBy(params, 'number'),
    debug_traceBlockByHash: (params) => traceBlockBy(params, 'hash'),
    debug_traceCall: traceCallMethod,
  }
}

/** A trace over its budget is refused as a server error naming the limit (geth: -32000 "execution timeout"). */
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (isTraceLimitError(error)) throw new RpcError(rpcErrorCodes.serverError, error.shortMessage)
    throw error
  }
}

function notFound(what: string): never {
  throw new RpcError(rpcErrorCodes.serverError, what)
}
