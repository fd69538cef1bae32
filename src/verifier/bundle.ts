/**
 * Block bundles: one JSON file per block (`block-<n>.json`) with everything `verifyBlock` needs —
 * what `mosaic verifier --export DIR` writes and `mosaic verifier --files DIR` verifies, with no
 * sequencer involved:
 *
 *   { "version": 1, "chainId": 901, "hardfork": "prague", "commitment": "mpt" | "sharded:<k>",
 *     "blockNumber": "0x…", "block": "0x<RLP>", "witness": "0x<binary witness>",
 *     "delta": "0x<binary delta>", "postStateRoot": "0x…" }
 *
 * The chain a bundle names must be the verifier's own (its configuration and genesis): bundles
 * carry blocks, never chain rules.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hexToBytes, isHexString } from '@ethereumjs/util'
import { type Layout, layoutName } from '../commitment/layout.ts'
import { MosaicError, VerificationError } from '../errors.ts'
import type { BlockSource, RawBlockData } from '../rpc/client.ts'
import { bytesToHex } from '../utils/hex.ts'

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

export type BundleChain = { readonly chainId: number; readonly hardfork: string; readonly layout: Layout }

export function writeBundle(dir: string, item: RawBlockData, chain: BundleChain): void {
  const bundle: BundleJSON = {
    version: 1,
    chainId: chain.chainId,
    hardfork: chain.hardfork,
    commitment: layoutName(chain.layout),
    blockNumber: `0x${item.number.toString(16)}`,
    block: bytesToHex(item.block),
    witness: bytesToHex(item.witness),
    delta: item.delta === undefined ? '0x' : bytesToHex(item.delta),
    postStateRoot: item.postStateRoot === undefined ? '0x' : bytesToHex(item.postStateRoot),
  }
  writeFileSync(join(dir, `block-${item.number}.json`), `${JSON.stringify(bundle)}\n`)
}

/** The bundles of a directory, as a block source. */
export class FileSource implements BlockSource {
  private readonly files = new Map<bigint, string>()

  constructor(
    readonly dir: string,
    private readonly chain: BundleChain,
    /** Largest bundle read, in bytes. */
    private readonly maxBytes: number,
  ) {
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
  }

  get first(): bigint {
    return [...this.files.keys()].reduce((a, b) => (a < b ? a : b))
  }

  async head(): Promise<bigint> {
    return [...this.files.keys()].reduce((a, b) => (a > b ? a : b))
  }

  private read(n: bigint): BundleJSON {
    const path = this.files.get(n)
    if (path === undefined) throw new MosaicError('TRANSPORT', `no bundle for block ${n} in ${this.dir}`)
    const size = statSync(path).size
    if (size > this.maxBytes) throw new VerificationError('witness.too-large', `${path} is ${size} bytes, over the limit of ${this.maxBytes} (VERIFY_MAX_RESPONSE_BYTES)`)
    let bundle: BundleJSON
    try {
      bundle = JSON.parse(readFileSync(path, 'utf8')) as BundleJSON
    } catch (error) {
      throw new VerificationError('block.undecodable', `${path} is not a block bundle: ${(error as Error).message}`)
    }
    if (typeof bundle !== 'object' || bundle === null || bundle.version !== 1) throw new VerificationError('block.undecodable', `${path}: not a version 1 block bundle`)
    const { chainId, hardfork, layout } = this.chain
    if (bundle.chainId !== chainId || bundle.hardfork !== hardfork || bundle.commitment !== layoutName(layout)) {
      throw new MosaicError(
        'CONFIG_INVALID',
        `${path} is a block of chain ${bundle.chainId} (${bundle.hardfork}, ${bundle.commitment}), but this verifier checks chain ${chainId} (${hardfork}, ${layoutName(layout)}): configure the chain's CHAIN_ID, GENESIS_FILE, HARDFORK and STATE_COMMITMENT`,
      )
    }
    return bundle
  }

  private bytes(n: bigint, field: keyof BundleJSON): Uint8Array {
    const value = this.read(n)[field]
    if (typeof value !== 'string' || !isHexString(value) || value.length % 2 !== 0) throw new VerificationError('block.undecodable', `the bundle of block ${n}: ${field} is not hex bytes`)
    return hexToBytes(value as `0x${string}`)
  }

  async witness(n: bigint): Promise<Uint8Array> {
    return this.bytes(n, 'witness')
  }

  async rawBlock(n: bigint): Promise<Uint8Array> {
    return this.bytes(n, 'block')
  }

  async raw(n: bigint): Promise<RawBlockData> {
    const delta = this.bytes(n, 'delta')
    const postStateRoot = this.bytes(n, 'postStateRoot')
    return {
      number: n,
      block: this.bytes(n, 'block'),
      witness: this.bytes(n, 'witness'),
      ...(delta.length > 0 ? { delta } : {}),
      ...(postStateRoot.length > 0 ? { postStateRoot } : {}),
    }
  }
}
