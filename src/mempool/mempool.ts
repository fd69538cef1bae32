/**
 * The transaction pool: first come, first served across senders, nonce order within a sender.
 *
 * Transactions whose nonce leaves a gap are held back until the gap closes. A transaction with
 * the same sender and nonce replaces the pooled one only with a ≥10% bump of both the fee cap
 * and the tip (geth's default `PriceBump`). The pool is bounded in total and per sender; when
 * full, a new transaction evicts the cheapest tail transaction (never creating a nonce gap),
 * queued (gapped) ones first.
 */
import type { Common } from '@ethereumjs/common'
import type { TypedTransaction } from '@ethereumjs/tx'
import type { Address } from '@ethereumjs/util'
import type { StateReader } from '../state/types.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'
import { decodeAndValidate, maxCost, maxFeePerGas, maxPriorityFeePerGas, type RecoverSender, type StatelessLimits, txRejected } from './validate.ts'

export type PoolEntry = {
  readonly tx: TypedTransaction
  readonly sender: Address
  readonly senderKey: string
  readonly hash: Uint8Array
  readonly hashKey: string
  /** Arrival order; a replacement keeps the position of the transaction it replaces. */
  readonly seq: number
}

/** One sender's pooled transactions as `Mempool.content` splits them, each list in nonce order. */
export type SenderContent = { readonly sender: Address; readonly senderKey: string; readonly pending: readonly PoolEntry[]; readonly queued: readonly PoolEntry[] }

export type MempoolOptions = StatelessLimits & {
  readonly common: Common
  readonly maxTxs: number
  readonly maxPerSender: number
  /** Committed state of the head block (nonces and balances). */
  readonly state: () => StateReader
  /** Where senders are recovered; on this thread when absent. */
  readonly recoverSender?: RecoverSender | undefined
}

/** What `select` offers a block: the transactions, and whether one next by nonce did not fit in the gas given. */
export type Selection = { readonly transactions: TypedTransaction[]; readonly leftOut: boolean }

export type AddResult = { readonly hash: Uint8Array; readonly entry: PoolEntry; readonly replaced: PoolEntry | undefined }

const PRICE_BUMP_PERCENT = 110n

export class Mempool {
  private readonly byHash = new Map<string, PoolEntry>()
  private readonly bySender = new Map<string, Map<bigint, PoolEntry>>()
  private nextSeq = 0
  private totalGas = 0n
  /** `onAdded` listeners (filters, subscriptions); the add path only checks the length when none. */
  private readonly addedListeners: ((entry: PoolEntry) => void)[] = []

  constructor(private readonly options: MempoolOptions) {}

  get size(): number {
    return this.byHash.size
  }

  /** Sum of the gas limits of every pooled transaction (a block is sealed early when it exceeds the block gas limit). */
  get pooledGas(): bigint {
    return this.totalGas
  }

  get(hash: Uint8Array): PoolEntry | undefined {
    return this.byHash.get(bytesToUnprefixedHex(hash))
  }

  private stateNonce(senderKey: string): bigint {
    return this.options.state().getAccount(senderKey)?.nonce ?? 0n
  }

  /** The nonce the sender's next transaction should use: past every contiguous pooled nonce. */
  pendingNonce(senderKey: string): bigint {
    let nonce = this.stateNonce(senderKey)
    const pooled = this.bySender.get(senderKey)
    if (pooled === undefined) return nonce
    while (pooled.has(nonce)) nonce++
    return nonce
  }

