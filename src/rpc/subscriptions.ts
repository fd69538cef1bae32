/**
 * `eth_subscribe` / `eth_unsubscribe` as geth serves them (`eth/filters/api.go`,
 * `rpc/subscription.go`): `newHeads`, `logs` with an address/topics filter and
 * `newPendingTransactions` (hashes, or full transactions with `true`), each notification
 * `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":id,"result":…}}`.
 *
 * One hub per server hears the chain and the mempool once and fans out to every subscription; a
 * connection (`websocket.ts`) holds its own subscriptions and the function that sends to it.
 * Over HTTP there is no connection to notify: both methods answer geth's -32601
 * `notifications not supported`.
 */
import { randomBytes } from 'node:crypto'
import { bytesToHex } from '@ethereumjs/util'
import type { ChainBlock } from '../chain/chain.ts'
import type { PoolEntry } from '../mempool/mempool.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import { formatHeader, formatTransaction } from './format.ts'
import type { LogQuery, LogReader } from './logs.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'

/** A random 16-byte id as a hex quantity (no leading zeros), as geth's `rpc.NewID`. */
export function newRpcId(): string {
  return `0x${randomBytes(16).toString('hex').replace(/^0+/, '') || '0'}`
}

export type SubscriptionRequest =
  | { readonly kind: 'newHeads' }
  | { readonly kind: 'logs'; readonly query: LogQuery }
  | { readonly kind: 'newPendingTransactions'; readonly full: boolean }

/** One connection's subscriptions, as the eth_subscribe handler sees them (`RpcContext.subscriptions`). */
export interface SubscriptionSink {
  /** The new subscription's id; -32005 past the connection's limit. */
  subscribe(request: SubscriptionRequest): string
  /** False when this connection has no subscription `id`. */
  unsubscribe(id: string): boolean
}

/** geth's `ErrNotificationsUnsupported`: the transport cannot push (HTTP). */
export function notificationsUnsupported(): RpcError {
  return new RpcError(rpcErrorCodes.methodNotFound, 'notifications not supported')
}

export function subscriptionRequest(params: readonly unknown[]): SubscriptionRequest {
  const name = params[0]
  if (typeof name !== 'string') throw invalidParams('expected subscription name as first argument')
  switch (name) {
    case 'newHeads':
      return { kind: 'newHeads' }
    case 'logs': {
      const filter = p.logFilter(params[1] ?? {})
      if (filter.blockHash !== undefined) throw invalidParams('invalid filter: a logs subscription takes address and topics, not blockHash')
      return { kind: 'logs', query: { addresses: filter.addresses, topics: filter.topics } }
    }
    case 'newPendingTransactions':
      return { kind: 'newPendingTransactions', full: params[1] === undefined || params[1] === null ? false : p.bool(params[1], 'fullTx') }
    default:
      throw new RpcError(rpcErrorCodes.methodNotFound, `no ${JSON.stringify(name)} subscription in eth namespace`)
  }
}

export function createSubscriptionMethods(): Record<string, Handler> {
  return {
    eth_subscribe: (params, context) => {
      if (context.subscriptions === undefined) throw notificationsUnsupported()
      return context.subscriptions.subscribe(subscriptionRequest(params))
    },
    eth_unsubscribe: (params, context) => {
      if (context.subscriptions === undefined) throw notificationsUnsupported()
      if (typeof params[0] !== 'string') throw invalidParams('invalid subscription id: expected a string')
      // geth's ErrSubscriptionNotFound.
      if (!context.subscriptions.unsubscribe(params[0])) throw new RpcError(rpcErrorCodes.serverError, 'subscription not found')
      return true
    },
  }
}

export type SubscriptionHubDeps = {
  /** `ChainWriter`: `block` once a block is durable and the head. */
  readonly writer: {
    on(event: 'block', listener: (block: ChainBlock) => void): unknown
    off(event: 'block', listener: (block: ChainBlock) => void): unknown
  }
  readonly pool: { onAdded(listener: (entry: PoolEntry) => void): () => void }
  readonly logs: Pick<LogReader, 'block'>
}

export type ConnectionOptions = {
  /** Sends one message (a JSON text) to the client. */
  readonly send: (message: string) => void
  /** Most subscriptions at once (`WS_MAX_SUBSCRIPTIONS`). */
  readonly maxSubscriptions: number
  /** Called when the client is too slow to hear its subscriptions' first notifications. */
  readonly overflow: () => void
}

type Subscription = {
  readonly id: string
  readonly request: SubscriptionRequest
  readonly connection: SubscriptionConnection
  /** Notifications produced before the client had the id, sent once it has (`activate`). */
  held: string[] | undefined
}

/**
 * Most notifications held for a subscription whose id is not sent yet (its eth_subscribe waits
 * for the rest of a batch); past it the connection is treated as a consumer that fell behind.
 */
const MAX_HELD = 10_000

const notification = (id: string, result: string) => `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"${id}","result":${result}}}`

/** One connection's subscriptions. */
export class SubscriptionConnection implements SubscriptionSink {
  private readonly subscriptions = new Map<string, Subscription>()
  private closed = false

