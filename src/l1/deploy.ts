/**
 * Deploying the inbox (the devnet does it on its anvil; an operator does it once per chain).
 */
import { type Address, createWalletClient, type Hex, http, type PrivateKeyAccount, type PublicClient } from 'viem'
import { MosaicError } from '../errors.ts'
import { inboxArtifact } from './inbox.ts'

export type DeployInboxParameters = {
  readonly client: PublicClient
  readonly url: string
  readonly account: PrivateKeyAccount
  /** The only account that may submit batches. */
  readonly sequencer: Address
  /** The first block the first batch covers, and the root of the block before it. */
  readonly firstBlock: bigint
  readonly startStateRoot: Hex
}

export async function deployInbox({ client, url, account, sequencer, firstBlock, startStateRoot }: DeployInboxParameters): Promise<Address> {
  const { abi, bytecode } = inboxArtifact()
  const chainId = await client.getChainId()
  const wallet = createWalletClient({ account, transport: http(url), chain: { id: chainId, name: 'L1', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [url] } } } })
  const hash = await wallet.deployContract({ abi, bytecode, args: [sequencer, firstBlock, startStateRoot] })
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100 })
  if (receipt.status !== 'success' || receipt.contractAddress == null) throw new MosaicError('L1', `deploying the inbox failed in transaction ${hash}`)
  return receipt.contractAddress
}
