/**
 * Reading the L1 inbox (`contracts/Inbox.sol`) with viem: its state, each batch's commitments
 * from its `BatchSubmitted` event, and each batch's data from its frames — calldata of
 * `postFrame` calls, or blobs of `postBlobFrames` transactions fetched from a beacon API
 * (`GET /eth/v1/beacon/blobs/{block}`, which anvil serves on its RPC port).
 */
import { bytesToHex, equalsBytes, hexToBytes } from '@ethereumjs/util'
import { type Address, decodeEventLog, decodeFunctionData, fromBlobs, type Hex, type PublicClient, zeroHash } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { MosaicError } from '../errors.ts'
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
function badBatch(message: string): MosaicError {
  return new MosaicError('VERIFICATION_FAILED', message)
}

export class InboxReader {
  private readonly abi = inboxArtifact().abi

  constructor(
    readonly client: PublicClient,
    readonly address: Address,
    /** Beacon API base URL blobs are read from (anvil: its RPC URL). */
    readonly beaconUrl: string | undefined = undefined,
  ) {}

  private read<T>(functionName: string, args: readonly unknown[] = [], blockNumber?: bigint): Promise<T> {
    return this.client.readContract({ address: this.address, abi: this.abi, functionName, args, ...(blockNumber === undefined ? {} : { blockNumber }) } as never) as Promise<T>
  }

  /** The inbox's state at one L1 block: the latest, or the L1's finalized block. */
  async state(tag: 'latest' | 'finalized' = 'latest'): Promise<InboxState> {
    const l1Block = tag === 'latest' ? await this.client.getBlockNumber({ cacheTime: 0 }) : (await this.client.getBlock({ blockTag: 'finalized' })).number
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
      throw l1Error(`cannot reach the L1 (L1_RPC_URL): ${(error as Error).message.split('\n')[0]}`)
    }
    if (code === undefined || code === '0x') throw l1Error(`no contract at ${this.address} on the L1: is INBOX_ADDRESS (--inbox) right?`)
  }

  startStateRoot(): Promise<Hex> {
    return this.read<Hex>('startStateRoot')
  }

  /** Batch `index` as submitted, from its event; undefined when the L1 has no such batch (yet). */
  async batch(index: bigint): Promise<SubmittedBatch | undefined> {
    const logs = await this.client.getContractEvents({ address: this.address, abi: this.abi, eventName: 'BatchSubmitted', args: { index }, fromBlock: 0n, strict: true } as never)
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
        data = hexToBytes((call.args as readonly unknown[])[4] as Hex)
      }
      frames.push({ batchIndex: log.args.batchIndex, dataHash: hexToBytes(log.args.dataHash), frameIndex: log.args.frameIndex, last: log.args.last, data })
    }
    return frames
  }

  /**
   * The blobs of L1 block `number`, by versioned hash, decoded back to frame bytes. The beacon
   * API lists a block's blobs in the order of its transactions' versioned hashes.
   */
  private async blobsOf(number: bigint): Promise<Map<string, Uint8Array>> {
    if (this.beaconUrl === undefined) throw l1Error('blob frames need a beacon API: set L1_BEACON_URL')
    const block = await this.client.getBlock({ blockNumber: number, includeTransactions: true })
    const hashes = block.transactions.flatMap((tx) => (tx.type === 'eip4844' ? (tx.blobVersionedHashes ?? []) : []))
    let response: Response
    try {
      response = await fetch(`${this.beaconUrl.replace(/\/$/, '')}/eth/v1/beacon/blobs/${number}`)
    } catch (error) {
      throw l1Error(`cannot reach the beacon API at ${this.beaconUrl}: ${(error as Error).message}`)
    }
    if (!response.ok) throw l1Error(`the beacon API at ${this.beaconUrl} answered ${response.status} for the blobs of block ${number}`)
    const { data } = (await response.json()) as { data: Hex[] }
    if (data.length !== hashes.length) throw l1Error(`the beacon API returned ${data.length} blobs for L1 block ${number}, which carries ${hashes.length}`)
    return new Map(hashes.map((hash, i) => [hash, fromBlobs({ blobs: [data[i]!], to: 'bytes' })]))
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
    const data = reassembleFrames(index, await this.frames(batch.dataHash), hexToBytes(batch.dataHash))
    const content = decodeBatchData(data)
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
