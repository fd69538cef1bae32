/**
 * Sends the poster's L1 transactions one at a time from one account, the way the OP Stack's
 * txmgr does: the nonce is the account's confirmed count (so a transaction left pending by a
 * crashed run is replaced, not queued behind); a transaction not mined within `resendAfterMs` is
 * re-signed with the same nonce and fees bumped by 12.5% (geth requires +10% to replace; +100%
 * for the blob fee of a blob transaction) until one of the versions is mined; a mined one is
 * returned after `confirmations` blocks, and only if it is still in the chain then (an L1 reorg
 * that dropped it is an error the caller retries).
 */
import type { Common } from '@ethereumjs/common'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { hexToBytes } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import {
  type Address,
  type BlobSidecars,
  blobsToCommitments,
  blobsToProofs,
  commitmentsToVersionedHashes,
  type Hex,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
  toBlobSidecars,
  toBlobs,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createChainCommon, txCommonFor } from '../chain/common.ts'
import { viemKZG } from '../crypto/kzg.ts'
import { MosaicError } from '../errors.ts'

export type L1Request = {
  readonly to: Address
  readonly data: Hex
  /** Blob contents (each at most one blob's capacity, viem's blob encoding) for a type-3 transaction. */
  readonly blobs?: readonly Uint8Array[]
}

export type L1SenderOptions = {
  readonly client: PublicClient
  /** The poster's key: it signs every L1 transaction. */
  readonly privateKey: Hex
  readonly chainId: number
  /** Blocks on top of the including one before a transaction counts (1: once mined). */
  readonly confirmations: number
  readonly resendAfterMs: number
  readonly log?: (message: string) => void
}

export type SenderStats = { sent: number; replaced: number; mined: number; gasUsed: bigint; blobGasUsed: bigint }

/** One blob holding `content` (viem's blob encoding, which `fromBlobs` reverses). */
function toBlob(content: Uint8Array): Hex {
  const blobs = toBlobs({ data: bytesToHex(content) })
  if (blobs.length !== 1) throw new MosaicError('LIMIT_EXCEEDED', `a blob frame of ${content.length} bytes does not fit one blob`)
  return blobs[0]!
}

/** The fields of an EIP-1559 L1 transaction the sender signs. */
export type FeeMarketFields = { readonly nonce: number; readonly to: Address; readonly data: Hex; readonly gas: bigint; readonly maxFeePerGas: bigint; readonly maxPriorityFeePerGas: bigint }

/**
 * An EIP-1559 transaction signed through ethereumjs with the node's crypto (hash-wasm keccak,
 * native secp256k1): the same bytes as viem's `signTransaction` (RFC 6979 signatures are
 * deterministic), which hashes a frame of calldata with a JavaScript keccak and hex conversions —
 * ~40 ms for one frame on the sequencer's thread in the devnet's profile, long enough to hold up
 * mini-batches and their preconfirmations.
 */
