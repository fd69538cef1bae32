/**
 * `eth_subscribe` / `eth_unsubscribe` as geth serves them (`eth/filters/api.go`,
 * `rpc/subscription.go`): `newHeads`, `logs` with an address/topics filter and
 * `newPendingTransactions` (hashes, or full transactions with `true`), mosaic's `miniBatches`
 * (each preconfirmed mini-batch with its receipts and state changes, like Base's flashblocks
 * stream and MegaETH's `miniBlocks`), each notification
 * `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":id,"result":…}}`.
 *
 * One hub per server hears the chain and the mempool once and fans out to every subscription; a
 * connection (`websocket.ts`) holds its own subscriptions and the function that sends to it.
 * Over HTTP there is no connection to notify: both methods answer geth's -32601
 * `notifications not supported`.
 */
import { randomBytes } from 'node:crypto'
import { bytesToHex } from '../utils/hex.ts'
import type { ChainBlock } from '../chain/chain.ts'
import type { MiniBatchToPreconfirm } from '../chain/chain-writer.ts'
import type { PoolEntry } from '../mempool/mempool.ts'
import type { BlockEvent } from '../storage/lmdb-store.ts'
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
  /** `mosaic_subscribe("blocks", { after })`: the block events after sequence number `after`, or from now on. */
  | { readonly kind: 'blocks'; readonly after: bigint | undefined }
  /** `eth_subscribe("miniBatches")`: each preconfirmed mini-batch of the open block, with its receipts and state changes. */
  | { readonly kind: 'miniBatches' }

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
    case 'miniBatches':
      if (params[1] !== undefined && params[1] !== null) throw invalidParams('invalid miniBatches subscription: it takes no options')
      return { kind: 'miniBatches' }
    default:
      throw new RpcError(rpcErrorCodes.methodNotFound, `no ${JSON.stringify(name)} subscription in eth namespace`)
  }
}

/** `mosaic_subscribe`'s params: `["blocks"]` or `["blocks", { after: <sequence number> }]`. */
export function mosaicSubscriptionRequest(params: readonly unknown[]): SubscriptionRequest {
  if (params[0] !== 'blocks') throw new RpcError(rpcErrorCodes.methodNotFound, `no ${JSON.stringify(params[0])} subscription in mosaic namespace (there is "blocks")`)
  const options = params[1]
  if (options === undefined || options === null) return { kind: 'blocks', after: undefined }
  if (typeof options !== 'object' || Array.isArray(options)) throw invalidParams('invalid options: expected { after: <sequence number> }')
  const after = (options as Record<string, unknown>).after
  return { kind: 'blocks', after: after === undefined || after === null ? undefined : p.quantity(after, 'options.after') }
}

export function createSubscriptionMethods(): Record<string, Handler> {
  const unsubscribe: Handler = (params, context) => {
    if (context.subscriptions === undefined) throw notificationsUnsupported()
    if (typeof params[0] !== 'string') throw invalidParams('invalid subscription id: expected a string')
    // geth's ErrSubscriptionNotFound.
    if (!context.subscriptions.unsubscribe(params[0])) throw new RpcError(rpcErrorCodes.serverError, 'subscription not found')
    return true
  }
  return {
    // Each block's life, in order, numbered: resumable with no gap and no duplicate (`node/block-events.ts`).
    mosaic_subscribe: (params, context) => {
      if (context.subscriptions === undefined) throw notificationsUnsupported()
      return context.subscriptions.subscribe(mosaicSubscriptionRequest(params))
    },
    mosaic_unsubscribe: unsubscribe,
    eth_subscribe: (params, context) => {
      if (context.subscriptions === undefined) throw notificationsUnsupported()
      return context.subscriptions.subscribe(subscriptionRequest(params))
    },
    eth_unsubscribe: unsubscribe,
  }
}

/** The numbered block events (`node/block-events.ts`), as the `blocks` subscription reads them. */
export interface BlockEventSource {
  readonly lastSequence: bigint
  oldest(): bigint
  read(after: bigint, limit: number): BlockEvent[]
  on(event: 'event', listener: (event: BlockEvent) => void): unknown
  off(event: 'event', listener: (event: BlockEvent) => void): unknown
}

