/**
 * The ethereumjs `Common` every part of mosaic shares: the chain id, the hardfork (Prague by
 * default, the ethereumjs v10 default) and mosaic's fast crypto (`crypto/crypto.ts`).
 */
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import { customCrypto } from '../crypto/crypto.ts'

export type CreateChainCommonParameters = {
  chainId: number
  hardfork: string
}

export function createChainCommon({ chainId, hardfork }: CreateChainCommonParameters): Common {
  return createCustomCommon({ chainId, name: 'mosaic' }, Mainnet, { hardfork, customCrypto })
}