  constructor(
    private readonly hub: SubscriptionHub,
    private readonly options: ConnectionOptions,
  ) {}

  get size(): number {
    return this.subscriptions.size
  }

  subscribe(request: SubscriptionRequest): string {
    if (this.closed) throw new RpcError(rpcErrorCodes.serverError, 'connection closed')
    if (this.subscriptions.size >= this.options.maxSubscriptions) {
      throw new RpcError(rpcErrorCodes.limitExceeded, `too many subscriptions on this connection: limit ${this.options.maxSubscriptions} (WS_MAX_SUBSCRIPTIONS)`)
    }
    const subscription: Subscription = { id: newRpcId(), request, connection: this, held: [] }
    this.subscriptions.set(subscription.id, subscription)
    this.hub.add(subscription)
    return subscription.id
  }

  unsubscribe(id: string): boolean {
    const subscription = this.subscriptions.get(id)
    if (subscription === undefined) return false
    this.subscriptions.delete(id)
    this.hub.remove(subscription)
    return true
  }

  /**
   * The client has the id: send what was held and from now on notify at once. Like geth's
   * `Notifier.activate`, so no notification arrives before the answer naming its subscription.
   */
  activate(id: string): void {
    const subscription = this.subscriptions.get(id)
    const held = subscription?.held
    if (subscription === undefined || held === undefined) return
    subscription.held = undefined
    for (const message of held) this.options.send(message)
  }

  /** @internal The hub's delivery of one notification. */
  deliver(subscription: Subscription, result: string): void {
    if (this.closed) return
    const message = notification(subscription.id, result)
    if (subscription.held === undefined) return this.options.send(message)
    if (subscription.held.length >= MAX_HELD) return this.options.overflow()
    subscription.held.push(message)
  }

  /** Ends every subscription of the connection (the socket closed). */
  close(): void {
    this.closed = true
    for (const subscription of this.subscriptions.values()) this.hub.remove(subscription)
    this.subscriptions.clear()
  }
}

/** Hears blocks and admitted transactions once, and fans them out to the subscriptions. */
export class SubscriptionHub {
  private readonly heads = new Set<Subscription>()
  private readonly logs = new Set<Subscription>()
  private readonly pending = new Set<Subscription>()
  private listeningToBlocks = false
  private stopPool: (() => void) | undefined

  constructor(private readonly deps: SubscriptionHubDeps) {}

  connect(options: ConnectionOptions): SubscriptionConnection {
    return new SubscriptionConnection(this, options)
  }

  /** @internal */
  add(subscription: Subscription): void {
    this.setOf(subscription).add(subscription)
    this.listen()
  }

  /** @internal */
  remove(subscription: Subscription): void {
    this.setOf(subscription).delete(subscription)
    this.listen()
  }

  /** Stops hearing the chain and the pool (the server closed). */
  close(): void {
    this.heads.clear()
    this.logs.clear()
    this.pending.clear()
    this.listen()
  }

  private setOf(subscription: Subscription): Set<Subscription> {
    const { kind } = subscription.request
    return kind === 'newHeads' ? this.heads : kind === 'logs' ? this.logs : this.pending
  }

  /** Listeners only while someone subscribes: the mempool's add path stays free otherwise. */
  private listen(): void {
    const blocks = this.heads.size + this.logs.size > 0
    if (blocks !== this.listeningToBlocks) {
      if (blocks) this.deps.writer.on('block', this.onBlock)
      else this.deps.writer.off('block', this.onBlock)
      this.listeningToBlocks = blocks
    }
    if (this.pending.size > 0 && this.stopPool === undefined) this.stopPool = this.deps.pool.onAdded(this.onAdded)
    if (this.pending.size === 0 && this.stopPool !== undefined) {
      this.stopPool()
      this.stopPool = undefined
    }
  }

  // Both run inside the block commit and the mempool's add: nothing a subscriber does reaches them.
  private readonly onBlock = (chainBlock: ChainBlock): void => {
    let header: string | undefined
    for (const subscription of this.heads) {
      deliverSafely(subscription, () => (header ??= JSON.stringify(formatHeader(chainBlock))))
    }
    for (const subscription of this.logs) {
      const { request } = subscription
      if (request.kind !== 'logs') continue
      try {
        // geth sends each log in a notification of its own.
        for (const log of this.deps.logs.block(chainBlock, request.query)) subscription.connection.deliver(subscription, JSON.stringify(log))
      } catch (error) {
        console.error('logs subscription failed:', error)
      }
    }
  }

  private readonly onAdded = (entry: PoolEntry): void => {
    let hash: string | undefined
    let full: string | undefined
    for (const subscription of this.pending) {
      const { request } = subscription
      if (request.kind === 'newPendingTransactions' && request.full) {
        deliverSafely(subscription, () => (full ??= JSON.stringify(formatTransaction(entry.tx, entry.sender, undefined))))
      } else deliverSafely(subscription, () => (hash ??= `"${bytesToHex(entry.hash)}"`))
    }
  }
}

function deliverSafely(subscription: Subscription, result: () => string): void {
  try {
    subscription.connection.deliver(subscription, result())
  } catch (error) {
    console.error(`${subscription.request.kind} subscription failed:`, error)
  }
}