export type SubscriptionHubDeps = {
  /** `ChainWriter`: `block` once a block is durable and the head. */
  readonly writer: {
    on(event: 'block', listener: (block: ChainBlock) => void): unknown
    off(event: 'block', listener: (block: ChainBlock) => void): unknown
  }
  readonly pool: { onAdded(listener: (entry: PoolEntry) => void): () => void }
  readonly logs: Pick<LogReader, 'block'>
  /** The block events and their JSON (`mosaic_subscribe("blocks")`). */
  readonly blockEvents?: { readonly source: BlockEventSource; readonly format: (event: BlockEvent) => unknown }
  /** Preconfirmed mini-batches (`ChainWriter`'s `miniBatch`) and their JSON (`eth_subscribe("miniBatches")`). */
  readonly miniBatches?: {
    on(listener: (batch: MiniBatchToPreconfirm) => void): unknown
    off(listener: (batch: MiniBatchToPreconfirm) => void): unknown
    readonly format: (batch: MiniBatchToPreconfirm) => unknown
  }
}

export type ConnectionOptions = {
  /** Sends one message (a JSON text) to the client. */
  readonly send: (message: string) => void
  /** Most subscriptions at once (`WS_MAX_SUBSCRIPTIONS`). */
  readonly maxSubscriptions: number
  /** Called when the client is too slow to hear its subscriptions' first notifications. */
  readonly overflow: () => void
  /** Bytes sent but not yet taken by the client: a replay of block events waits while it is over `maxBuffered` / 2. */
  readonly buffered?: () => number
  readonly maxBuffered?: number
}

type Subscription = {
  readonly id: string
  readonly request: SubscriptionRequest
  readonly connection: SubscriptionConnection
  /** Notifications produced before the client had the id, sent once it has (`activate`). */
  held: string[] | undefined
  /** `blocks`: the sequence number of the last event delivered. */
  cursor: bigint
  /** `blocks`: events are being read back from the store (a resume, or a gap); live ones wait there. */
  replaying: boolean
  ended: boolean
}

/**
 * Most notifications held for a subscription whose id is not sent yet (its eth_subscribe waits
 * for the rest of a batch); past it the connection is treated as a consumer that fell behind.
 */
const MAX_HELD = 10_000

/** Events read back from the store per step of a replay. */
const REPLAY_PAGE = 256

const notification = (method: string, id: string, result: string) => `{"jsonrpc":"2.0","method":"${method}","params":{"subscription":"${id}","result":${result}}}`

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
    const subscription: Subscription = { id: newRpcId(), request, connection: this, held: [], cursor: 0n, replaying: false, ended: false }
    this.hub.add(subscription)
    this.subscriptions.set(subscription.id, subscription)
    return subscription.id
  }

  unsubscribe(id: string): boolean {
    const subscription = this.subscriptions.get(id)
    if (subscription === undefined) return false
    this.subscriptions.delete(id)
    subscription.ended = true
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
    const message = notification(subscription.request.kind === 'blocks' ? 'mosaic_subscription' : 'eth_subscription', subscription.id, result)
    if (subscription.held === undefined) return this.options.send(message)
    if (subscription.held.length >= MAX_HELD) return this.options.overflow()
    subscription.held.push(message)
  }

  /** @internal Whether a replay may send now: the id is answered and the socket has room. */
  ready(subscription: Subscription): boolean {
    const { buffered, maxBuffered } = this.options
    return subscription.held === undefined && (buffered === undefined || maxBuffered === undefined || buffered() <= maxBuffered / 2)
  }

  /** Ends every subscription of the connection (the socket closed). */
  close(): void {
    this.closed = true
    for (const subscription of this.subscriptions.values()) subscription.ended = true
    for (const subscription of this.subscriptions.values()) this.hub.remove(subscription)
    this.subscriptions.clear()
  }
}

/** Hears blocks and admitted transactions once, and fans them out to the subscriptions. */
export class SubscriptionHub {
  private readonly heads = new Set<Subscription>()
  private readonly logs = new Set<Subscription>()
  private readonly pending = new Set<Subscription>()
  private readonly lifecycles = new Set<Subscription>()
  private readonly miniBatchSubscriptions = new Set<Subscription>()
  private listeningToBlocks = false
  private listeningToMiniBatches = false
  private listeningToEvents = false
  private stopPool: (() => void) | undefined

  constructor(private readonly deps: SubscriptionHubDeps) {}

  connect(options: ConnectionOptions): SubscriptionConnection {
    return new SubscriptionConnection(this, options)
  }

  /** @internal Throws, adding nothing, when a `blocks` subscription cannot start where it asks. */
  add(subscription: Subscription): void {
    if (subscription.request.kind === 'blocks') this.startLifecycle(subscription, subscription.request.after)
    if (subscription.request.kind === 'miniBatches' && this.deps.miniBatches === undefined) throw new RpcError(rpcErrorCodes.methodNotFound, 'this node makes no mini-batches')
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
    for (const subscription of this.lifecycles) subscription.ended = true
    this.heads.clear()
    this.logs.clear()
    this.pending.clear()
    this.lifecycles.clear()
    this.miniBatchSubscriptions.clear()
    this.listen()
  }

