/**
 * `txpool_*` in geth's shapes (`internal/ethapi/api.go`, `TxPoolAPI`): `pending` are the
 * transactions executable now (each sender's nonces contiguous from its state nonce), `queued`
 * the ones behind a nonce gap. Senders are keyed by their checksummed address (geth's
 * `account.Hex()`; anvil writes them in lower case), nonces by decimal strings, and transactions
 * are formatted as `eth_getTransactionByHash` returns a pooled one (no block; `gasPrice` is the
 * fee cap of an EIP-1559 transaction, as geth's `NewRPCPendingTransaction` without a block).
 */
import { intToHex, toChecksumAddress } from '@ethereumjs/util'
import type { PoolEntry, SenderContent } from '../mempool/mempool.ts'
import { maxFeePerGas } from '../mempool/validate.ts'
import { RpcError, rpcErrorCodes } from './errors.ts'
import { formatTransaction } from './format.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'
import { bytesToUnprefixedHex } from '../utils/hex.ts'

/**
 * Most transactions `txpool_content` and `txpool_inspect` list in one answer (the default
 * MEMPOOL_MAX_TXS): a pool configured larger is refused past it rather than answered with
 * hundreds of megabytes; `txpool_contentFrom` is bounded by MEMPOOL_MAX_PER_SENDER.
 */
export const TXPOOL_LIST_MAX = 10_000

export type TxpoolDeps = { readonly mempool: { content(senderKey?: string): SenderContent[] } }

type ByNonce<T> = Record<string, T>

/** `{ [nonce]: render(entry) }`, nonces as decimal strings (geth's `fmt.Sprintf("%d", nonce)`). */
function byNonce<T>(entries: readonly PoolEntry[], render: (entry: PoolEntry) => T): ByNonce<T> {
  return Object.fromEntries(entries.map((entry) => [entry.tx.nonce.toString(10), render(entry)]))
}

/** `{ pending: { [sender]: { [nonce]: T } }, queued: … }` over the whole pool, within TXPOOL_LIST_MAX. */
function bySender<T>(content: readonly SenderContent[], method: string, render: (entry: PoolEntry) => T) {
  const count = content.reduce((n, c) => n + c.pending.length + c.queued.length, 0)
  if (count > TXPOOL_LIST_MAX) {
    throw new RpcError(rpcErrorCodes.limitExceeded, `${method} would list ${count} transactions, limit ${TXPOOL_LIST_MAX}: use txpool_status, or txpool_contentFrom(address) for one sender`)
  }
  const pending: Record<string, ByNonce<T>> = {}
  const queued: Record<string, ByNonce<T>> = {}
  for (const c of content) {
    const key = toChecksumAddress(c.sender.toString())
    if (c.pending.length > 0) pending[key] = byNonce(c.pending, render)
    if (c.queued.length > 0) queued[key] = byNonce(c.queued, render)
  }
  return { pending, queued }
}

const formatPooled = (entry: PoolEntry) => formatTransaction(entry.tx, entry.sender, undefined)

/** geth's one-line summary: `0xTo: VALUE wei + GAS gas × PRICE wei`, the price being the fee cap. */
function summary({ tx }: PoolEntry): string {
  const amounts = `${tx.value} wei + ${tx.gasLimit} gas × ${maxFeePerGas(tx)} wei`
  return tx.to === undefined ? `contract creation: ${amounts}` : `${toChecksumAddress(tx.to.toString())}: ${amounts}`
}

export function createTxpoolMethods({ mempool }: TxpoolDeps): Record<string, Handler> {
  return {
    txpool_status: () => {
      let pending = 0
      let queued = 0
      for (const c of mempool.content()) {
        pending += c.pending.length
        queued += c.queued.length
      }
      return { pending: intToHex(pending), queued: intToHex(queued) }
    },
    txpool_content: () => bySender(mempool.content(), 'txpool_content', formatPooled),
    txpool_inspect: () => bySender(mempool.content(), 'txpool_inspect', summary),
    txpool_contentFrom: (params) => {
      const senderKey = bytesToUnprefixedHex(p.address(params[0], 'address'))
      const [content] = mempool.content(senderKey)
      return { pending: byNonce(content?.pending ?? [], formatPooled), queued: byNonce(content?.queued ?? [], formatPooled) }
    },
  }
}
