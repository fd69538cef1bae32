/**
 * Block bundles: one JSON file per block (`block-<n>.json`) with everything `verifyBlock` needs —
 * what `mosaic verifier --export DIR` writes and `mosaic verifier --files DIR` verifies, with no
 * sequencer involved:
 *
 *   { "version": 1, "chainId": 901, "hardfork": "prague", "commitment": "mpt" | "sharded:<k>",
 *     "blockNumber": "0x…", "block": "0x<RLP>", "witness": "0x<binary witness>",
 *     "delta": "0x<binary delta>", "postStateRoot": "0x…" }
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createBlockFromRLP } from '@ethereumjs/block'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { type Layout, layoutName, layoutOf } from '../commitment/layout.ts'
import { MosaicError } from '../errors.ts'
import { decodeStateDelta, encodeStateDelta } from '../state/delta-codec.ts'
import { decodeWitness, encodeWitness, witnessHash } from '../witness/witness.ts'
import type { BlockSource, BlockToVerify } from './rpc-source.ts'

type BundleJSON = {
  version: 1
  chainId: number
  hardfork: string
  commitment: string
  blockNumber: string
  block: string
  witness: string
  delta: string
  postStateRoot: string
}

export function writeBundle(dir: string, item: BlockToVerify, chainId: number, hardfork: string, layout: Layout): void {
  const bundle: BundleJSON = {
    version: 1,
    chainId,
    hardfork,
    commitment: layoutName(layout),
    blockNumber: `0x${item.block.header.number.toString(16)}`,
    block: bytesToHex(item.block.serialize()),
    witness: bytesToHex(encodeWitness(item.witness)),
    delta: bytesToHex(encodeStateDelta(item.delta)),
    postStateRoot: bytesToHex(item.postStateRoot),
  }
  writeFileSync(join(dir, `block-${item.block.header.number}.json`), `${JSON.stringify(bundle)}\n`)
}

/** The bundles of a directory, as a block source. */
export class FileSource implements BlockSource {
  private readonly files = new Map<bigint, string>()
  readonly chainId: number
  readonly hardfork: string
  readonly layout: Layout

  constructor(readonly dir: string) {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch (error) {
      throw new MosaicError('CONFIG_INVALID', `Invalid VERIFY_FILES (--files): cannot read ${dir} (${(error as Error).message})`)
    }
    for (const name of names) {
      const match = /^block-(\d+)\.json$/.exec(name)
      if (match) this.files.set(BigInt(match[1]!), join(dir, name))
    }
    if (this.files.size === 0) throw new MosaicError('CONFIG_INVALID', `Invalid VERIFY_FILES (--files): no block-<n>.json bundles in ${dir}`)
    const first = this.read(this.first)
    this.chainId = first.chainId
    this.hardfork = first.hardfork
    const [mode, k] = first.commitment.split(':')
    this.layout = layoutOf(mode === 'sharded' ? 'sharded' : 'mpt', Number(k ?? 3))
  }

  get first(): bigint {
    return [...this.files.keys()].reduce((a, b) => (a < b ? a : b))
  }

  async head(): Promise<bigint> {
    return [...this.files.keys()].reduce((a, b) => (a > b ? a : b))
  }

  private read(n: bigint): BundleJSON {
    const path = this.files.get(n)
    if (path === undefined) throw new MosaicError('NOT_FOUND', `no bundle for block ${n} in ${this.dir}`)
    let bundle: BundleJSON
    try {
      bundle = JSON.parse(readFileSync(path, 'utf8')) as BundleJSON
    } catch (error) {
      throw new MosaicError('WITNESS_INVALID', `${path} is not a block bundle: ${(error as Error).message}`)
    }
    if (bundle.version !== 1) throw new MosaicError('WITNESS_INVALID', `${path}: unknown bundle version ${String(bundle.version)}`)
    return bundle
  }

  /** The root after block `n`: its bundle's claim, or for the block before the first bundle, the first witness's pre-state root. */
  async stateRoot(n: bigint): Promise<Uint8Array> {
    if (!this.files.has(n) && this.files.has(n + 1n)) return (await this.fetch(n + 1n)).witness.preStateRoot
    return hexToBytes(this.read(n).postStateRoot as `0x${string}`)
  }

  async witness(n: bigint): Promise<Uint8Array> {
    return hexToBytes(this.read(n).witness as `0x${string}`)
  }

  async fetch(n: bigint): Promise<BlockToVerify> {
    const bundle = this.read(n)
    const common = createChainCommon({ chainId: bundle.chainId, hardfork: bundle.hardfork })
    const witnessBytes = hexToBytes(bundle.witness as `0x${string}`)
    return {
      block: createBlockFromRLP(hexToBytes(bundle.block as `0x${string}`), { common, setHardfork: false }),
      witness: decodeWitness(witnessBytes),
      witnessHash: witnessHash(witnessBytes),
      delta: decodeStateDelta(hexToBytes(bundle.delta as `0x${string}`)),
      postStateRoot: hexToBytes(bundle.postStateRoot as `0x${string}`),
    }
  }
}
