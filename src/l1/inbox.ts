/**
 * Reading the L1 inbox (`contracts/Inbox.sol`) with viem: its state, each batch's commitments
 * from its `BatchSubmitted` event, and each batch's data from its frames — calldata of
 * `postFrame` calls, or blobs of `postBlobFrames` transactions fetched from a beacon API
 * (`GET /eth/v1/beacon/blobs/{block}`, which anvil serves on its RPC port).
 */
import { equalsBytes, hexToBytes } from '@ethereumjs/util'
import { bytesToHex, checkedHexToBytes } from '../utils/hex.ts'
import { type Address, BaseError, ContractFunctionZeroDataError, decodeEventLog, decodeFunctionData, fromBlobs, type Hex, type PublicClient, zeroHash } from 'viem'
import { blobVersionedHash } from '../crypto/kzg.ts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { MosaicError, reasonLine, VerificationError, type VerdictReason } from '../errors.ts'
import { DEFAULT_FETCH_LIMITS, type FetchLimits, fetchText } from '../utils/bounded-fetch.ts'
import { type BatchContent, decodeBatchData, type Frame, reassembleFrames, witnessCommitment } from './batch-data.ts'

export const inboxArtifact = () => loadArtifact('Inbox')

/** The inbox's `Batch` struct as viem reads and writes it. */
export type InboxBatch = {
  readonly index: bigint
  readonly firstBlock: bigint
  readonly lastBlock: bigint
  readonly postStateRoot: Hex
  readonly witnessCommitment: Hex
  readonly dataHash: Hex
  readonly previous: Hex
}

/** A batch as the L1 recorded it. */
export type SubmittedBatch = InboxBatch & {
  readonly batchHash: Hex
  /** The L1 block and transaction that submitted it. */
  readonly l1Block: bigint
  readonly transactionHash: Hex
}

export type InboxState = { readonly nextIndex: bigint; readonly nextBlock: bigint; readonly lastBatchHash: Hex; readonly l1Block: bigint }

/** A batch read back from L1: commitments, decoded content, and the pre-state root of its first block. */
export type L1Batch = { readonly batch: SubmittedBatch; readonly content: BatchContent; readonly preStateRoot: Uint8Array }

function l1Error(message: string): MosaicError {
  return new MosaicError('L1', message)
}

/** The L1's data contradicts the L1's own commitments: a verdict on whoever posted it. */
function badBatch(message: string, reason: VerdictReason = 'batch.commitment', cause?: unknown): VerificationError {
  return new VerificationError(reason, message, { cause })
}

/** States kept by `InboxReader.state`: the latest and the finalized block's, and the ones before. */
const STATES_KEPT = 4

export class InboxReader {
  private readonly abi = inboxArtifact().abi

  constructor(
    readonly client: PublicClient,
    readonly address: Address,
    /** Beacon API base URL blobs are read from (anvil: its RPC URL). */
    readonly beaconUrl: string | undefined = undefined,
    /** Largest batch data read, decompressed; and the bounds of beacon API reads. */
    readonly limits: FetchLimits & { readonly batchBytes: number } = { ...DEFAULT_FETCH_LIMITS, batchBytes: 64 * 1024 * 1024 },
  ) {}

  private read<T>(functionName: string, args: readonly unknown[] = [], blockNumber?: bigint): Promise<T> {
    return this.client.readContract({ address: this.address, abi: this.abi, functionName, args, ...(blockNumber === undefined ? {} : { blockNumber }) } as never) as Promise<T>
  }

