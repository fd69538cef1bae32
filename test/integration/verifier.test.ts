/**
 * Witnesses and deltas over RPC, and `mosaic verifier` against a running sequencer (issue 5):
 * honest blocks verify and the process exits 0; a sequencer that lies about one block's root or
 * witness (a proxy in front of it) gets a failing verdict for that block and exit code 1.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { createBlockFromRLP } from '@ethereumjs/block'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { type Hex, parseEther } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { layoutOf } from '../../src/commitment/layout.ts'
import { decodeStateDelta } from '../../src/state/delta-codec.ts'
import { verifyBlock } from '../../src/verifier/verify.ts'
import { decodeWitness, encodeWitness, type ExecutionWitnessJSON, witnessFromJSON } from '../../src/witness/witness.ts'
import { startNode, type TestNode, tempDataDir } from './harness.ts'
import { lyingProxy, runVerifierProcess } from './proxy.ts'

const token = loadArtifact('MosaicToken')

async function call<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  const body = (await response.json()) as { result?: T; error?: { message: string } }
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}

/** A few blocks with contract deployment, ERC-20 transfers and ether transfers. */
async function populate(t: TestNode): Promise<bigint> {
  const wallet = t.wallet(0)
  const deploy = await wallet.deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
  const address = (await t.publicClient.waitForTransactionReceipt({ hash: deploy, timeout: 20_000 })).contractAddress!
  for (let i = 0; i < 3; i++) {
    const hashes = [
      await wallet.writeContract({ address, abi: token.abi, functionName: 'transfer', args: [`0x${(0xb0b0 + i).toString(16).padStart(40, '0')}`, 10n + BigInt(i)], chain: null } as never),
      await t.wallet(1).sendTransaction({ to: `0x${(0xcafe + i).toString(16).padStart(40, '0')}` as Hex, value: parseEther('0.1'), chain: null } as never),
    ]
    for (const hash of hashes) await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
  }
  const head = await t.publicClient.getBlockNumber()
  await call(t.url, 'mosaic_getStateRoot', [`0x${head.toString(16)}`])
  return head
}

/** Run `mosaic verifier` as a child process; resolves with its exit code and output. */
async function runVerifier(url: string, from: bigint, to: bigint, extra: string[] = []): Promise<{ code: number | null; output: string }> {
  return runVerifierProcess(['--rpc', url, '--from', String(from), '--to', String(to), ...extra])
}

