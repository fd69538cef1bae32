/**
 * Honest chains are accepted (issue 12): a production sequencer on a genesis file — one funded
 * account; ten with a contract's code and storage; ten thousand accounts —, under both executors
 * and both commitment modes,
 * produces blocks with transfers, a storage write, a deployment and token calls — sent as one
 * JSON-RPC batch so blocks hold many transactions, some conflicting — and `mosaic verifier`,
 * configured with the same chain, accepts every block over `--rpc` and again from the exported
 * `--files` (zero false failures), and, for two of the configurations, from the batches on an L1
 * (`--l1`, anvil). The negative control: the same verifier configured with
 * another fee recipient fails block 1.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { encodeDeployData, encodeFunctionData, getContractAddress, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { startAnvil } from '../../src/l1/anvil.ts'
import { connectL1 } from '../../src/node/l1.ts'
import { openQueues } from '../../src/queue/open.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'
import { readerFor, waitFor } from './l1-harness.ts'
import { runVerifierProcess } from './proxy.ts'

const token = loadArtifact('MosaicToken')
const accounts = deriveDevAccounts()
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
/** PUSH1 1 PUSH1 0 SSTORE: a call writes slot 0. */
const STORE = '0x6001600055'
const STORE_AT = `0x${'c0de'.padStart(40, '0')}` as Hex
const ADMIN = { authorization: 'Bearer test-token' }

/** The genesis shapes: one funded account; ten with a contract's code and storage; ten thousand. */
const SHAPES = {
  'one account': { funded: 1, fillers: 0 },
  'ten accounts, code and storage': { funded: accounts.length, fillers: 0 },
  '10,000 accounts': { funded: accounts.length, fillers: 10_000 - accounts.length },
} as const
type Shape = keyof typeof SHAPES

function genesisFile(dir: string, shape: Shape): string {
  const { funded, fillers } = SHAPES[shape]
  const alloc: Record<string, unknown> = Object.fromEntries(accounts.slice(0, funded).map((a) => [a.address, { balance: '0x21e19e0c9bab2400000' }]))
  for (let i = 0; i < fillers; i++) alloc[`0x${(0x100000 + i).toString(16).padStart(40, '0')}`] = { balance: `0x${(i + 1).toString(16)}`, nonce: i % 3 }
  if (shape !== 'one account') alloc[STORE_AT] = { code: STORE, storage: { '0x01': '0x02', '0x05': '0x0a' } }
  const path = join(dir, 'genesis.json')
  writeFileSync(path, JSON.stringify({ config: { chainId: 901 }, alloc }))
  return path
}

/**
 * Three blocks of one JSON-RPC batch each, from the `funded` first dev accounts: a deployment and
 * transfers (some between senders), token calls, storage writes, payments to new addresses and to
 * the fee recipient.
 */
async function produce(url: string, funded: number): Promise<bigint> {
  const nonces = accounts.map(() => 0)
  const from = (i: number) => i % funded
  const sign = (i: number, tx: { to?: Hex; data?: Hex; value?: bigint; gas?: bigint }) =>
    privateKeyToAccount(accounts[from(i)]!.privateKey).signTransaction({ chainId: 901, type: 'eip1559', nonce: nonces[from(i)]!++, value: 0n, gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n, ...tx })
  const tokenAddress = getContractAddress({ from: accounts[0]!.address as Hex, nonce: 0n })
  const others = accounts.slice(1, Math.max(2, funded))
  const rounds: Promise<Hex>[][] = [
    [sign(0, { data: encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n] }), gas: 3_000_000n }), ...others.map((_, i) => sign(i + 1, { to: accounts[(i + 2) % accounts.length]!.address as Hex, value: 1000n + BigInt(i) }))],
    [sign(0, { to: tokenAddress, data: encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [accounts[1]!.address, 5n] }), gas: 200_000n }), sign(1, { to: STORE_AT, gas: 100_000n }), ...others.slice(1).map((_, i) => sign(i + 2, { to: `0x${(0xa0 + i).toString(16).padStart(40, '0')}` as Hex, value: 7n }))],
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

