/**
 * `mosaic replica --rpc URL`: follows a sequencer by applying each block's state delta instead of
 * re-executing it (MISSION.md, "Verifier mode … Replica mode applies deltas instead"). It trusts
 * nothing the sequencer's RPC says that it can check: each header must be the child of its own
 * previous block under the chain's header rules (`chain/header-rules.ts`, the sequencer's own
 * rules, from this replica's configuration), its lagged state root the one its own commitment
 * computed; each transaction must be one the chain admits, its sender recovered from its
 * signature (a receipt's `from` is only compared); the transactions, receipts, gas used and bloom
 * must be what the header commits to; and the post-state root its own commitment computes from
 * the delta must be the one the sequencer claims. It serves the read-only RPC methods from its
 * own state.
 */
import { type Block, type BlockHeader, createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { blockCommonFor } from '../chain/common.ts'
import { RLP } from '@ethereumjs/rlp'
import type { TypedTransaction } from '@ethereumjs/tx'
import { type Address, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { Bloom, type TxReceipt } from '@ethereumjs/vm'
import { encodeReceipt } from '../chain/receipt.ts'
import { blockOf, serializeBlock } from '../chain/block.ts'
import { type ChainBlock, encodeStoredReceipt, type StoredReceipt } from '../chain/chain.ts'
import { type HeaderRules, headerRulesOf, laggedRootBlock, validateChildHeader } from '../chain/header-rules.ts'
import { decodeTransaction } from '../chain/transaction.ts'
import { orderedTrieRoot } from '../commitment/ordered-root.ts'
import { MosaicError, type VerdictReason, VerificationError, verdictReasonOf } from '../errors.ts'
import { checkChainAdmits } from '../mempool/validate.ts'
import type { MosaicNode } from '../node/node.ts'
import { decodeStateDelta } from '../state/delta-codec.ts'
import type { StateDelta } from '../state/types.ts'
import { RpcSource } from '../rpc/client.ts'
import { bytesToHex } from '../utils/hex.ts'
import { stopperOf } from '../utils/stop.ts'

type ReceiptJSON = { status: `0x${string}`; cumulativeGasUsed: `0x${string}`; from?: unknown; logs: { address: `0x${string}`; topics: `0x${string}`[]; data: `0x${string}` }[] }

const POLL_MS = 100

type Fail = (reason: VerdictReason, what: string) => never

export class Replica {
  private readonly source: RpcSource
  private readonly rules: HeaderRules
  /** Seconds a header's timestamp may be ahead of this replica's clock (`VERIFY_TIMESTAMP_DRIFT`). */
  private readonly drift: bigint
  /** Why replication stopped, once it did (a header, sender, receipts or root mismatch). */
  failure: string | undefined
  /** The rule the block it stopped at broke (`VerdictReason`), once it stopped. */
  failureReason: VerdictReason | undefined
  applied = 0

  constructor(
    private readonly node: MosaicNode,
    url: string,
    private readonly log: (message: string) => void,
  ) {
    const { config } = node
    this.source = new RpcSource(url, node.common, { maxBytes: config.verifyMaxResponseBytes, timeoutMs: config.verifyFetchTimeoutMs })
    this.rules = headerRulesOf(config, node.common)
    this.drift = BigInt(config.verifyTimestampDrift)
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
    // Not Promise.race with `stop` per poll: each race left a reaction on it, ~310 bytes every
    // POLL_MS, ~270 MB a day for an idle replica (`utils/stop.ts`).
    const stopper = stopperOf(stop)
    while (!stopper.signal.aborted && this.failure === undefined) {
      try {
        if ((await this.syncOnce()) === 0) await stopper.sleep(POLL_MS)
      } catch (error) {
        if (error instanceof MosaicError && error.code === 'VERIFICATION_FAILED') {
          this.failure = error.shortMessage
          this.failureReason = verdictReasonOf(error)
          this.log(`replication stopped [${this.failureReason ?? 'verification'}]: ${error.shortMessage}`)
          return
        }
        this.log(`replica: ${(error as Error).message}; retrying`)
        await stopper.sleep(1000)
      }
    }
  }

  private async apply(n: bigint): Promise<void> {
    const { node, rules } = this
    const tag = `0x${n.toString(16)}`
    const [raw, deltaJSON, receiptsJSON, claimed] = await Promise.all([
      this.source.rawBlock(n),
      this.source.call<{ encoding: `0x${string}` }>('mosaic_getStateDelta', [tag]),
      this.source.call<ReceiptJSON[]>('eth_getBlockReceipts', [tag]),
      this.source.stateRoot(n),
    ])
    const fail: Fail = (reason, what) => {
      throw new VerificationError(reason, `block ${n}: ${what}`)
    }
    const { header, transactions: encodedTxs } = decodeFetchedBlock(raw, node.common, fail)
    if (header.number !== n) fail('header.number', `debug_getRawBlock(${n}) answered block ${header.number}`)

    // The header: the child of this replica's own block n − 1 under the chain's rules, no later
    // than its clock allows, carrying the root its own commitment computed for block n − L. With
    // L = 0 that is block n's own root, known only once the delta is applied: checked below.
    const stored = node.chain.getBlock(n - 1n)!
    const parent = { header: stored.block.header, hash: stored.hash }
    const maxTimestamp = BigInt(Math.floor(Date.now() / 1000)) + this.drift
    const lagged = laggedRootBlock(n, rules.stateRootLag)
    validateChildHeader(header, parent, rules, { maxTimestamp, laggedRoot: lagged < n ? await node.commitment.rootOf(lagged) : undefined })

    // The body: what the chain admits, senders from the signatures, committed to by the header.
    const { block, senders } = recoverBody(header, encodedTxs, raw, node.common, fail)
    const receipts = receiptsJSON.map(toStoredReceipt)
    checkReceipts(block, receipts, node.common, fail)
    for (const [i, receipt] of receiptsJSON.entries()) {
      const recovered = senders[i]!.toString()
      if (typeof receipt.from !== 'string' || receipt.from.toLowerCase() !== recovered) {
        fail('block.sender', `the receipt of transaction ${i} says it is from ${String(receipt.from)}, its signature recovers ${recovered}`)
      }
    }

    let delta: StateDelta
    try {
      delta = decodeStateDelta(hexToBytes(deltaJSON.encoding))
    } catch (error) {
      fail('block.delta', `its state delta does not decode: ${(error as Error).message}`)
    }
    // The root this replica's own commitment computes from the delta must be the sequencer's.
    node.commitment.submit(n, delta)
    const root = await node.commitment.rootOf(n)
    if (!equalsBytes(root, claimed)) fail('block.post-state-root', `the delta leads to root ${bytesToHex(root)}, the sequencer claims ${bytesToHex(claimed)}`)
    if (lagged === n) validateChildHeader(header, parent, rules, { maxTimestamp, laggedRoot: root })

    const hash = block.hash()
    await node.writer.commit({
      stored: { number: n, hash, serialized: raw, senders: senders.map((s) => s.bytes), txHashes: block.transactions.map((tx) => tx.hash()), receipts: receipts.map(encodeStoredReceipt) },
      chainBlock: { block, hash, senders, receipts } satisfies ChainBlock,
      delta,
    })
    this.applied++
    this.log(`applied block ${n}: ${block.transactions.length} txs, root ${bytesToHex(root)}`)
  }
}

/** A fetched block's header and its transactions' bytes (typed: as sent; legacy: their RLP). */
function decodeFetchedBlock(raw: Uint8Array, common: Common, fail: Fail): { header: BlockHeader; transactions: Uint8Array[] } {
  try {
    const values = RLP.decode(raw) as unknown
    if (!Array.isArray(values) || !Array.isArray(values[0]) || !Array.isArray(values[1])) throw new Error('expected [header, transactions, …]')
    const header = createBlockHeaderFromBytesArray(values[0] as Uint8Array[], { common: blockCommonFor(common), setHardfork: false })
    const transactions = (values[1] as (Uint8Array | Uint8Array[])[]).map((tx) => (tx instanceof Uint8Array ? tx : RLP.encode(tx)))
    return { header, transactions }
  } catch (error) {
    return fail('block.undecodable', `it does not decode: ${(error as Error).message}`)
  }
}

/**
 * The block's transactions as the mempool would have admitted them (the chain's types, signed for
 * this chain), each sender recovered from its signature; the header's transactions root must
 * commit to them, and the block must be exactly header and transactions (no uncles, no
 * withdrawals, nothing else: what the sequencer seals).
 */
function recoverBody(header: BlockHeader, encoded: readonly Uint8Array[], raw: Uint8Array, common: Common, fail: Fail): { block: Block; senders: Address[] } {
  const transactions: TypedTransaction[] = encoded.map((bytes, i) => {
    try {
      checkChainAdmits(bytes, common)
    } catch (error) {
      fail('block.transaction-type', `transaction ${i} is one this chain does not admit: ${(error as Error).message}`)
    }
    try {
      return decodeTransaction(bytes, common)
    } catch (error) {
      return fail('block.signature', `transaction ${i} has no valid signature: ${(error as Error).message}`)
    }
  })
  const txRoot = orderedTrieRoot(encoded)
  if (!equalsBytes(txRoot, header.transactionsTrie)) fail('block.transactions-root', `its transactions hash to ${bytesToHex(txRoot)}, the header's transactions root is ${bytesToHex(header.transactionsTrie)}`)
  const block = blockOf(header, transactions)
  if (!equalsBytes(serializeBlock(block), raw)) fail('block.body', 'its RLP holds more than its header and transactions')
  return { block, senders: transactions.map((tx) => tx.getSenderAddress()) }
}

function toStoredReceipt(r: ReceiptJSON): StoredReceipt {
  return {
    status: r.status === '0x1' ? 1 : 0,
    cumulativeGasUsed: BigInt(r.cumulativeGasUsed),
    logs: r.logs.map((log) => [hexToBytes(log.address), log.topics.map((t) => hexToBytes(t)), hexToBytes(log.data)]),
  }
}

/** The fetched receipts must be the ones the header commits to, and so its gas used and bloom. */
function checkReceipts(block: Block, receipts: readonly StoredReceipt[], common: Common, fail: Fail): void {
  if (receipts.length !== block.transactions.length) fail('block.receipts-root', `${receipts.length} receipts for ${block.transactions.length} transactions`)
  const blockBloom = new Bloom(undefined, common)
  const encoded = receipts.map((receipt, i) => {
    const bloom = new Bloom(undefined, common)
    for (const [address, topics] of receipt.logs) {
      bloom.add(address)
      for (const topic of topics) bloom.add(topic)
    }
    blockBloom.or(bloom)
    const full: TxReceipt = { status: receipt.status, cumulativeBlockGasUsed: receipt.cumulativeGasUsed, bitvector: bloom.bitvector, logs: receipt.logs as TxReceipt['logs'] }
    return encodeReceipt(full, block.transactions[i]!.type)
  })
  const root = orderedTrieRoot(encoded)
  if (!equalsBytes(root, block.header.receiptTrie)) fail('block.receipts-root', `the receipts do not match the header's receipts root`)
  const gasUsed = receipts.at(-1)?.cumulativeGasUsed ?? 0n
  if (gasUsed !== block.header.gasUsed) fail('block.gas-used', `its receipts use ${gasUsed} gas, the header says ${block.header.gasUsed}`)
  if (!equalsBytes(blockBloom.bitvector, block.header.logsBloom)) fail('block.logs-bloom', `the header's logs bloom is not the union of its receipts' blooms`)
}
