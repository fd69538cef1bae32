/**
 * Conflict-aware batching (the Reddio paper's batch fetching, §III; the sharded-MPT proposal's
 * "lock the accounts known beforehand"): transactions that share a sender or an account known
 * before execution go to the same chunk, so known conflicts never cross threads; unknown ones are
 * left to optimistic validation.
 */
import type { TypedTransaction } from '@ethereumjs/tx'
import { bytesToUnprefixedHex } from '../../utils/hex.ts'

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

/**
 * One chunk per thread: transactions linked by a shared sender or hint (union–find) stay
 * together; groups go to the least-loaded chunk, largest first; within a chunk, arrival order
 * (so each sender keeps nonce order). Empty chunks are dropped.
 */
export function partitionBatch(batch: readonly number[], hintsOf: (id: number) => readonly string[], threads: number): number[][] {
  if (threads === 1) return [[...batch]]
  const parent = new Map<string, string>()
  const find = (key: string): string => {
    let root = key
    while (parent.get(root) !== root) root = parent.get(root) ?? root
    parent.set(key, root)
    return root
  }
  const firstHint = new Map<number, string>()
  for (const id of batch) {
    const hints = hintsOf(id)
    for (const h of hints) if (!parent.has(h)) parent.set(h, h)
    const root = find(hints[0]!)
    for (const h of hints.slice(1)) {
      const other = find(h)
      if (other !== root) parent.set(other, root)
    }
    firstHint.set(id, hints[0]!)
  }
  const groups = new Map<string, number[]>()
  for (const id of batch) {
    const root = find(firstHint.get(id)!)
    let group = groups.get(root)
    if (group === undefined) {
      group = []
      groups.set(root, group)
    }
    group.push(id)
  }
  const chunks: number[][] = Array.from({ length: threads }, () => [])
  const ordered = [...groups.values()].sort((a, b) => b.length - a.length || a[0]! - b[0]!)
  for (const group of ordered) {
    let smallest = chunks[0]!
    for (const chunk of chunks) if (chunk.length < smallest.length) smallest = chunk
    smallest.push(...group)
  }
  return chunks.filter((chunk) => chunk.length > 0).map((chunk) => chunk.sort((a, b) => a - b))
}