  /**
   * Validate a raw transaction and pool it. Rejects with a `TX_REJECTED` error saying what was
   * wrong. Every check against the pool and state runs after the sender is recovered, in one go.
   */
  async add(raw: Uint8Array): Promise<AddResult> {
    const { tx, sender, hash } = await decodeAndValidate(raw, this.options.common, this.options, this.options.recoverSender)
    const hashKey = bytesToUnprefixedHex(hash)
    if (this.byHash.has(hashKey)) throw txRejected(`already known: transaction ${bytesToHex(hash)} is already in the pool`)
    const senderKey = bytesToUnprefixedHex(sender.bytes)
    const account = this.options.state().getAccount(senderKey)
    const stateNonce = account?.nonce ?? 0n
    if (tx.nonce < stateNonce) throw txRejected(`nonce too low: next nonce ${stateNonce}, tx nonce ${tx.nonce}`)
    const pooled = this.bySender.get(senderKey)
    const existing = pooled?.get(tx.nonce)
    if (existing === undefined && (pooled?.size ?? 0) >= this.options.maxPerSender) {
      throw txRejected(`account limit exceeded: sender has ${pooled?.size} pooled transactions (limit ${this.options.maxPerSender})`)
    }
    const maxGap = BigInt(this.options.maxPerSender)
    if (tx.nonce >= stateNonce + maxGap) {
      throw txRejected(`nonce too high: next nonce ${stateNonce}, tx nonce ${tx.nonce} (at most ${maxGap} ahead)`)
    }
    const balance = account?.balance ?? 0n
    const cost = maxCost(tx)
    if (balance < cost) {
      throw txRejected(`insufficient funds for gas * price + value: balance ${balance}, tx cost ${cost}, overshot ${cost - balance}`)
    }
    if (existing !== undefined) {
      const needFee = (maxFeePerGas(existing.tx) * PRICE_BUMP_PERCENT + 99n) / 100n
      const needTip = (maxPriorityFeePerGas(existing.tx) * PRICE_BUMP_PERCENT + 99n) / 100n
      if (maxFeePerGas(tx) < needFee || maxPriorityFeePerGas(tx) < needTip) {
        throw txRejected(
          `replacement transaction underpriced: needs max fee per gas ≥ ${needFee} and tip ≥ ${needTip} (10% bump), got ${maxFeePerGas(tx)} and ${maxPriorityFeePerGas(tx)}`,
        )
      }
    } else if (this.byHash.size >= this.options.maxTxs) {
      this.evictFor(tx, senderKey)
    }
    const entry: PoolEntry = { tx, sender, senderKey, hash, hashKey, seq: existing?.seq ?? this.nextSeq++ }
    if (existing !== undefined) this.removeEntry(existing)
    this.insert(entry)
    if (this.addedListeners.length > 0) this.notifyAdded(entry)
    return { hash, entry, replaced: existing }
  }

  /**
   * Hear of every transaction admitted to the pool (a replacement too), once it is pooled, for
   * pending-transaction filters and subscriptions. Returns the function that stops listening.
   */
  onAdded(listener: (entry: PoolEntry) => void): () => void {
    this.addedListeners.push(listener)
    return () => {
      const i = this.addedListeners.indexOf(listener)
      if (i >= 0) this.addedListeners.splice(i, 1)
    }
  }

  private notifyAdded(entry: PoolEntry): void {
    for (const listener of [...this.addedListeners]) {
      // The transaction is pooled whatever a listener does: its failure is not the sender's.
      try {
        listener(entry)
      } catch (error) {
        console.error('mempool onAdded listener failed:', error)
      }
    }
  }

  private insert(entry: PoolEntry): void {
    let pooled = this.bySender.get(entry.senderKey)
    if (pooled === undefined) {
      pooled = new Map()
      this.bySender.set(entry.senderKey, pooled)
    }
    pooled.set(entry.tx.nonce, entry)
    this.byHash.set(entry.hashKey, entry)
    this.totalGas += entry.tx.gasLimit
  }

  private removeEntry(entry: PoolEntry): void {
    if (!this.byHash.delete(entry.hashKey)) return
    this.totalGas -= entry.tx.gasLimit
    const pooled = this.bySender.get(entry.senderKey)
    pooled?.delete(entry.tx.nonce)
    if (pooled?.size === 0) this.bySender.delete(entry.senderKey)
  }

  /** Make room for `tx`, or refuse it: evict the cheapest tail transaction, queued ones first. */
  private evictFor(tx: TypedTransaction, senderKey: string): void {
    const newQueued = tx.nonce > this.pendingNonce(senderKey)
    let victim: PoolEntry | undefined
    let victimQueued = false
    for (const [key, pooled] of this.bySender) {
      // Never the newcomer's own sender: evicting its predecessor would open a nonce gap.
      if (key === senderKey) continue
      let tail: PoolEntry | undefined
      for (const entry of pooled.values()) if (tail === undefined || entry.tx.nonce > tail.tx.nonce) tail = entry
      // A tail below the state nonce is preconfirmed in the open block: evicting it frees nothing.
      if (tail === undefined || tail.tx.nonce < this.stateNonce(key)) continue
      const queued = tail.tx.nonce >= this.pendingNonce(key)
      const better =
        victim === undefined ||
        (queued && !victimQueued) ||
        (queued === victimQueued && maxFeePerGas(tail.tx) < maxFeePerGas(victim.tx))
      if (better) {
        victim = tail
        victimQueued = queued
      }
    }
    const newFee = maxFeePerGas(tx)
    if (
      victim === undefined ||
      (newQueued && !victimQueued) ||
      (newQueued === victimQueued && maxFeePerGas(victim.tx) >= newFee)
    ) {
      throw txRejected(`txpool is full: ${this.byHash.size} transactions, and this one does not outbid the cheapest evictable one`)
    }
    this.removeEntry(victim)
  }

