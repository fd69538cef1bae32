/**
 * The devnet's funded accounts: the first ten of the standard test mnemonic, the same accounts
 * anvil and Hardhat print (BIP-44 path m/44'/60'/0'/0/i).
 */
import { bytesToHex } from '@ethereumjs/util'
import { mnemonicToAccount } from 'viem/accounts'

export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
export const DEV_ACCOUNT_COUNT = 10
/** 10,000 ETH each, as anvil funds them. */
export const DEV_ACCOUNT_BALANCE = 10_000n * 10n ** 18n

export type DevAccount = { address: `0x${string}`; privateKey: `0x${string}` }

export function deriveDevAccounts(count = DEV_ACCOUNT_COUNT, mnemonic = DEV_MNEMONIC): DevAccount[] {
  return Array.from({ length: count }, (_, addressIndex) => {
    const account = mnemonicToAccount(mnemonic, { addressIndex })
    const privateKey = account.getHdKey().privateKey
    if (privateKey === null) throw new Error('HD key without private key')
    return { address: account.address, privateKey: bytesToHex(privateKey) as `0x${string}` }
  })
}