describe('witnesses over RPC and mosaic verifier', { timeout: 180_000 }, () => {
  it('behavior: debug_executionWitness, mosaic_getWitness and mosaic_getStateDelta describe each block so that it verifies statelessly', async () => {
    const t = await startNode(['--state-commitment', 'sharded', '--shard-nibbles', '2'])
    try {
      const head = await populate(t)
      const layout = layoutOf('sharded', 2)
      for (let n = 1n; n <= head; n++) {
        const tag = `0x${n.toString(16)}`
        const json = await call<ExecutionWitnessJSON>(t.url, 'debug_executionWitness', [tag])
        assert.deepEqual(Object.keys(json).sort(), ['codes', 'headers', 'keys', 'state'])
        const binary = await call<{ witness: Hex; hash: Hex; preStateRoot: Hex; size: number }>(t.url, 'mosaic_getWitness', [tag])
        const witness = decodeWitness(hexToBytes(binary.witness))
        assert.equal(binary.size, hexToBytes(binary.witness).length)
        // The JSON form carries the same witness.
        const fromJSON = witnessFromJSON(json, n, hexToBytes(binary.preStateRoot))
        assert.deepEqual(encodeWitness(fromJSON), encodeWitness(witness))
        const delta = await call<{ encoding: Hex; accounts: Record<string, unknown> }>(t.url, 'mosaic_getStateDelta', [tag])
        assert.ok(Object.keys(delta.accounts).length > 0)
        // What verifiers fetch: the same bytes without the JSON view.
        assert.deepEqual(await call(t.url, 'mosaic_getStateDelta', [tag, { view: false }]), { blockNumber: tag, encoding: delta.encoding })
        const block = createBlockFromRLP(hexToBytes(await call<Hex>(t.url, 'debug_getRawBlock', [tag])), { common: t.node.common, setHardfork: false })
        const root = hexToBytes((await call<{ stateRoot: Hex }>(t.url, 'mosaic_getStateRoot', [tag])).stateRoot)
        const verdict = await verifyBlock({ common: t.node.common, layout, block, witness: fromJSON, postStateRoot: root, delta: decodeStateDelta(hexToBytes(delta.encoding)) })
        assert.equal(verdict.blockNumber, n)
      }
      const genesis = await t.rpc('debug_executionWitness', ['0x0'])
      assert.match(genesis.error?.message ?? '', /genesis\) has no witness/)
      const future = await t.rpc('mosaic_getWitness', ['0xffff'])
      assert.match(future.error?.message ?? '', /header not found/)
    } finally {
      await t.stop()
    }
  })

  it('behavior: a lying proxy changing one header field of block 4 makes mosaic verifier exit 1 with the named reason, an honest proxy exits 0', async () => {
    const t = await startNode()
    const proxies: Server[] = []
    try {
      let head = await populate(t)
      // Block 4 and a child of it: more blocks if the sequencer packed the transactions tighter.
      while (head < 5n) {
        const hash = await t.wallet(2).sendTransaction({ to: `0x${'55'.repeat(20)}` as Hex, value: 1n, chain: null } as never)
        head = (await t.publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })).blockNumber
      }
      await call(t.url, 'mosaic_getStateRoot', [`0x${head.toString(16)}`])
      const quantity = (n: bigint) => (n === 0n ? new Uint8Array() : hexToBytes(`0x${n.toString(16).padStart(n.toString(16).length + (n.toString(16).length % 2), '0')}`))
      const int = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(bytesToHex(b)))
      const flip = (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === b.length - 1 ? x ^ 1 : x))
      // [field index in the header's RLP, change, the block caught at, the reason]
      const lies: [string, number, (old: Uint8Array) => Uint8Array, bigint, string][] = [
        ['timestamp +1 s', 11, (v) => quantity(int(v) + 1n), 5n, 'header.parent-hash'],
        ['timestamp far in the future', 11, (v) => quantity(int(v) + 10n ** 9n), 4n, 'header.timestamp-future'],
        ['timestamp before the parent', 11, () => quantity(1n), 4n, 'header.timestamp'],
        ['extraData', 12, () => Uint8Array.of(1, 2, 3), 4n, 'header.extra-data'],
        ['mixHash', 13, flip, 4n, 'header.mix-hash'],
        ['gasLimit', 9, (v) => quantity(int(v) * 2n), 4n, 'header.gas-limit'],
        ['lagged stateRoot', 3, flip, 4n, 'header.lagged-root'],
        ['parentHash', 0, flip, 4n, 'header.parent-hash'],
        ['baseFee', 15, (v) => quantity(int(v) + 1n), 4n, 'header.base-fee'],
      ]
      const run = async (rewrite: ((fields: Uint8Array[]) => void) | undefined) => {
        const proxy = await lyingProxy(t.url, (method, params, result) => {
          if (rewrite === undefined || method !== 'debug_getRawBlock' || params[0] !== '0x4') return result
          const [header, ...rest] = RLP.decode(hexToBytes(result as Hex)) as unknown as [Uint8Array[], ...Uint8Array[][]]
          const fields = [...header]
          rewrite(fields)
          return bytesToHex(RLP.encode([fields, ...rest] as never))
        })
        proxies.push(proxy.server)
        return runVerifier(proxy.url, 1n, head)
      }
      const honest = await run(undefined)
      assert.equal(honest.code, 0, honest.output)
      for (const [name, index, change, block, reason] of lies) {
        const lied = await run((fields) => (fields[index] = change(fields[index]!)))
        assert.equal(lied.code, 1, `${name}: ${lied.output}`)
        assert.match(lied.output, new RegExp(`block ${block} FAILED \\[${reason.replace('.', '\\.')}\\]`), name)
        for (let n = 1n; n < block; n++) assert.match(lied.output, new RegExp(`block ${n} ok`), `${name}: block ${n} before the lie verifies`)
      }
    } finally {
      for (const server of proxies) server.close()
      await t.stop()
    }
  })

  it('behavior: mosaic verifier accepts an honest range (exit 0) and fails the block a sequencer lies about (exit 1)', async () => {
    const t = await startNode()
    const proxies: Server[] = []
    try {
      const head = await populate(t)
      const bundles = tempDataDir()
      const honest = await runVerifier(t.url, 1n, head, ['--export', bundles])
      assert.equal(honest.code, 0, honest.output)
      for (let n = 1n; n <= head; n++) assert.match(honest.output, new RegExp(`block ${n} ok: `))
      assert.match(honest.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))

      // The exported bundles verify again from the files alone; a bundle edited afterwards does not.
      const fromFiles = await runVerifierProcess(['--files', bundles])
      assert.equal(fromFiles.code, 0, fromFiles.output)
      assert.match(fromFiles.output, new RegExp(`verified ${head} block\\(s\\), 0 failed`))
      const edited = join(bundles, 'block-2.json')
      const bundle = JSON.parse(readFileSync(edited, 'utf8')) as { postStateRoot: string }
      writeFileSync(edited, JSON.stringify({ ...bundle, postStateRoot: `0x${'cd'.repeat(32)}` }))
      const fromEdited = await runVerifierProcess(['--files', bundles])
      assert.equal(fromEdited.code, 1, fromEdited.output)
      assert.match(fromEdited.output, /block 2 FAILED \[block\.post-state-root\]: post-state root 0x[0-9a-f]{64}, the sequencer claims 0xcdcd/)
      rmSync(bundles, { recursive: true, force: true })

      // Following the head (no --to): verdicts as blocks arrive, a status server, exit 0 on SIGINT.
      const follower = spawn(process.execPath, ['bin/mosaic.mjs', 'verifier', '--rpc', t.url, '--status-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let followed = ''
      follower.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()))
      const seen = async (pattern: RegExp) => {
        for (let i = 0; i < 200 && !pattern.test(followed); i++) await new Promise((resolve) => setTimeout(resolve, 50))
        assert.match(followed, pattern)
      }
      await seen(new RegExp(`block ${head} ok`))
      const extra = await t.wallet(1).sendTransaction({ to: `0x${'77'.repeat(20)}` as Hex, value: 1n, chain: null } as never)
      const extraBlock = (await t.publicClient.waitForTransactionReceipt({ hash: extra, timeout: 20_000 })).blockNumber
      await seen(new RegExp(`block ${extraBlock} ok`))
      const statusUrl = /status on (http:\/\/[\d.]+:\d+)/.exec(followed)![1]!
      const health = await fetch(`${statusUrl}/health`)
      assert.equal(health.status, 200)
      const status = (await call<{ verified: number; following: boolean; failed: unknown[] }>(statusUrl, 'mosaic_verifierStatus'))
      assert.ok(status.following && status.verified >= Number(extraBlock) && status.failed.length === 0)
      assert.match(await (await fetch(`${statusUrl}/metrics`)).text(), /mosaic_verifier_blocks_total\{verdict="ok"\} \d+/)
      const exited = once(follower, 'exit')
      follower.kill('SIGINT')
      assert.deepEqual(await exited, [0, null])

      // A wrong root claimed for block 2.
      const wrongRoot = await lyingProxy(t.url, (method, params, result) => {
        if (method === 'mosaic_getStateRoot' && params[0] === '0x2') return { ...(result as object), stateRoot: `0x${'ab'.repeat(32)}` }
        return result
      })
      proxies.push(wrongRoot.server)
      const lied = await runVerifier(wrongRoot.url, 1n, head)
      assert.equal(lied.code, 1, lied.output)
      assert.match(lied.output, /block 2 FAILED \[block\.post-state-root\]: post-state root 0x[0-9a-f]{64}, the sequencer claims 0xabab/)
      assert.match(lied.output, /block 1 ok/)
      assert.match(lied.output, /block 3 ok/)
      assert.match(lied.output, /verified \d+ block\(s\), 1 failed/)

      // A witness node altered for block 3.
      const badWitness = await lyingProxy(t.url, (method, params, result) => {
        if (method !== 'mosaic_getWitness' || params[0] !== '0x3') return result
        const witness = decodeWitness(hexToBytes((result as { witness: Hex }).witness))
        const nodes = witness.nodes.map((node, i) => (i === 0 ? Uint8Array.from(node, (b, j) => (j === node.length - 1 ? b ^ 1 : b)) : node))
        return { ...(result as object), witness: `0x${Buffer.from(encodeWitness({ ...witness, nodes })).toString('hex')}` }
      })
      proxies.push(badWitness.server)
      const tampered = await runVerifier(badWitness.url, 1n, head)
      assert.equal(tampered.code, 1, tampered.output)
      assert.match(tampered.output, /block 3 FAILED \[witness\.(unreachable-node|unprovable)\]: (witness node 0x[0-9a-f]{64} is not reachable|the witness cannot prove)/)
    } finally {
      for (const server of proxies) server.close()
      await t.stop()
    }
  })

  it('behavior: SIGINT stops a verifier whose sequencer has stopped answering at once, exit 0, with no verdict made up', async () => {
    // A sequencer that takes requests and never answers: each read waits for its timeout (30 s).
    // The negative control is that wait: before reads gave way to the signal, SIGINT took ~29 s.
    const requests: import('node:http').ServerResponse[] = []
    const stalled = createServer((_request, response) => requests.push(response))
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`
    const verifier = spawn(process.execPath, ['bin/mosaic.mjs', 'verifier', '--rpc', url, '--status-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    verifier.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    verifier.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = once(verifier, 'exit')
    try {
      const deadline = Date.now() + 30_000
      while (requests.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.ok(requests.length > 0, `the verifier never asked its sequencer:\n${output}`)
      const signalled = performance.now()
      verifier.kill('SIGINT')
      assert.deepEqual(await exited, [0, null], output)
      assert.ok(performance.now() - signalled < 10_000, `stopped ${Math.round(performance.now() - signalled)} ms after SIGINT:\n${output}`)
      assert.doesNotMatch(output, /FAILED/)
      assert.match(output, /verified 0 block\(s\), 0 failed/)
    } finally {
      verifier.kill('SIGKILL')
      for (const response of requests) response.destroy()
      stalled.close()
    }
  })
})
