/**
 * The ethereumjs `Common` every part of mosaic shares: the chain id, the hardfork (Prague by
 * default, the ethereumjs v10 default), mosaic's fast crypto (`crypto/crypto.ts`) and KZG for the
 * point-evaluation precompile (`crypto/kzg.ts`; without it a call to 0x0a throws out of the EVM).
 */
import { type Common, createCustomCommon, Mainnet } from '@ethereumjs/common'
import { paramsBlock } from '@ethereumjs/block'
import { paramsTx } from '@ethereumjs/tx'
import { customCrypto } from '../crypto/crypto.ts'
import { lazyKZG } from '../crypto/kzg.ts'

export type CreateChainCommonParameters = {
  chainId: number
  hardfork: string
}

export function createChainCommon({ chainId, hardfork }: CreateChainCommonParameters): Common {
  const common = createCustomCommon({ chainId, name: 'mosaic' }, Mainnet, { hardfork, customCrypto: { ...customCrypto, kzg: lazyKZG } })
  common.isActivatedEIP = isActivatedEIP
  return common
}

/** What `isActivatedEIP` reads: ethereumjs' list of the EIPs active at the hardfork, and our set of it. */
type ActivatedEIPs = { _activatedEIPsCache: readonly number[]; eipSetOf?: readonly number[]; eipSet?: ReadonlySet<number> }

/**
 * `Common.isActivatedEIP` is `includes` over the ~60 EIPs active at Prague, and the interpreter
 * asks it twice per opcode (EIP-6800 and EIP-7864, neither active, so both scan the whole list):
 * ~5% of an ERC-20 transfer in `bench:exec`. This answers from a `Set` of the same list. Common
 * rebuilds the list as a new array when the hardfork changes, so the set is rebuilt when the list
 * it was built from is no longer the one in place. It reads `this`, so the copies of a Common
 * (`copy()` copies own properties; every EVM and transaction works on one) answer from their own
 * list.
 */
function isActivatedEIP(this: Common, eip: number): boolean {
  const self = this as unknown as ActivatedEIPs
  const list = self._activatedEIPsCache
  if (self.eipSetOf !== list || self.eipSet === undefined) {
    self.eipSet = new Set(list)
    self.eipSetOf = list
  }
  return self.eipSet.has(eip)
}

/**
 * A `Common` for decoding transactions. Every ethereumjs tx constructor copies the Common it is
 * given and re-merges the tx parameters into the copy (a JSON round trip of every EIP's
 * parameters): ~35–150 µs per transaction, more than executing a transfer. This one already has
 * the tx parameters and hands out itself instead of copies; transactions only read it.
 */
export function txCommonFor(common: Common): Common {
  return sharedCommon(common, paramsTx, txCommons)
}

/**
 * The same for block headers (`paramsBlock`): the sequencer builds several per block (the
 * template, the sealed header, the pending view's), every block read back from the store decodes
 * one, and eth_call, traces and simulations build one or more per request. The copy and merge cost
 * ~0.3 ms each, more than a small call's execution. Every header of the chain's is built on it.
 */
export function blockCommonFor(common: Common): Common {
  return sharedCommon(common, paramsBlock, blockCommons)
}

const txCommons = new WeakMap<Common, Common>()
const blockCommons = new WeakMap<Common, Common>()

function sharedCommon(common: Common, params: Parameters<Common['updateParams']>[0], cache: WeakMap<Common, Common>): Common {
  const cached = cache.get(common)
  if (cached !== undefined) return cached
  const shared = common.copy()
  shared.updateParams(params)
  shared.copy = () => shared
  shared.updateParams = () => {}
  cache.set(common, shared)
  cache.set(shared, shared)
  return shared
}