export function signFeeMarketTx(common: Common, key: Uint8Array, { nonce, to, data, gas, maxFeePerGas, maxPriorityFeePerGas }: FeeMarketFields): Hex {
  const tx = createFeeMarket1559Tx({ chainId: common.chainId(), nonce: BigInt(nonce), to, data: hexToBytes(data), gasLimit: gas, maxFeePerGas, maxPriorityFeePerGas, value: 0n }, { common })
  return bytesToHex(tx.sign(key).serialize()) as Hex
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const bump = (value: bigint, num: bigint, den: bigint) => (value * num) / den + 1n
const MAX_REPLACEMENTS = 20

export class L1Sender {
  readonly stats: SenderStats = { sent: 0, replaced: 0, mined: 0, gasUsed: 0n, blobGasUsed: 0n }
  private readonly pollMs: number
  private readonly account: PrivateKeyAccount
  private readonly key: Uint8Array
  /** The L1's chain for ethereumjs, with the node's crypto. */
  private readonly txCommon: Common

  constructor(private readonly options: L1SenderOptions) {
    this.pollMs = Math.max(20, Math.min(1000, Math.floor(options.resendAfterMs / 20)))
    this.account = privateKeyToAccount(options.privateKey)
    this.key = hexToBytes(options.privateKey)
    this.txCommon = txCommonFor(createChainCommon({ chainId: options.chainId, hardfork: 'prague' }))
  }

  get address(): Address {
    return this.account.address
  }

  /** Send one transaction and resolve with its receipt once confirmed; throws when it reverted or was reorged out. */
  async send(request: L1Request, label: string): Promise<TransactionReceipt> {
    const { client, chainId, resendAfterMs, log = () => {} } = this.options
    const account = this.account
    let sidecars: BlobSidecars<Hex> | undefined
    let blobVersionedHashes: readonly Hex[] | undefined
    if (request.blobs !== undefined) {
      // KZG commitments and proofs once per transaction, not per replacement (~2 s a blob).
      const blobs = request.blobs.map(toBlob)
      const commitments = blobsToCommitments({ blobs, kzg: viemKZG, to: 'hex' })
      sidecars = toBlobSidecars({ blobs, commitments, proofs: blobsToProofs({ blobs, commitments, kzg: viemKZG, to: 'hex' }) })
      blobVersionedHashes = commitmentsToVersionedHashes({ commitments, to: 'hex' })
    }
    const nonce = await client.getTransactionCount({ address: account.address, blockTag: 'latest' })
    const estimate = await client.estimateGas({ account: account.address, to: request.to, data: request.data, ...(blobVersionedHashes === undefined ? {} : { blobVersionedHashes }) } as never)
    const gas = (estimate * 6n) / 5n
    let { maxFeePerGas, maxPriorityFeePerGas } = await client.estimateFeesPerGas()
    let maxFeePerBlobGas = sidecars === undefined ? undefined : (await client.getBlobBaseFee()) * 2n + 1n
    const sent: Hex[] = []
    for (let round = 0; round <= MAX_REPLACEMENTS; round++) {
      const raw =
        sidecars === undefined
          ? signFeeMarketTx(this.txCommon, this.key, { nonce, to: request.to, data: request.data, gas, maxFeePerGas: maxFeePerGas!, maxPriorityFeePerGas: maxPriorityFeePerGas! })
          : await account.signTransaction({ chainId, nonce, to: request.to, data: request.data, gas, maxFeePerGas, maxPriorityFeePerGas, type: 'eip4844', sidecars, blobVersionedHashes: blobVersionedHashes!, maxFeePerBlobGas: maxFeePerBlobGas! } as never)
      let bumpNow = false
      try {
        sent.push(await client.request({ method: 'eth_sendRawTransaction', params: [raw] }))
        this.stats.sent++
      } catch (error) {
        const message = (error as Error).message
        if (/nonce too low/i.test(message)) {
          // One of the versions already sent may have been mined meanwhile; otherwise the nonce
          // was used by a transaction this run does not know: start over with a fresh one.
          const mined = await this.minedReceipt(sent)
          if (mined !== undefined) return this.confirm(mined, label)
          throw new MosaicError('L1', `${label}: nonce ${nonce} was used by another transaction; retrying with a fresh nonce`)
        }
        if (/underpriced|replacement|fee too low/i.test(message)) bumpNow = true
        else if (!/already known/i.test(message)) throw new MosaicError('L1', `${label}: the L1 refused the transaction: ${message.split('\n')[0]}`, { cause: error })
      }
      if (!bumpNow) {
        const receipt = await this.waitMined(sent, resendAfterMs)
        if (receipt !== undefined) return this.confirm(receipt, label)
      }
      // Not mined in time (or refused as underpriced): replace it at higher fees.
      const current = await client.estimateFeesPerGas()
      maxPriorityFeePerGas = [bump(maxPriorityFeePerGas!, 9n, 8n), current.maxPriorityFeePerGas].reduce((a, b) => (a > b ? a : b))
      maxFeePerGas = [bump(maxFeePerGas!, 9n, 8n), current.maxFeePerGas, maxPriorityFeePerGas].reduce((a, b) => (a > b ? a : b))
      if (maxFeePerBlobGas !== undefined) maxFeePerBlobGas = bump(maxFeePerBlobGas, 2n, 1n)
      this.stats.replaced++
      log(`${label}: nonce ${nonce} not mined after ${resendAfterMs} ms; replacing it at max fee ${maxFeePerGas} wei/gas (tip ${maxPriorityFeePerGas})`)
    }
    throw new MosaicError('L1', `${label}: not mined after ${MAX_REPLACEMENTS} fee bumps`)
  }

  /** The receipt of whichever sent version is mined, if any. */
  private async minedReceipt(hashes: readonly Hex[]): Promise<TransactionReceipt | undefined> {
    for (const hash of hashes) {
      try {
        return await this.options.client.getTransactionReceipt({ hash })
      } catch {
        // not mined (yet)
      }
    }
    return undefined
  }

  private async waitMined(hashes: readonly Hex[], ms: number): Promise<TransactionReceipt | undefined> {
    const deadline = Date.now() + ms
    for (;;) {
      const receipt = await this.minedReceipt(hashes)
      if (receipt !== undefined || Date.now() >= deadline) return receipt
      await sleep(this.pollMs)
    }
  }

  /** Wait for the confirmations, then check the transaction is still where it was mined. */
  private async confirm(receipt: TransactionReceipt, label: string): Promise<TransactionReceipt> {
    const { client, confirmations } = this.options
    while ((await client.getBlockNumber({ cacheTime: 0 })) < receipt.blockNumber + BigInt(confirmations) - 1n) await sleep(this.pollMs)
    const again = await this.minedReceipt([receipt.transactionHash])
    if (again === undefined || again.blockHash !== receipt.blockHash) throw new MosaicError('L1', `${label}: transaction ${receipt.transactionHash} was dropped by an L1 reorg before ${confirmations} confirmation(s)`)
    if (again.status !== 'success') throw new MosaicError('L1', `${label}: transaction ${again.transactionHash} reverted in L1 block ${again.blockNumber}`)
    this.stats.mined++
    this.stats.gasUsed += again.gasUsed
    this.stats.blobGasUsed += again.blobGasUsed ?? 0n
    return again
  }
}
