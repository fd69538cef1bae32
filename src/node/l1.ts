/**
 * Connects a node to its L1: the inbox (deployed here on a devnet that has none), the sender
 * account, and the poster fed from the node's store and commitment pipeline.
 */
import { type Address, createPublicClient, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { deriveDevAccounts } from '../chain/dev-accounts.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError, reasonLine } from '../errors.ts'
import { deployInbox } from '../l1/deploy.ts'
import { InboxReader } from '../l1/inbox.ts'
import { type BatchSource, Poster, type PostJob, type PostResult } from '../l1/poster.ts'
import { L1Sender } from '../l1/sender.ts'
import type { QueueBackend } from '../queue/queue.ts'
import { boundedFetch, DEFAULT_FETCH_LIMITS, type FetchLimits } from '../utils/bounded-fetch.ts'
import type { MosaicNode } from './node.ts'
import { bytesToHex } from '../utils/hex.ts'

/** The poster's view of a node: blocks from the store, roots and witnesses once durable. */
export function nodeBatchSource(node: MosaicNode): BatchSource {
  const { store, commitment, chain } = node
  return {
    rootedHead: () => {
      const durable = commitment.stats().durable ?? -1n
      return durable < chain.head ? durable : chain.head
    },
    blockRlp: (n) => {
      const rlp = store.getBlockRlp(n)
      if (rlp === undefined) throw new MosaicError('STORE_CORRUPT', `block ${n} is missing from the store`)
      return rlp
    },
    stateRoot: (n) => {
      const root = commitment.rootIfComputed(n)
      if (root === undefined) throw new MosaicError('COMMITMENT', `the state root of block ${n} is not computed yet`)
      return root
    },
    witnessHash: async (n) => {
      const witness = await commitment.witnessOf(n)
      if (witness === undefined) throw new MosaicError('COMMITMENT', `no witness recorded for block ${n}`)
      return keccak256(witness)
    },
  }
}

export type L1Connection = { readonly url: string; readonly inbox: Address; readonly poster: Poster; stop(): Promise<void> }

export type ConnectL1Options = {
  readonly url: string
  readonly queues: QueueBackend
  readonly log: (message: string) => void
  /** Bounds of every answer read from the L1 (size, time), as for the verifiers' reads. */
  readonly limits?: FetchLimits
}

export async function connectL1(node: MosaicNode, { url, queues, log, limits = DEFAULT_FETCH_LIMITS }: ConnectL1Options): Promise<L1Connection> {
  const { config } = node
  // Answers from the L1 are read within bounds, as everything from outside: a broken or hostile
  // endpoint gets a TRANSPORT error (the poster retries), not the node's memory or a hung plan.
  const transport = http(url, { retryCount: 0, timeout: limits.timeoutMs, fetchFn: boundedFetch(limits, 'the L1') })
  const client = createPublicClient({ transport, pollingInterval: 100 }) as PublicClient
  let chainId: number
  try {
    chainId = await client.getChainId()
  } catch (error) {
    throw new MosaicError('L1', `cannot reach the L1 at ${url} (L1_RPC_URL): ${reasonLine(error)}`)
  }
  const key = config.l1PrivateKey ?? (config.mode === 'devnet' ? deriveDevAccounts(1)[0]!.privateKey : undefined)
  if (key === undefined) throw new MosaicError('CONFIG_INVALID', 'Missing L1_PRIVATE_KEY (--l1-private-key): the poster signs with it')
  const account = privateKeyToAccount(key as Hex)
  let inbox = config.inboxAddress as Address | undefined
  if (inbox === undefined) {
    const genesis = node.chain.getBlock(0n)!
    inbox = await deployInbox({ client, url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: bytesToHex(genesis.block.header.stateRoot) })
    log(`deployed the inbox at ${inbox} on the L1 (sequencer ${account.address})`)
  }
  const reader = new InboxReader(client, inbox, config.l1BeaconUrl ?? url)
  await reader.checkDeployed()
  const sender = new L1Sender({ client, privateKey: key as Hex, chainId, confirmations: config.l1Confirmations, resendAfterMs: config.l1ResendMs, log })
  const poster: Poster = new Poster({
    source: nodeBatchSource(node),
    inbox: reader,
    sender,
    // Failed posts are kept for the status, the latest 1,024: an L1 down for days fails a job every ~30 s.
    queue: queues.queue<PostJob, PostResult>('post', { attempts: 12, backoffMs: 500, keepCompleted: false, keepFailed: 1_024 }),
    daMode: config.daMode,
    maxBlocks: config.batchMaxBlocks,
    maxBytes: config.batchMaxBytes,
    maxAgeMs: config.batchMaxAgeMs,
    frameBytes: config.frameBytes,
    log,
    onOutcome: (outcome) => node.metrics.l1Jobs.inc({ outcome }),
    onInboxState: (safe, finalized): Promise<void> => node.store.recordL1Progress(safe, finalized, (block) => poster.batchOf(block)),
  })
  const { metrics } = node
  metrics.l1SafeBlock.set(() => Number(poster.safeBlock))
  metrics.l1Reorgs.set(() => poster.reorgs)
  for (const event of ['sent', 'replaced', 'mined'] as const) metrics.l1Transactions.set(() => sender.stats[event], { event })
  // Queue counts are asynchronous on Redis: sampled once a second for the gauge.
  const counts: Record<string, number> = {}
  const queue = poster.queue
  const sample = setInterval(() => {
    queue.counts().then((c) => Object.assign(counts, c), () => {})
  }, 1000)
  sample.unref()
  for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) metrics.l1Queue.set(() => counts[state] ?? 0, { state })
  node.poster = poster
  poster.start()
  return {
    url,
    inbox,
    poster,
    stop: async () => {
      clearInterval(sample)
      await poster.stop()
    },
  }
}