describe('honest chains are accepted in every configuration', { timeout: 600_000 }, () => {
  for (const executor of ['sequential', 'parallel'] as const) {
    for (const mode of ['mpt', 'sharded'] as const) {
      for (const shape of Object.keys(SHAPES) as Shape[]) {
        // The L1 path once per executor, in different commitment modes and genesis shapes.
        const viaL1 = (executor === 'sequential' && mode === 'mpt' && shape === 'ten accounts, code and storage') || (executor === 'parallel' && mode === 'sharded' && shape === '10,000 accounts')
        it(`behavior: ${executor} executor, ${mode} commitment, genesis of ${shape} — mosaic verifier accepts every block over --rpc, from --files${viaL1 ? ' and from the L1' : ''}`, async () => {
          const dir = mkdtempSync(join(tmpdir(), 'mosaic-honest-'))
          const chainFlags = ['--genesis-file', genesisFile(dir, shape), '--fee-recipient', FEE_RECIPIENT, '--state-commitment', mode, '--shard-nibbles', '2']
          const t = await startNode([...chainFlags, '--executor', executor, '--executor-threads', '2', '--block-time-ms', '100000', '--miniblock-ms', '100000', '--l1-private-key', DEV_KEYS[0]], { mode: 'sequencer' })
          const stops: (() => Promise<unknown>)[] = [() => t.stop()]
          try {
            const l1 = viaL1 ? await postTo(t, stops) : undefined
            const head = await produce(t.url, SHAPES[shape].funded)
            assert.equal(head, 3n)
            const bundles = join(dir, 'bundles')
            const overRpc = await runVerifierProcess(['--rpc', t.url, '--from', '1', '--to', String(head), '--export', bundles, ...chainFlags])
            assert.equal(overRpc.code, 0, overRpc.output)
            assert.match(overRpc.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))
            const fromFiles = await runVerifierProcess(['--files', bundles, ...chainFlags])
            assert.equal(fromFiles.code, 0, fromFiles.output)
            assert.match(fromFiles.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))
            if (l1 !== undefined) {
              await waitFor('the inbox to cover the head', async () => (await l1.reader.state()).nextBlock > head, 60_000)
              const fromL1 = await runVerifierProcess(['--l1', l1.url, '--inbox', l1.inbox, '--rpc', t.url, '--from', '1', '--to', String(head), ...chainFlags])
              assert.equal(fromL1.code, 0, fromL1.output)
              assert.match(fromL1.output, new RegExp(`${head} ok and 0 failed in all`))
            }
            if (executor === 'sequential' && mode === 'mpt' && shape === 'one account') {
              // Negative control: the verifier's own rules decide; another fee recipient fails block 1.
              const other = chainFlags.map((flag) => (flag === FEE_RECIPIENT ? `0x${'99'.repeat(20)}` : flag))
              const wrong = await runVerifierProcess(['--rpc', t.url, '--from', '1', '--to', String(head), ...other])
              assert.equal(wrong.code, 1, wrong.output)
              assert.match(wrong.output, /block 1 FAILED \[header\.coinbase\]/)
            }
          } finally {
            for (const stop of stops.reverse()) await stop()
            rmSync(dir, { recursive: true, force: true })
          }
        })
      }
    }
  }
})

/** An anvil and the node's batch poster (its inbox deployed): the chain goes to the L1. */
async function postTo(t: TestNode, stops: (() => Promise<unknown>)[]) {
  const anvil = await startAnvil()
  stops.push(() => anvil.stop())
  const queues = await openQueues()
  const l1 = await connectL1(t.node, { url: anvil.url, queues, log: () => {} })
  stops.push(async () => {
    await l1.stop()
    await queues.close()
  })
  return { url: anvil.url, inbox: l1.inbox, reader: readerFor(anvil.url, l1.inbox) }
}
