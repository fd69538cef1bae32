/**
 * Conflict-aware batch selection (the Reddio paper's batch fetching, §III; the sharded-MPT
 * proposal's "lock the accounts known beforehand"): a batch takes pending transactions in order,
 * skipping any whose sender or known recipient is already in the batch; once a sender is skipped,
 * its later transactions wait too, so each sender keeps nonce order.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToUnprefixedHex } from '@ethereumjs/util'

const TRANSFER = 'a9059cbb' // transfer(address,uint256)
const TRANSFER_FROM = '23b872dd' // transferFrom(address,address,uint256)

function wordAddress(data: Uint8Array, word: number): string | undefined {
  const start = 4 + word * 32 + 12
  return data.length >= start + 20 ? bytesToUnprefixedHex(data.subarray(start, start + 20)) : undefined
}

/**
 * Accounts a transaction is known to touch before it runs: its sender, the recipient of a plain
 * transfer, the addresses of an ERC-20 transfer, and the target of a call into a contract seen to
 * conflict (`hot`). Other contract state is left to optimistic validation.
 */
export function conflictHints(tx: TypedTransaction, sender: string, hot: ReadonlySet<string>): string[] {
  const hints = [sender]
  const to = tx.to === undefined ? undefined : bytesToUnprefixedHex(tx.to.bytes)
  if (to === undefined) return hints
  if (tx.data.length === 0) {
    hints.push(to)
    return hints
  }
  if (hot.has(to)) hints.push(to)
  const selector = bytesToUnprefixedHex(tx.data.subarray(0, 4))
  if (selector === TRANSFER) {
    const recipient = wordAddress(tx.data, 0)
    if (recipient !== undefined) hints.push(recipient)
  } else if (selector === TRANSFER_FROM) {
    for (const word of [0, 1]) {
      const address = wordAddress(tx.data, word)
      if (address !== undefined) hints.push(address)
    }
  }
  return hints
}

/** Indices (into `pending`'s order) of the next batch, at most `max` of them. */
export function selectBatch(
  pending: readonly number[],
  senderOf: (id: number) => string,
  hintsOf: (id: number) => readonly string[],
  max: number,
): number[] {
  const used = new Set<string>()
  const waiting = new Set<string>()
  const batch: number[] = []
  for (const id of pending) {
    if (batch.length >= max) break
    const sender = senderOf(id)
    if (waiting.has(sender)) continue
    waiting.add(sender) // later txs of this sender wait for the next batch either way
    const hints = hintsOf(id)
    if (hints.some((h) => used.has(h))) continue
    for (const h of hints) used.add(h)
    batch.push(id)
  }
  return batch
}
