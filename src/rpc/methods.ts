/**
 * The JSON-RPC method table, one module per namespace: `eth.ts` (`eth_*`, `net_*`, `web3_*` as
 * geth answers them), `simulate.ts` (`eth_simulateV1`), `filters.ts`, `subscriptions.ts` (`eth_subscribe`, `mosaic_subscribe`),
 * `debug.ts`, `txpool.ts`, `dev-accounts.ts` (the devnet's unlocked accounts), `mosaic.ts` (what
 * is ours) and `admin.ts` (behind the admin token). Each takes only the parts of the node it
 * needs, so a handler can be tested without a whole node; this file wires them to one node.
 * Handlers get positional params and return JSON-ready values; errors are thrown and mapped in
 * `errors.ts` — for HTTP and WebSocket alike.
 */
import type { MosaicNode } from '../node/node.ts'
import { createAdminMethods } from './admin.ts'
import { createBlockResolver } from './blocks.ts'
import { createDebugMethods } from './debug.ts'
import { createDevAccountMethods } from './dev-accounts.ts'
import { createEthMethods, createGetLogs, SUGGESTED_TIP } from './eth.ts'
import { createFilterMethods } from './filters.ts'
import { createLogReader } from './logs.ts'
import { createMosaicMethods } from './mosaic.ts'
import { createSimulateMethods } from './simulate.ts'
import { createSubscriptionMethods, type SubscriptionSink } from './subscriptions.ts'
import { createTraceMethods } from './trace.ts'
import { createTxpoolMethods } from './txpool.ts'

export { CLIENT_VERSION, SUGGESTED_TIP } from './eth.ts'

/** `subscriptions`: the connection's, over WebSocket only (`websocket.ts`); eth_subscribe needs it. */
export type RpcContext = { readonly admin: boolean; readonly subscriptions?: SubscriptionSink }
export type Handler = (params: readonly unknown[], context: RpcContext) => unknown | Promise<unknown>

export function createMethods(node: MosaicNode): Record<string, Handler> {
  const { chain, config, mempool } = node
  // The poster joins the node after the RPC server started (`node/l1.ts`): read it when asked.
  const blocks = createBlockResolver({ chain, state: node.state, store: node.store, config, stateLock: node.stateLock, nextHeader: () => node.sequencer.nextHeader(), poster: () => node.poster, pending: node.preconfirmations })
  const logs = createLogReader({ chain, common: node.common, config })
  const getLogs = createGetLogs({ chain, blocks, config, logs })
  const eth = createEthMethods({ ...node, blocks, getLogs })
  return {
    ...eth,
    // Signed with a dev key, then the same path as eth_sendRawTransaction.
    ...createDevAccountMethods({ ...node, suggestedTip: SUGGESTED_TIP, sendRawTransaction: eth.eth_sendRawTransaction!, estimateGas: eth.eth_estimateGas! }),
    ...createSimulateMethods({ ...node, blocks }),
    ...createTxpoolMethods({ mempool }),
    ...createFilterMethods({ chain, logs, getLogs, pool: mempool, config }),
    ...createSubscriptionMethods(),
    ...createDebugMethods({ chain, commitment: node.commitment, blocks }),
    ...createTraceMethods({ ...node, blocks }),
    ...createMosaicMethods({ ...node, blocks, poster: () => node.poster }),
    ...createAdminMethods({ sequencer: node.sequencer, config }),
  }
}
