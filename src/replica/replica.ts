/**
 * `mosaic replica --rpc URL`: follows a sequencer by applying each block's state delta instead of
 * re-executing it (MISSION.md, "Verifier mode … Replica mode applies deltas instead"), checks the
 * post-state root its own commitment computes against the sequencer's, checks the receipts it
 * fetches against the header, and serves the read-only RPC methods from its own state.
 */
import { type Block, createBlockFromRLP } from '@ethereumjs/block'
import { Address, bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { Bloom, encodeReceipt, type TxReceipt } from '@ethereumjs/vm'
import { type ChainBlock, encodeStoredReceipt, type StoredReceipt } from '../chain/chain.ts'
import { orderedTrieRoot } from '../commitment/ordered-root.ts'
import { MosaicError } from '../errors.ts'
import type { MosaicNode } from '../node/node.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import { RpcSource } from '../verifier/rpc-source.ts'

type ReceiptJSON = { status: `0x${string}`; cumulativeGasUsed: `0x${string}`; from: `0x${string}`; logs: { address: `0x${string}`; topics: `0x${string}`[]; data: `0x${string}` }[] }

const POLL_MS = 100

export class Replica {
  private readonly source: RpcSource
  /** Why replication stopped, once it did (a root or receipts mismatch). */
  failure: string | undefined
  applied = 0

  constructor(
    private readonly node: MosaicNode,
    url: string,
    private readonly log: (message: string) => void,
  ) {
    this.source = new RpcSource(url, node.common)
  }

  /** Check that the sequencer runs the same chain: the same genesis block and commitment layout. */
  async checkSameChain(): Promise<void> {
    const genesis = await this.source.call<`0x${string}`>('debug_getRawBlock', ['0x0'])
    const local = this.node.chain.getBlock(0n)!.block.serialize()
    if (!equalsBytes(hexToBytes(genesis), local)) {
      throw new MosaicError('GENESIS_INVALID', `the sequencer at ${this.source.url} has another genesis block: configure the same genesis (GENESIS_FILE, CHAIN_ID) and STATE_COMMITMENT`)
    }
  }

  /** Apply every block the sequencer has that this replica does not; returns how many. */
  async syncOnce(): Promise<number> {
    const remote = await this.source.head()
    let count = 0
    for (let n = this.node.chain.head + 1n; n <= remote && this.failure === undefined; n++) {
      await this.node.stateLock.run(() => this.apply(n))
      count++
    }
    return count
  }

  async run(stop: Promise<void>): Promise<void> {
    let stopped = false
    void stop.then(() => {
      stopped = true
    })
    while (!stopped && this.failure === undefined) {
      try {
        if ((await this.syncOnce()) === 0) await Promise.race([new Promise((resolve) => setTimeout(resolve, POLL_MS)), stop])
      } catch (error) {
        if (error instanceof MosaicError && error.code === 'VERIFICATION_FAILED') {
          this.failure = error.shortMessage
          this.log(`replication stopped: ${error.shortMessage}`)
          return
        }
        this.log(`replica: ${(error as Error).message}; retrying`)
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 1000)), stop])
      }
    }
  }

  private async apply(n: bigint): Promise<void> {
    const { node } = this
    const tag = `0x${n.toString(16)}`
    const [raw, deltaJSON, receiptsJSON, claimed] = await Promise.all([
      this.source.call<`0x${string}`>('debug_getRawBlock', [tag]),
      this.source.call<{ encoding: `0x${string}` }>('mosaic_getStateDelta', [tag]),
      this.source.call<ReceiptJSON[]>('eth_getBlockReceipts', [tag]),
      this.source.stateRoot(n),
    ])
    const block = createBlockFromRLP(hexToBytes(raw), { common: node.common, setHardfork: false })
    const parent = node.chain.getBlock(n - 1n)!
    const mismatch = (what: string): never => {
      throw new MosaicError('VERIFICATION_FAILED', `block ${n}: ${what}`)
    }
    if (!equalsBytes(block.header.parentHash, parent.hash)) mismatch(`its parent is ${bytesToHex(block.header.parentHash)}, this replica's block ${n - 1n} is ${bytesToHex(parent.hash)}`)
    const receipts = receiptsJSON.map(toStoredReceipt)
    await checkReceipts(block, receipts, node, mismatch)
    const delta = decodeStateDelta(hexToBytes(deltaJSON.encoding))
    // The root this replica's own commitment computes from the delta must be the sequencer's.
    node.commitment.submit(n, delta)
    const root = await node.commitment.rootOf(n)
    if (!equalsBytes(root, claimed)) mismatch(`the delta leads to root ${bytesToHex(root)}, the sequencer claims ${bytesToHex(claimed)}`)
    const hash = block.hash()
    const senders = receiptsJSON.map((r) => hexToBytes(r.from))
    const stored = { number: n, hash, serialized: block.serialize(), senders, txHashes: block.transactions.map((tx) => tx.hash()), receipts: receipts.map(encodeStoredReceipt) }
    const chainBlock: ChainBlock = { block, hash, senders: senders.map((s) => new Address(s)), receipts }
    await node.writer.commit({ stored, chainBlock, delta })
    this.applied++
    this.log(`applied block ${n}: ${block.transactions.length} txs, root ${bytesToHex(root)}`)
  }
}

function toStoredReceipt(r: ReceiptJSON): StoredReceipt {
  return {
    status: r.status === '0x1' ? 1 : 0,
    cumulativeGasUsed: BigInt(r.cumulativeGasUsed),
    logs: r.logs.map((log) => [hexToBytes(log.address), log.topics.map((t) => hexToBytes(t)), hexToBytes(log.data)]),
  }
}

/** The fetched receipts must be the ones the header commits to. */
async function checkReceipts(block: Block, receipts: readonly StoredReceipt[], node: MosaicNode, mismatch: (what: string) => never): Promise<void> {
  if (receipts.length !== block.transactions.length) mismatch(`${receipts.length} receipts for ${block.transactions.length} transactions`)
  const encoded = receipts.map((receipt, i) => {
    const bloom = new Bloom(undefined, node.common)
    for (const [address, topics] of receipt.logs) {
      bloom.add(address)
      for (const topic of topics) bloom.add(topic)
    }
    const full: TxReceipt = { status: receipt.status, cumulativeBlockGasUsed: receipt.cumulativeGasUsed, bitvector: bloom.bitvector, logs: receipt.logs as TxReceipt['logs'] }
    return encodeReceipt(full, block.transactions[i]!.type)
  })
  const root = orderedTrieRoot(encoded)
  if (!equalsBytes(root, block.header.receiptTrie)) mismatch(`the receipts do not match the header's receipts root`)
}