  /**
   * Executable transactions for the next block, in arrival order across senders and nonce order
   * within each sender, up to `gasLimit` in total gas limits, skipping fee caps below `baseFee`;
   * `leftOut` when one (and with it its sender's later nonces) did not fit.
   */
  select(gasLimit: bigint, baseFee: bigint): Selection {
    const heap = new MinHeap<PoolEntry>((a, b) => a.seq - b.seq)
    for (const [key, pooled] of this.bySender) {
      const head = pooled.get(this.stateNonce(key))
      if (head !== undefined) heap.push(head)
    }
    const transactions: TypedTransaction[] = []
    let gas = 0n
    let leftOut = false
    for (let entry = heap.pop(); entry !== undefined; entry = heap.pop()) {
      if (maxFeePerGas(entry.tx) < baseFee) continue // this sender waits for a lower base fee
      if (gas + entry.tx.gasLimit > gasLimit) {
        leftOut = true // does not fit; its successors wait too
        continue
      }
      gas += entry.tx.gasLimit
      transactions.push(entry.tx)
      const next = this.bySender.get(entry.senderKey)?.get(entry.tx.nonce + 1n)
      if (next !== undefined) heap.push(next)
    }
    return { transactions, leftOut }
  }

  /**
   * Whether a sender's next transaction (executable by nonce) is held back only by a fee cap below
   * `baseFee`: it waits for the base fee to fall, which takes blocks (EIP-1559).
   */
  waitsForBaseFee(baseFee: bigint): boolean {
    for (const [key, pooled] of this.bySender) {
      const head = pooled.get(this.stateNonce(key))
      if (head !== undefined && maxFeePerGas(head.tx) < baseFee) return true
    }
    return false
  }

  /**
   * After a block: forget included transactions and every transaction made stale by the new
   * nonces; drop the ones execution refused.
   */
  prune(included: readonly TypedTransaction[], rejected: readonly TypedTransaction[], changedAccounts: Iterable<string> = []): void {
    // Nonces also move without a tx of the sender's own (EIP-7702 authorizations): re-check
    // every account the block changed.
    const touched = new Set<string>(changedAccounts)
    for (const tx of [...included, ...rejected]) {
      const entry = this.byHash.get(bytesToUnprefixedHex(tx.hash()))
      if (entry === undefined) continue
      touched.add(entry.senderKey)
      this.removeEntry(entry)
    }
    for (const key of touched) {
      if (!this.bySender.has(key)) continue
      const pooled = this.bySender.get(key)
      if (pooled === undefined) continue
      const nonce = this.stateNonce(key)
      for (const entry of [...pooled.values()]) if (entry.tx.nonce < nonce) this.removeEntry(entry)
    }
  }

  /**
   * The pool as geth's `txpool_*` methods show it: per sender (by address), in nonce order,
   * `pending` — executable now, nonces contiguous from the sender's state nonce — and `queued` —
   * behind a nonce gap. `senderKey` narrows it to one sender. Read-only; O(pool size), which
   * `maxTxs` bounds. Entries already below the state nonce (a block just included them and
   * `prune` has not run yet) are neither.
   */
  content(senderKey?: string): SenderContent[] {
    const senders = senderKey === undefined ? [...this.bySender.keys()].sort() : this.bySender.has(senderKey) ? [senderKey] : []
    return senders.map((key) => {
      const pooled = [...this.bySender.get(key)!.values()].sort((a, b) => (a.tx.nonce < b.tx.nonce ? -1 : 1))
      const pending: PoolEntry[] = []
      const queued: PoolEntry[] = []
      const stateNonce = this.stateNonce(key)
      let next = stateNonce
      for (const entry of pooled) {
        if (entry.tx.nonce < stateNonce) continue
        if (entry.tx.nonce === next && queued.length === 0) {
          pending.push(entry)
          next++
        } else {
          queued.push(entry)
        }
      }
      return { sender: pooled[0]!.sender, senderKey: key, pending, queued }
    })
  }

  /** Pooled entries, for status reporting. */
  entries(): IterableIterator<PoolEntry> {
    return this.byHash.values()
  }
}

/** A binary min-heap; small and allocation-free per operation. */
class MinHeap<T> {
  private readonly items: T[] = []
  constructor(private readonly compare: (a: T, b: T) => number) {}

  push(item: T): void {
    const items = this.items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.compare(items[i]!, items[parent]!) >= 0) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && this.compare(items[left]!, items[smallest]!) < 0) smallest = left
      if (right < items.length && this.compare(items[right]!, items[smallest]!) < 0) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest]!, items[i]!]
      i = smallest
    }
    return top
  }
}
