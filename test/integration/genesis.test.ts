/**
 * Block 0 of a data dir (issue 17, a large state): the first start computes the genesis root once,
 * in the commitment pipeline; a later start with the same genesis trusts block 0 by its genesis
 * digest instead of parsing the genesis and computing its root again; any other start computes the
 * root and compares the genesis hash, so an equal genesis written differently is accepted and
 * another genesis is refused, leaving the data dir as it was.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { bytesToHex } from '@ethereumjs/util'
import { createChainCommon } from '../../src/chain/common.ts'
import { genesisBlock, loadGenesisFile } from '../../src/chain/genesis.ts'
import { layoutOf } from '../../src/commitment/layout.ts'
import { computeStateRoot } from '../../src/commitment/root.ts'
import { loadConfig, type Config } from '../../src/config/config.ts'
import { openNode } from '../../src/node/node.ts'
import { tempDataDir } from './harness.ts'

const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'

/** A genesis with code, storage, nonces and header fields, and `extra` plain accounts. */
function genesisJSON(extra: number, chainId = 4242) {
  const alloc: Record<string, unknown> = {
    '0x00000000000000000000000000000000000000aa': { balance: '0x10', nonce: '0x3', code: '0x6001600055', storage: { '0x01': '0x02', '0x0f': '0xff' } },
    '0x00000000000000000000000000000000000000bb': { balance: '12345' },
  }
  for (let i = 0; i < extra; i++) alloc[`0x${(0x1000 + i).toString(16).padStart(40, '0')}`] = { balance: `0x${(i + 1).toString(16)}` }
  return { config: { chainId }, gasLimit: '0x1c9c380', baseFeePerGas: '0x7', timestamp: '0x10', extraData: '0xabcd', alloc }
}

describe('genesis and restarts', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  /** Start a sequencer on `dataDir` from `genesisFile`, read block 0, stop it; the log lines it wrote come back. */
  async function startOnce(dataDir: string, genesisFile: string, flags: string[] = []): Promise<{ hash: string; stateRoot: string; chainId: number; log: string[] }> {
    const config: Config = loadConfig({ argv: ['--data-dir', dataDir, '--genesis-file', genesisFile, '--fee-recipient', FEE_RECIPIENT, ...flags], env: {}, cwd: dataDir, mode: 'sequencer' })
    const log: string[] = []
    const node = await openNode(config, { log: (line) => log.push(line) })
    try {
      const block = node.chain.getBlock(0n)!
      return { hash: bytesToHex(block.hash), stateRoot: bytesToHex(block.block.header.stateRoot), chainId: Number(node.common.chainId()), log }
    } finally {
      await node.close()
    }
  }

  for (const flags of [[], ['--state-commitment', 'sharded', '--shard-nibbles', '1']]) {
    const layoutFlags = flags.length === 0 ? 'mpt' : 'sharded'
    it(`behavior (${layoutFlags}): block 0 commits to the genesis state, a restart trusts it by digest, another genesis is refused`, async () => {
      const dir = tempDataDir()
      dirs.push(dir)
      const dataDir = join(dir, 'data')
      const file = join(dir, 'genesis.json')
      const json = genesisJSON(300)
      writeFileSync(file, JSON.stringify(json))

      // First start: the pipeline's root is the root of the genesis state, computed independently.
      const first = await startOnce(dataDir, file, flags)
      const parsed = loadGenesisFile(file, { defaultChainId: 901, defaultGasLimit: 30_000_000n, defaultBaseFee: 1n })
      const layout = flags.length === 0 ? layoutOf('mpt', 0) : layoutOf('sharded', 1)
      const expected = genesisBlock(parsed, createChainCommon({ chainId: 4242, hardfork: 'prague' }), computeStateRoot(parsed.state, layout))
      assert.equal(first.stateRoot, bytesToHex(expected.block.header.stateRoot))
      assert.equal(first.hash, bytesToHex(expected.hash))
      assert.equal(first.chainId, 4242)
      assert.match(first.log.join('\n'), /initialised .* with genesis/)

      // The same file again: block 0 by digest, the chain id from the data dir.
      const again = await startOnce(dataDir, file, flags)
      assert.equal(again.hash, first.hash)
      assert.equal(again.chainId, 4242)
      assert.match(again.log.join('\n'), /resuming at block 0 .*genesis digest matches/)

      // The same genesis written differently: the root is computed again and matches; the new
      // digest is recorded, so the next start trusts it.
      writeFileSync(file, JSON.stringify(json, null, 2))
      const reformatted = await startOnce(dataDir, file, flags)
      assert.equal(reformatted.hash, first.hash)
      assert.match(reformatted.log.join('\n'), /genesis root recomputed/)
      assert.match((await startOnce(dataDir, file, flags)).log.join('\n'), /genesis digest matches/)

      // Another genesis (one account's balance changed) is refused, and the data dir is unchanged.
      const other = genesisJSON(300)
      ;(other.alloc['0x00000000000000000000000000000000000000bb'] as { balance: string }).balance = '12346'
      writeFileSync(file, JSON.stringify(other))
      await assert.rejects(startOnce(dataDir, file, flags), /holds a chain with genesis .* but the configured genesis is/)
      writeFileSync(file, JSON.stringify(json, null, 2))
      assert.match((await startOnce(dataDir, file, flags)).log.join('\n'), /genesis digest matches/)
    })
  }
})
