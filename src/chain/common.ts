/**
 * The ethereumjs `Common` every part of mosaic shares: the chain id, the hardfork (Prague by
 * default, the ethereumjs v10 default), mosaic's fast crypto (`crypto/crypto.ts`) and KZG for the
 * point-evaluation precompile (`crypto/kzg.ts`; without it a call to 0x0a throws out of the EVM).
 */
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import { paramsTx } from '@ethereumjs/tx'
import { customCrypto } from '../crypto/crypto.ts'
import { lazyKZG } from '../crypto/kzg.ts'

export type CreateChainCommonParameters = {
  chainId: number
  hardfork: string
}

export function createChainCommon({ chainId, hardfork }: CreateChainCommonParameters): Common {
  return createCustomCommon({ chainId, name: 'mosaic' }, Mainnet, { hardfork, customCrypto: { ...customCrypto, kzg: lazyKZG } })
}

/**
 * A `Common` for decoding transactions. Every ethereumjs tx constructor copies the Common it is
 * given and re-merges the tx parameters into the copy (a JSON round trip of every EIP's
 * parameters): ~35–150 µs per transaction, more than executing a transfer. This one already has
 * the tx parameters and hands out itself instead of copies; transactions only read it.
 */
export function txCommonFor(common: Common): Common {
  const cached = txCommons.get(common)
  if (cached !== undefined) return cached
  const shared = common.copy()
  shared.updateParams(paramsTx)
  shared.copy = () => shared
  shared.updateParams = () => {}
  txCommons.set(common, shared)
  txCommons.set(shared, shared)
  return shared
}

const txCommons = new WeakMap<Common, Common>()