  private setOf(subscription: Subscription): Set<Subscription> {
    const { kind } = subscription.request
    return kind === 'newHeads' ? this.heads : kind === 'logs' ? this.logs : kind === 'blocks' ? this.lifecycles : kind === 'miniBatches' ? this.miniBatchSubscriptions : this.pending
  }

  private events(): NonNullable<SubscriptionHubDeps['blockEvents']> {
    const events = this.deps.blockEvents
    if (events === undefined) throw new RpcError(rpcErrorCodes.methodNotFound, 'this node keeps no block events')
    return events
  }

  /** Where a `blocks` subscription starts: after `after` (read back from the store), or now. */
  private startLifecycle(subscription: Subscription, after: bigint | undefined): void {
    const { source } = this.events()
    const last = source.lastSequence
    if (after === undefined) {
      subscription.cursor = last
      return
    }
    if (after > last) throw invalidParams(`invalid options.after: ${after} is past the last block event, ${last} (a sequence number of another node or data dir?)`)
    const oldest = source.oldest()
    if (after + 1n < oldest) throw new RpcError(rpcErrorCodes.serverError, `block events up to ${oldest - 1n} were pruned: the oldest kept is ${oldest}; resume from ${oldest - 1n} or later`)
    subscription.cursor = after
    if (after < last) this.replay(subscription)
  }

  /**
   * Sends a subscription the stored events after its cursor, a page at a time while its socket
   * has room, until it has caught up with the newest; live events meanwhile are read back too.
   */
  private replay(subscription: Subscription): void {
    if (subscription.replaying) return
    subscription.replaying = true
    const { source, format } = this.events()
    const step = (): void => {
      if (subscription.ended) return
      if (!subscription.connection.ready(subscription)) {
        setTimeout(step, 10).unref()
        return
      }
      try {
        for (const event of source.read(subscription.cursor, REPLAY_PAGE)) {
          subscription.connection.deliver(subscription, JSON.stringify(format(event)))
          subscription.cursor = event.sequence
        }
      } catch (error) {
        console.error('blocks subscription replay failed:', error)
        return
      }
      if (subscription.cursor < source.lastSequence) setImmediate(step)
      else subscription.replaying = false
    }
    // The first page goes once the id is answered (`activate`): `ready` holds it until then.
    setImmediate(step)
  }

  /** Listeners only while someone subscribes: the mempool's add path stays free otherwise. */
  private listen(): void {
    const blocks = this.heads.size + this.logs.size > 0
    if (blocks !== this.listeningToBlocks) {
      if (blocks) this.deps.writer.on('block', this.onBlock)
      else this.deps.writer.off('block', this.onBlock)
      this.listeningToBlocks = blocks
    }
    const events = this.lifecycles.size > 0
    if (events !== this.listeningToEvents) {
      if (events) this.events().source.on('event', this.onEvent)
      else this.deps.blockEvents?.source.off('event', this.onEvent)
      this.listeningToEvents = events
    }
    const miniBatches = this.miniBatchSubscriptions.size > 0
    if (miniBatches !== this.listeningToMiniBatches) {
      if (miniBatches) this.deps.miniBatches?.on(this.onMiniBatch)
      else this.deps.miniBatches?.off(this.onMiniBatch)
      this.listeningToMiniBatches = miniBatches
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

  // Events come strictly in sequence order (`BlockEvents`); one that does not follow a
  // subscription's cursor (it is replaying) is read back from the store in its turn.
  private readonly onEvent = (event: BlockEvent): void => {
    let json: string | undefined
    for (const subscription of this.lifecycles) {
      if (subscription.replaying || event.sequence <= subscription.cursor) continue
      if (event.sequence !== subscription.cursor + 1n) {
        this.replay(subscription)
        continue
      }
      subscription.cursor = event.sequence
      deliverSafely(subscription, () => (json ??= JSON.stringify(this.events().format(event))))
    }
  }

  // Runs inside ChainWriter.preconfirm, once the mini-batch is durable and visible.
  private readonly onMiniBatch = (batch: MiniBatchToPreconfirm): void => {
    let json: string | undefined
    for (const subscription of this.miniBatchSubscriptions) deliverSafely(subscription, () => (json ??= JSON.stringify(this.deps.miniBatches!.format(batch))))
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