  /**
   * The inbox's state at one L1 block: the latest, the L1's finalized block, or a given number.
   * For a tag, the block is looked up first, and the state at a block hash already read is not
   * read again: the poster and the verifiers ask every 250 ms, the L1 makes a block every 1–12 s,
   * and an idle devnet spent most of its main thread's time on these reads (3 calls a tag).
   */
  async state(at: 'latest' | 'finalized' | bigint = 'latest'): Promise<InboxState> {
    if (typeof at === 'bigint') return this.stateAt(at)
    const { hash, number } = await this.client.getBlock({ blockTag: at })
    if (hash === null || number === null) throw l1Error(`the L1 answered its ${at} block without a hash or number`)
    const known = this.statesByHash.get(hash)
    if (known instanceof Error) throw known
    if (known !== undefined) return known
    let state: InboxState
    try {
      state = await this.stateAt(number)
    } catch (error) {
      // No inbox at that block yet (the L1's finalized block predates it): as final as a state.
      // Any other failure (the network, a time-out) is not kept.
      if (error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionZeroDataError) !== null) this.keepState(hash, error)
      throw error
    }
    // A reorg between the two calls could pin the new block's state under the replaced block's
    // hash; it would be served again only if that very block came back as the tip.
    this.keepState(hash, state)
    return state
  }

  /** The inbox's state at the L1's finalized block; undefined while that block predates the inbox (nothing is final yet). */
  async finalizedState(): Promise<InboxState | undefined> {
    try {
      return await this.state('finalized')
    } catch (error) {
      if (error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionZeroDataError) !== null) return undefined
      throw error
    }
  }

  /** `state` at the tags' last blocks, by block hash (the oldest dropped first): the state, or that there was no inbox. */
  private readonly statesByHash = new Map<Hex, InboxState | Error>()

  private keepState(hash: Hex, state: InboxState | Error): void {
    this.statesByHash.set(hash, state)
    if (this.statesByHash.size > STATES_KEPT) this.statesByHash.delete(this.statesByHash.keys().next().value!)
  }

  private async stateAt(l1Block: bigint): Promise<InboxState> {
    const [nextIndex, nextBlock, lastBatchHash] = await Promise.all([
      this.read<bigint>('nextIndex', [], l1Block),
      this.read<bigint>('nextBlock', [], l1Block),
      this.read<Hex>('lastBatchHash', [], l1Block),
    ])
    return { nextIndex, nextBlock, lastBatchHash, l1Block }
  }

  /** Whether an inbox is deployed at the address (a clear error beats a revert without data). */
  async checkDeployed(): Promise<void> {
    let code: Hex | undefined
    try {
      code = await this.client.getCode({ address: this.address })
    } catch (error) {
      throw l1Error(`cannot reach the L1 (L1_RPC_URL): ${reasonLine(error)}`)
    }
    if (code === undefined || code === '0x') throw l1Error(`no contract at ${this.address} on the L1: is INBOX_ADDRESS (--inbox) right?`)
  }

  startStateRoot(): Promise<Hex> {
    return this.read<Hex>('startStateRoot')
  }

  /** Batch `index` as submitted (as of L1 block `toBlock`, or the latest), from its event; undefined when the L1 has no such batch (yet). */
  async batch(index: bigint, toBlock?: bigint): Promise<SubmittedBatch | undefined> {
    const logs = await this.client.getContractEvents({ address: this.address, abi: this.abi, eventName: 'BatchSubmitted', args: { index }, fromBlock: 0n, ...(toBlock === undefined ? {} : { toBlock }), strict: true } as never)
    const log = (logs as unknown as { args: InboxBatch & { batchHash: Hex }; blockNumber: bigint; transactionHash: Hex }[]).at(-1)
    if (log === undefined) return undefined
    const { index: i, firstBlock, lastBlock, postStateRoot, witnessCommitment, dataHash, previous, batchHash } = log.args
    return { index: i, firstBlock, lastBlock, postStateRoot, witnessCommitment, dataHash, previous, batchHash, l1Block: log.blockNumber, transactionHash: log.transactionHash }
  }

  /** Every frame posted for the data hashing to `dataHash`, calldata and blobs alike. */
  async frames(dataHash: Hex): Promise<Frame[]> {
    const logs = (await this.client.getContractEvents({ address: this.address, abi: this.abi, eventName: 'FramePosted', args: { dataHash }, fromBlock: 0n, strict: true } as never)) as unknown as {
      args: { batchIndex: bigint; dataHash: Hex; frameIndex: number; last: boolean; frameHash: Hex }
      blockNumber: bigint
      transactionHash: Hex
    }[]
    const frames: Frame[] = []
    const blobsByBlock = new Map<bigint, Promise<Map<string, Uint8Array>>>()
    for (const log of logs) {
      const tx = await this.client.getTransaction({ hash: log.transactionHash })
      let data: Uint8Array
      if (tx.type === 'eip4844') {
        const blobs = blobsByBlock.get(log.blockNumber) ?? this.blobsOf(log.blockNumber)
        blobsByBlock.set(log.blockNumber, blobs)
        const blob = (await blobs).get(log.args.frameHash)
        if (blob === undefined) throw l1Error(`the beacon API at ${this.beaconUrl} has no blob ${log.args.frameHash} of L1 block ${log.blockNumber}`)
        data = blob
      } else {
        const call = decodeFunctionData({ abi: this.abi, data: tx.input })
        if (call.functionName !== 'postFrame') continue
        // viem's decoder wrote this hex itself: whole bytes of hex digits.
        data = checkedHexToBytes((call.args as readonly unknown[])[4] as Hex)
      }
      frames.push({ batchIndex: log.args.batchIndex, dataHash: hexToBytes(log.args.dataHash), frameIndex: log.args.frameIndex, last: log.args.last, data })
    }
    return frames
  }

  /**
   * The blobs of L1 block `number`, by versioned hash, decoded back to frame bytes. The beacon
   * API lists a block's blobs in the order of its transactions' versioned hashes; each blob is
   * checked against its versioned hash (the KZG commitment computed from the blob), so a beacon
   * API cannot swap one in. Beacon blocks are found by their root, which the next execution
   * block carries (EIP-4788) — falling back to the execution block number for an L1 whose beacon
   * API keys blobs by it (anvil's).
   */
  private async blobsOf(number: bigint): Promise<Map<string, Uint8Array>> {
    if (this.beaconUrl === undefined) throw l1Error('blob frames need a beacon API: set L1_BEACON_URL')
    const block = await this.client.getBlock({ blockNumber: number, includeTransactions: true })
    const hashes = block.transactions.flatMap((tx) => (tx.type === 'eip4844' ? (tx.blobVersionedHashes ?? []) : []))
    const base = this.beaconUrl.replace(/\/$/, '')
    const child = await this.client.getBlock({ blockNumber: number + 1n }).catch(() => undefined)
    const root = child?.parentBeaconBlockRoot
    const ids = root !== undefined && root !== null && root !== zeroHash ? [root, number.toString()] : [number.toString()]
    let blobs: Hex[] | undefined
    for (const id of ids) {
      const { status, text } = await fetchText(`${base}/eth/v1/beacon/blobs/${id}`, {}, this.limits, `the beacon API at ${this.beaconUrl}`)
      if (status !== 200) continue
      try {
        blobs = (JSON.parse(text) as { data: Hex[] }).data
      } catch {
        throw new MosaicError('TRANSPORT', `the beacon API at ${this.beaconUrl} answered the blobs of block ${id} with something else than JSON`)
      }
      if (Array.isArray(blobs)) break
    }
    if (!Array.isArray(blobs)) throw new MosaicError('TRANSPORT', `the beacon API at ${this.beaconUrl} has no blobs for L1 block ${number}`)
    if (blobs.length !== hashes.length) throw new MosaicError('TRANSPORT', `the beacon API returned ${blobs.length} blobs for L1 block ${number}, which carries ${hashes.length}`)
    return new Map(
      hashes.map((hash, i) => {
        const blob = blobs[i]!
        const versioned = blobVersionedHash(blob)
        if (versioned !== hash) throw new MosaicError('TRANSPORT', `the beacon API's blob ${i} of L1 block ${number} hashes to ${versioned}, the L1 committed ${hash}`)
        return [hash, fromBlobs({ blobs: [blob], to: 'bytes' })]
      }),
    )
  }

  /**
   * Batch `index` read back from L1 and checked: frames reassembled against its data hash, the
   * last block's root equal to the committed post-state root, the witness hashes equal to the
   * committed witness commitment, and the pre-state root from the previous batch (or the
   * inbox's start root).
   */
  async readBatch(index: bigint): Promise<L1Batch> {
    const batch = await this.batch(index)
    if (batch === undefined) throw l1Error(`the inbox has no batch ${index}`)
    let content: BatchContent
    try {
      content = decodeBatchData(reassembleFrames(index, await this.frames(batch.dataHash), hexToBytes(batch.dataHash)), this.limits.batchBytes)
    } catch (error) {
      if (!(error instanceof MosaicError) || error.code === 'TRANSPORT' || error.code === 'L1') throw error
      throw badBatch(`batch ${index}'s data: ${error.shortMessage}`, error.code === 'LIMIT_EXCEEDED' ? 'batch.too-large' : 'batch.undecodable', error)
    }
    const count = batch.lastBlock - batch.firstBlock + 1n
    if (BigInt(content.blocks.length) !== count) throw badBatch(`batch ${index} covers blocks ${batch.firstBlock}–${batch.lastBlock} but its data holds ${content.blocks.length}`)
    if (!equalsBytes(content.stateRoots.at(-1)!, hexToBytes(batch.postStateRoot))) {
      throw badBatch(`batch ${index}'s data ends at root ${bytesToHex(content.stateRoots.at(-1)!)}, the inbox recorded ${batch.postStateRoot}`)
    }
    if (bytesToHex(witnessCommitment(content.witnessHashes)) !== batch.witnessCommitment) throw badBatch(`batch ${index}'s witness hashes do not match its witness commitment ${batch.witnessCommitment}`)
    const previous = index === 0n ? undefined : await this.batch(index - 1n)
    if (index > 0n && (previous === undefined || previous.batchHash !== batch.previous)) throw l1Error(`batch ${index}'s predecessor is not on the L1`)
    const preStateRoot = hexToBytes(previous === undefined ? await this.startStateRoot() : previous.postStateRoot)
    return { batch, content, preStateRoot }
  }
}

/** The event carrying a transaction's batch hash, for callers that just submitted it. */
export function submittedBatchHash(logs: readonly { data: Hex; topics: readonly Hex[] }[]): Hex | undefined {
  const abi = inboxArtifact().abi
  for (const log of logs) {
    try {
      const event = decodeEventLog({ abi, data: log.data, topics: log.topics as [Hex, ...Hex[]] }) as unknown as { eventName: string; args: { batchHash: Hex } }
      if (event.eventName === 'BatchSubmitted') return event.args.batchHash
    } catch {
      // another contract's log
    }
  }
  return undefined
}

export const GENESIS_PREVIOUS = zeroHash
