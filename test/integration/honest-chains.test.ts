/**
 * Honest chains are accepted (issue 12): a production sequencer on a genesis file with funded
 * accounts, a contract with storage and code, under both executors and both commitment modes,
 * produces blocks with transfers, a storage write, a deployment and token calls — sent as one
 * JSON-RPC batch so blocks hold many transactions, some conflicting — and `mosaic verifier`,
 * configured with the same chain, accepts every block over `--rpc` and again from the exported
 * `--files` (zero false failures). The negative control: the same verifier configured with
 * another fee recipient fails block 1.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { encodeDeployData, encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { rawRpc, startNode } from './harness.ts'
import { runVerifierProcess } from './proxy.ts'

const token = loadArtifact('MosaicToken')
const accounts = deriveDevAccounts()
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
/** PUSH1 1 PUSH1 0 SSTORE: a call writes slot 0. */
const STORE = '0x6001600055'
const STORE_AT = `0x${'c0de'.padStart(40, '0')}` as Hex
const ADMIN = { authorization: 'Bearer test-token' }

function genesisFile(dir: string): string {
  const alloc: Record<string, unknown> = Object.fromEntries(accounts.map((a) => [a.address, { balance: '0x21e19e0c9bab2400000' }]))
  alloc[STORE_AT] = { code: STORE, storage: { '0x01': '0x02', '0x05': '0x0a' } }
  const path = join(dir, 'genesis.json')
  writeFileSync(path, JSON.stringify({ config: { chainId: 901 }, alloc }))
  return path
}

/** Three blocks of one JSON-RPC batch each: transfers (some between senders), a storage write, a deployment, token calls. */
async function produce(url: string): Promise<bigint> {
  const nonces = accounts.map(() => 0)
  const sign = (i: number, tx: { to?: Hex; data?: Hex; value?: bigint; gas?: bigint }) =>
    privateKeyToAccount(accounts[i]!.privateKey).signTransaction({ chainId: 901, type: 'eip1559', nonce: nonces[i]!++, value: 0n, gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n, ...tx })
  const tokenAddress = `0x${(await import('viem')).getContractAddress({ from: accounts[0]!.address as Hex, nonce: 0n }).slice(2)}` as Hex
  const rounds: Promise<Hex>[][] = [
    [sign(0, { data: encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n] }), gas: 3_000_000n }), ...accounts.slice(1).map((_, i) => sign(i + 1, { to: accounts[(i + 2) % accounts.length]!.address as Hex, value: 1000n + BigInt(i) }))],
    [sign(0, { to: tokenAddress, data: encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [accounts[1]!.address, 5n] }), gas: 200_000n }), sign(1, { to: STORE_AT, gas: 100_000n }), ...accounts.slice(2).map((_, i) => sign(i + 2, { to: `0x${(0xa0 + i).toString(16).padStart(40, '0')}` as Hex, value: 7n }))],
    [sign(0, { to: tokenAddress, data: encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [accounts[2]!.address, 3n] }), gas: 200_000n }), sign(3, { to: FEE_RECIPIENT, value: 1n }), sign(4, { to: STORE_AT, gas: 100_000n })],
  ]
  for (const round of rounds) {
    const raws = await Promise.all(round)
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(raws.map((raw, id) => ({ jsonrpc: '2.0', id, method: 'eth_sendRawTransaction', params: [raw] }))) })
    const answers = (await response.json()) as { error?: unknown }[]
    for (const answer of answers) assert.equal(answer.error, undefined, JSON.stringify(answer.error))
    const sealed = await rawRpc(url, 'admin_sealBlock', [], ADMIN)
    assert.ok(sealed.result !== undefined, JSON.stringify(sealed.error))
  }
  const head = BigInt((await rawRpc(url, 'eth_blockNumber')).result as string)
  // Wait until the root of the head is computed (the verifier checks it).
  await rawRpc(url, 'mosaic_getStateRoot', [`0x${head.toString(16)}`])
  return head
}

describe('honest chains are accepted in every configuration', { timeout: 300_000 }, () => {
  for (const executor of ['sequential', 'parallel'] as const) {
    for (const mode of ['mpt', 'sharded'] as const) {
      it(`behavior: ${executor} executor, ${mode} commitment — mosaic verifier accepts every block over --rpc and from --files`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'mosaic-honest-'))
        const chainFlags = ['--genesis-file', genesisFile(dir), '--fee-recipient', FEE_RECIPIENT, '--state-commitment', mode, '--shard-nibbles', '2']
        const t = await startNode([...chainFlags, '--executor', executor, '--executor-threads', '2', '--block-time-ms', '100000'], { mode: 'sequencer' })
        try {
          const head = await produce(t.url)
          assert.equal(head, 3n)
          const bundles = join(dir, 'bundles')
          const overRpc = await runVerifierProcess(['--rpc', t.url, '--from', '1', '--to', String(head), '--export', bundles, ...chainFlags])
          assert.equal(overRpc.code, 0, overRpc.output)
          assert.match(overRpc.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))
          const fromFiles = await runVerifierProcess(['--files', bundles, ...chainFlags])
          assert.equal(fromFiles.code, 0, fromFiles.output)
          assert.match(fromFiles.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))
          if (executor === 'sequential' && mode === 'mpt') {
            // Negative control: the verifier's own rules decide; another fee recipient fails block 1.
            const other = chainFlags.map((flag) => (flag === FEE_RECIPIENT ? `0x${'99'.repeat(20)}` : flag))
            const wrong = await runVerifierProcess(['--rpc', t.url, '--from', '1', '--to', String(head), ...other])
            assert.equal(wrong.code, 1, wrong.output)
            assert.match(wrong.output, /block 1 FAILED \[header\.coinbase\]/)
          }
        } finally {
          await t.stop()
          rmSync(dir, { recursive: true, force: true })
        }
      })
    }
  }
})
