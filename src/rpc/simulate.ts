/**
 * `eth_simulateV1` (execution-apis): the payload parsed and bounded, the blocks simulated on top of
 * the requested block (`execution/simulate-blocks.ts`), and the answer in geth's shape — each block
 * as `eth_getBlockByNumber` shows one, with a `calls` list of results and logs.
 */
import { bigIntToHex, intToHex } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import type { Chain } from '../chain/chain.ts'
import type { Config } from '../config/config.ts'
import { MAX_SIMULATED_BLOCKS, type SimulatedBlock, type SimulatedBlockRequest, SimulateError, simulateBlocks } from '../execution/simulate-blocks.ts'
import type { MosaicNode } from '../node/node.ts'
import { type BlockResolver, notFound } from './blocks.ts'
import { invalidParams, RpcError } from './errors.ts'
import { formatBlock } from './format.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'

/** Most calls in one simulation, over all its blocks. */
export const MAX_SIMULATED_CALLS = 10_000

export type SimulateDeps = {
  readonly chain: Chain
  readonly common: MosaicNode['common']
  readonly config: Pick<Config, 'rpcGasCap' | 'baseFeeFloor'>
  readonly blocks: Pick<BlockResolver, 'stateAt' | 'withStableState'>
}

type Payload = { blocks: SimulatedBlockRequest[]; validation: boolean; traceTransfers: boolean; returnFullTransactions: boolean }

function flag(value: unknown, name: string): boolean {
  return value === undefined || value === null ? false : p.bool(value, name)
}

function payload(value: unknown): Payload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParams(`invalid simulation: expected an object with blockStateCalls, got ${JSON.stringify(value)?.slice(0, 80)}`)
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!['blockStateCalls', 'validation', 'traceTransfers', 'returnFullTransactions'].includes(key)) throw invalidParams(`invalid simulation: unknown field "${key}"`)
  }
  const blocks = o.blockStateCalls
  if (!Array.isArray(blocks) || blocks.length === 0) throw invalidParams('invalid simulation.blockStateCalls: expected a non-empty array of blocks')
  if (blocks.length > MAX_SIMULATED_BLOCKS) throw new RpcError(-38026, `too many blocks: ${blocks.length}, limit ${MAX_SIMULATED_BLOCKS}`)
  let calls = 0
  return {
    validation: flag(o.validation, 'simulation.validation'),
    traceTransfers: flag(o.traceTransfers, 'simulation.traceTransfers'),
    returnFullTransactions: flag(o.returnFullTransactions, 'simulation.returnFullTransactions'),
    blocks: blocks.map((block: unknown, i) => {
      const name = `blockStateCalls[${i}]`
      if (typeof block !== 'object' || block === null || Array.isArray(block)) throw invalidParams(`invalid ${name}: expected an object`)
      const b = block as Record<string, unknown>
      const list = b.calls ?? []
      if (!Array.isArray(list)) throw invalidParams(`invalid ${name}.calls: expected an array of calls`)
      calls += list.length
      if (calls > MAX_SIMULATED_CALLS) throw new RpcError(-38026, `too many calls: more than ${MAX_SIMULATED_CALLS} in one simulation`)
      return {
        blockOverrides: p.blockOverrides(b.blockOverrides, `${name}.blockOverrides`),
        stateOverrides: p.stateOverrides(b.stateOverrides, `${name}.stateOverrides`),
        calls: list.map((call) => p.callRequest(call)),
      }
    }),
  }
}

function formatSimulatedBlock({ chainBlock, calls }: SimulatedBlock, fullTransactions: boolean): Record<string, unknown> {
  const block = formatBlock(chainBlock, fullTransactions)
  if (fullTransactions) {
    // Simulated transactions are unsigned: a zero signature, as geth shows them.
    block.transactions = (block.transactions as Record<string, unknown>[]).map((tx) => ({ ...tx, v: '0x0', r: '0x0', s: '0x0', yParity: '0x0' }))
  }
  const { header } = chainBlock.block
  let logIndex = 0
  block.calls = calls.map((call, txIndex) => ({
    returnData: bytesToHex(call.returnData),
    logs: call.logs.map(([address, topics, data]) => ({
      address: bytesToHex(address),
      topics: topics.map((topic) => bytesToHex(topic)),
      data: bytesToHex(data),
      blockNumber: bigIntToHex(header.number),
      blockHash: bytesToHex(chainBlock.hash),
      blockTimestamp: bigIntToHex(header.timestamp),
      transactionHash: bytesToHex(chainBlock.block.transactions[txIndex]!.hash()),
      transactionIndex: intToHex(txIndex),
      logIndex: intToHex(logIndex++),
      removed: false,
    })),
    gasUsed: bigIntToHex(call.gasUsed),
    status: intToHex(call.status),
    ...(call.error === undefined
      ? {}
      : { error: { code: call.error.code, message: call.error.message, ...(call.error.data === undefined ? {} : { data: bytesToHex(call.error.data) }) } }),
  }))
  return block
}

export function createSimulateMethods({ chain, common, config, blocks }: SimulateDeps): Record<string, Handler> {
  return {
    eth_simulateV1: async (params) => {
      const request = payload(params[0])
      const ref = p.blockRef(params[1])
      blocks.stateAt(ref)
      // On state no later block changes: without the state lock when history is kept.
      const simulated = await blocks.withStableState(ref, async (at) => {
        const header = chain.getHeader(at.number) ?? notFound(`block ${at.number} missing`)
        const hash = chain.getBlockHash(at.number) ?? notFound(`block ${at.number} missing`)
        try {
          return await simulateBlocks({
            common,
            parent: { header, hash },
            state: at.state,
            blockHash: (n) => chain.getBlockHash(n),
            blocks: request.blocks,
            validation: request.validation,
            traceTransfers: request.traceTransfers,
            gasCap: config.rpcGasCap,
            baseFeeFloor: config.baseFeeFloor,
          })
        } catch (error) {
          if (error instanceof SimulateError) throw new RpcError(error.rpcCode, error.shortMessage)
          throw error
        }
      })
      return simulated.map((block) => formatSimulatedBlock(block, request.returnFullTransactions))
    },
  }
}
