/**
 * The catalogue of lies (`lies.ts`, issue 12): an honest chain from a real node verifies (the
 * negative control), and each lie is caught at its block with its named reason. The README's
 * table of lies must be this catalogue.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, createAddressFromString } from '@ethereumjs/util'
import { type Hex, parseEther } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { loadConfig } from '../../src/config/config.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { verdictReasonOf } from '../../src/errors.ts'
import { ChainVerifier } from '../../src/verifier/chain.ts'
import { type ChainRules, chainRulesOf } from '../../src/verifier/rules.ts'
import { type RawBlockData, RpcSource } from '../../src/rpc/client.ts'
import { startNode, type TestNode } from '../integration/harness.ts'
import { type Chain, editWitness, LIED, LIES, liesTable } from './lies.ts'

const token = loadArtifact('MosaicToken')

/** Verify the chain from `from` the way `mosaic verifier --rpc --to` does; every failure, in order. */
async function failures(rules: ChainRules, chain: Chain, from = 1): Promise<{ block: number; reason: string }[]> {
  const source = {
    head: async () => BigInt(chain.length),
    raw: async (n: bigint) => chain[Number(n) - 1]!,
    rawBlock: async (n: bigint) => chain[Number(n) - 1]!.block,
    witness: async (n: bigint) => chain[Number(n) - 1]!.witness,
  }
  const reasonOf = (error: unknown) => verdictReasonOf(error) ?? `internal: ${(error as Error).message}`
  let verifier: ChainVerifier
  try {
    verifier = from === 1 ? ChainVerifier.fromGenesis(rules) : await ChainVerifier.fromHeaders(rules, source, BigInt(from))
  } catch (error) {
    return [{ block: Number(/block (\d+)/.exec((error as Error).message)?.[1] ?? -1), reason: reasonOf(error) }]
  }
  const found: { block: number; reason: string }[] = []
  for (const item of chain.slice(from - 1)) {
    try {
      const verdict = await verifier.verify(item)
      if (verdict.claimFailure !== undefined) found.push({ block: Number(item.number), reason: verdict.claimFailure.reason })
    } catch (error) {
      found.push({ block: Number(item.number), reason: reasonOf(error) })
    }
  }
  try {
    await verifier.confirmAnchor(source)
  } catch (error) {
    found.push({ block: from, reason: reasonOf(error) })
  }
  return found
}

/** The failure a lie is judged by: the first, or the one after the block `after`. */
async function firstFailure(rules: ChainRules, chain: Chain, from = 1, after = 0): Promise<{ block: number; reason: string } | undefined> {
  return (await failures(rules, chain, from)).find((f) => f.block > after)
}

describe('the catalogue of lies: each is caught at its block with its reason', { timeout: 240_000 }, () => {
  let node: TestNode
  let honest: RawBlockData[]
  let rules: ChainRules

  before(async () => {
    node = await startNode()
    const wallet = node.wallet(0)
    const wait = (hash: Hex) => node.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
    // Blocks 1–6: a transfer, a token deployment, then three-transaction blocks with a token call.
    await wait(await node.wallet(1).sendTransaction({ to: `0x${'aa'.repeat(20)}` as Hex, value: parseEther('1'), chain: null } as never))
    const deploy = await wallet.deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
    const address = (await wait(deploy)).contractAddress!
    for (let b = 0; b < 4; b++) {
      // Sealed together: the node seals every 50 ms, so send all three before waiting.
      await node.node.sequencer.stop()
      const hashes = [
        await wallet.writeContract({ address, abi: token.abi, functionName: 'transfer', args: [`0x${(0xb0b0 + b).toString(16).padStart(40, '0')}`, 10n], chain: null } as never),
        await node.wallet(1).sendTransaction({ to: `0x${(0xcafe + b).toString(16).padStart(40, '0')}` as Hex, value: 1n, chain: null } as never),
        await node.wallet(2).sendTransaction({ to: `0x${(0xbeef + b).toString(16).padStart(40, '0')}` as Hex, value: 1n, chain: null } as never),
      ]
      await node.node.sequencer.seal()
      for (const hash of hashes) await wait(hash)
    }
    node.node.sequencer.start()
    const head = await node.publicClient.getBlockNumber()
    const config = loadConfig({ argv: [], env: {}, cwd: process.cwd(), mode: 'verifier' })
    const base = chainRulesOf(config)
    rules = { ...base, limits: { ...base.limits, witnessBytes: 1024 * 1024 } }
    // The roots of the last blocks are computed behind the head: wait for them.
    await node.rpc('mosaic_getStateRoot', [`0x${head.toString(16)}`])
    const source = new RpcSource(node.url, rules.common)
    honest = []
    for (let n = 1n; n <= head; n++) honest.push(await source.raw(n))
    assert.ok(honest.length >= LIED + 2, `at least ${LIED + 2} blocks (got ${honest.length})`)
    assert.ok((RLP.decode(honest[LIED - 1]!.block) as unknown as Uint8Array[][])[1]!.length >= 3, `block ${LIED} has three transactions`)
  })

  after(async () => {
    await node?.stop()
  })

  it('behavior: the honest chain verifies from the genesis and from a --from (the negative control)', async () => {
    assert.equal(await firstFailure(rules, honest), undefined)
    assert.equal(await firstFailure(rules, honest, LIED), undefined)
    // A verifier of another chain (another fee recipient) fails the first block: the rules are its own.
    assert.deepEqual(await firstFailure({ ...rules, feeRecipient: createAddressFromString(`0x${'99'.repeat(20)}`) }, honest), { block: 1, reason: 'header.coinbase' })
  })

  it(`behavior: ${LIES.length} lies, each caught at its block with its named reason`, async (context) => {
    assert.ok(LIES.length >= 40, 'at least 40 lies')
    const missed: string[] = []
    for (const lie of LIES) {
      const lied = await lie.apply(honest, { rules, node })
      assert.notDeepEqual(lied, honest, `${lie.name}: the lie changes something`)
      const failure = await firstFailure(rules, lied, lie.from ?? 1, lie.after ?? 0)
      const reasons = typeof lie.reason === 'string' ? [lie.reason] : lie.reason
      if (failure === undefined || failure.block !== lie.caught || !reasons.includes(failure.reason)) {
        missed.push(`${lie.name}: expected block ${lie.caught} [${reasons.join(' | ')}], got ${failure === undefined ? 'accepted' : `block ${failure.block} [${failure.reason}]`}`)
      } else context.diagnostic(`${lie.name}: block ${failure.block} [${failure.reason}]`)
    }
    assert.deepEqual(missed, [])
  })

  it('behavior: the README’s table of lies is this catalogue', () => {
    assert.ok(readFileSync('README.md', 'utf8').includes(liesTable()), 'README.md holds the table liesTable() makes (regenerate it: npx tsx scripts/lies-table.ts)')
  })

  it('behavior: the witness hash the L1 commits to changes with any lie about the witness', () => {
    const w = honest[LIED - 1]!.witness
    assert.notEqual(bytesToHex(keccak256(w)), bytesToHex(keccak256(editWitness(honest, LIED, (x) => ({ ...x, keys: x.keys.slice(1) }))[LIED - 1]!.witness)))
  })
})
