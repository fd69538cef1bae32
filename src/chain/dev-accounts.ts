/**
 * The devnet's funded accounts: the first ten of the standard test mnemonic, the same accounts
 * anvil and Hardhat print (BIP-44 path m/44'/60'/0'/0/i).
 */
import { privateToAddress, toChecksumAddress } from '@ethereumjs/util'
import { mnemonicToSeedSync } from 'ethereum-cryptography/bip39/index.js'
import { HDKey } from 'ethereum-cryptography/hdkey.js'
import { bytesToHex } from '../utils/hex.ts'

export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
export const DEV_ACCOUNT_COUNT = 10
/** 10,000 ETH each, as anvil funds them. */
export const DEV_ACCOUNT_BALANCE = 10_000n * 10n ** 18n

export type DevAccount = { address: `0x${string}`; privateKey: `0x${string}` }

export function deriveDevAccounts(count = DEV_ACCOUNT_COUNT, mnemonic = DEV_MNEMONIC): DevAccount[] {
  // BIP-39 seed, BIP-32 keys (ethereum-cryptography, not viem: the node loads no viem unless it has an L1).
  const root = HDKey.fromMasterSeed(mnemonicToSeedSync(mnemonic))
  return Array.from({ length: count }, (_, addressIndex) => {
    const privateKey = root.derive(`m/44'/60'/0'/0/${addressIndex}`).privateKey
    if (privateKey === null) throw new Error('HD key without private key')
    const address = toChecksumAddress(bytesToHex(privateToAddress(privateKey))) as `0x${string}`
    return { address, privateKey: bytesToHex(privateKey) as `0x${string}` }
  })
}
