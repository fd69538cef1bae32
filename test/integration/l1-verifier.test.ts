/**
 * Verifiers following the L1 (issues 6 and 12): two verifier processes on one Redis share a range
 * with every block verified exactly once; every posted block gets a verdict — an undecodable
 * block, a refused transaction, a decompression bomb, an inbox that does not start from the
 * genesis, a witness that stays withheld or keeps not matching the L1's commitment each end in a
 * FAILED verdict with its reason (and `--to` exits 1), a flaky witness source that recovers before
 * the deadline does not; a batch an L1 reorg replaced is verified again and only the new batch's
 * verdicts count; an honest chain exits 0.
 *
 * The sequencer runs a chain that is not the default one (CHAIN): a verifier takes the chain's
 * rules from its own configuration, so every verifier here gets the same flags.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { deflateRawSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, concatBytes, hexToBytes } from '@ethereumjs/util'
import { createWalletClient, encodeFunctionData, type Hex, http, parseEther, parseGwei } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadConfig } from '../../src/config/config.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { type BatchContent, batchDataHash, encodeBatchData, splitFrames, witnessCommitment } from '../../src/l1/batch-data.ts'
import { deployInbox } from '../../src/l1/deploy.ts'
import { InboxReader, inboxArtifact, submittedBatchHash } from '../../src/l1/inbox.ts'
import { Poster, type PostJob, type PostResult } from '../../src/l1/poster.ts'
import { L1Sender } from '../../src/l1/sender.ts'
import { connectL1, type L1Connection, nodeBatchSource } from '../../src/node/l1.ts'
import { createMemoryQueues } from '../../src/queue/memory.ts'
import { openQueues } from '../../src/queue/open.ts'
import type { QueueBackend } from '../../src/queue/queue.ts'
import { runVerifier, type VerifierStatus } from '../../src/verifier/run.ts'
import { redisForTests } from '../redis.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'
import { l1Client, sleep, traffic, waitFor } from './l1-harness.ts'

const FAST = ['--batch-max-blocks', '3', '--batch-max-age-ms', '200', '--l1-resend-ms', '1500']
/** The chain's rules, given to the sequencer and to every verifier of it. */
const CHAIN = ['--chain-id', '4242', '--state-root-lag', '3', '--fee-recipient', '0x00000000000000000000000000000000000fee01']
/** Deadline for withheld or mismatching witnesses in the tests that wait for it. */
const DEADLINE_MS = 3000

type RpcAnswer = { result?: unknown; error?: { code: number; message: string; data?: unknown } }

/** `mosaic verifier …` in-process over its own queues: its log, status URL, final status and a stop switch. */
function verifyInProcess(flags: string[], queues: QueueBackend = createMemoryQueues()) {
  const config = loadConfig({ argv: [...CHAIN, ...flags, '--status-port', '0'], env: {}, cwd: process.cwd(), mode: 'verifier' })
  const logs: string[] = []
  let stop!: () => void
  const stopped = new Promise<void>((resolve) => (stop = resolve))
  let listening!: (url: string) => void
  const url = new Promise<string>((resolve) => (listening = resolve))
  const started = Date.now()
  const result = runVerifier(config, { log: (line) => logs.push(line), queues, stop: stopped, onListening: listening }).finally(() => queues.close())
  return { logs, url, result, stop, started }
}

/** `mosaic verifier …` as a child process: its output and exit code (`exitWithin`: killed when it hangs). */
function spawnVerifier(flags: string[]) {
  const child = spawn(process.execPath, ['bin/mosaic.mjs', 'verifier', ...CHAIN, ...flags, '--status-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const exitWithin = async (ms: number): Promise<number | null | 'hung'> => {
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([exit, new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)))])
    clearTimeout(timer)
    if (code === 'hung') child.kill('SIGKILL')
    return code
  }
  return { output: () => output, exit, exitWithin }
}

/** The verdict line of a FAILED block: `block N FAILED (batch B) [code]: reason`. */
const failedLine = (n: bigint, code: string) => new RegExp(`block ${n} FAILED \\(batch \\d+\\) \\[${code.replace('.', '\\.')}\\]: `)

/** The first FAILED block and its code (blocks after it are FAILED too: nothing counts as verified after a failure). */
function firstFailure(failed: readonly { block: string; code: string }[]): [bigint, string] | undefined {
  return [...failed].map((f) => [BigInt(f.block), f.code] as [bigint, string]).sort(([a], [b]) => (a < b ? -1 : 1))[0]
}

async function health(url: string): Promise<{ code: number; body: { status: string; failed: { block: string; code: string }[]; overdue?: string[] } }> {
  const response = await fetch(`${url}/health`)
  return { code: response.status, body: (await response.json()) as never }
}

async function verifierStatus(url: string): Promise<VerifierStatus> {
  return (await rawRpc(url, 'mosaic_verifierStatus')).result as VerifierStatus
}

/** A JSON-RPC proxy in front of `target` whose answers `answer` may change. */
async function rpcProxy(target: string, answer: (method: string, params: unknown[], forward: () => Promise<RpcAnswer>) => Promise<RpcAnswer>) {
  const server: Server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const request = JSON.parse(body) as { id: unknown; method: string; params: unknown[] }
    const reply = await answer(request.method, request.params ?? [], () => rawRpc(target, request.method, request.params ?? []))
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, ...reply }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

const isWitnessOf = (method: string, params: unknown[], n: bigint) => method === 'mosaic_getWitness' && BigInt(params[0] as string) === n

describe('verifiers following the L1', { timeout: 300_000 }, () => {
  let anvil: Anvil
  let node: TestNode
  let l1: L1Connection
  let queues: QueueBackend
  let genesisRoot: Hex
  before(async () => {
    anvil = await startAnvil()
    node = await startNode([...FAST, ...CHAIN])
    queues = await openQueues()
    l1 = await connectL1(node.node, { url: anvil.url, queues, log: () => {} })
    genesisRoot = bytesToHex(node.node.chain.getBlock(0n)!.block.header.stateRoot)
    // A chain to craft batches from, whichever tests run.
    await chainThrough(12n)
  })
  after(async () => {
    await l1?.stop()
    await queues?.close()
    await node?.stop()
    await anvil?.stop()
  })

  /** Traffic until the inbox covers block `n`. */
  async function chainThrough(n: bigint) {
    const load = traffic(node, 1, 40)
    try {
      await waitFor(`block ${n}`, () => node.node.chain.head >= n)
    } finally {
      await load.stop()
    }
    const reader = new InboxReader(l1Client(anvil.url), l1.inbox)
    await waitFor(`the inbox to cover block ${n}`, async () => (await reader.state()).nextBlock > n)
  }

  /** Blocks `first`…`last` as the sequencer made them: what an honest batch holds. */
  async function honestContent(first: bigint, last: bigint): Promise<{ blocks: Uint8Array[]; stateRoots: Uint8Array[]; witnessHashes: Uint8Array[] }> {
    const source = nodeBatchSource(node.node)
    await waitFor(`the roots through block ${last}`, () => source.rootedHead() >= last)
    const content = { blocks: [] as Uint8Array[], stateRoots: [] as Uint8Array[], witnessHashes: [] as Uint8Array[] }
    for (let n = first; n <= last; n++) {
      content.blocks.push(source.blockRlp(n))
      content.stateRoots.push(source.stateRoot(n))
      content.witnessHashes.push(await source.witnessHash(n))
    }
    return content
  }

  /**
   * An inbox of the test's own on the L1 at `url` (from block 1), to which the test posts what it
   * likes as the inbox's sequencer: batch data as calldata frames, then `submitBatch`.
   */
  async function testInbox(url: string, startStateRoot: Hex = genesisRoot) {
    const client = l1Client(url)
    const account = privateKeyToAccount(DEV_KEYS[2])
    const address = await deployInbox({ client, url, account, sequencer: account.address, firstBlock: 1n, startStateRoot })
    const wallet = createWalletClient({ account, transport: http(url, { retryCount: 0 }) })
    const reader = new InboxReader(client, address)
    const { abi } = inboxArtifact()
    const send = async (data: Hex) => {
      const hash = await wallet.sendTransaction({ to: address, data, chain: null } as never)
      const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 20 })
      assert.equal(receipt.status, 'success')
      return receipt
    }
    /** Post the next batch: `data` covering `count` blocks, committing to the given roots; resolves with its batch hash. */
    const postData = async (data: Uint8Array, count: bigint, commitments: { postStateRoot: Uint8Array; witnessCommitment: Uint8Array }): Promise<Hex> => {
      const state = await reader.state()
      for (const frame of splitFrames(state.nextIndex, data, 100_000)) {
        await send(encodeFunctionData({ abi, functionName: 'postFrame', args: [frame.batchIndex, bytesToHex(frame.dataHash), frame.frameIndex, frame.last, bytesToHex(frame.data)] }))
      }
      const batch = {
        index: state.nextIndex,
        firstBlock: state.nextBlock,
        lastBlock: state.nextBlock + count - 1n,
        postStateRoot: bytesToHex(commitments.postStateRoot),
        witnessCommitment: bytesToHex(commitments.witnessCommitment),
        dataHash: bytesToHex(batchDataHash(data)),
        previous: state.lastBatchHash,
      }
      const receipt = await send(encodeFunctionData({ abi, functionName: 'submitBatch', args: [batch] }))
      return submittedBatchHash(receipt.logs)!
    }
    /** Post the next batch with this content. */
    const post = (content: BatchContent) =>
      postData(encodeBatchData(content), BigInt(content.blocks.length), { postStateRoot: content.stateRoots.at(-1)!, witnessCommitment: witnessCommitment(content.witnessHashes) })
    return { address, reader, post, postData }
  }

  it('behavior: two verifier processes on one Redis share a range; every block is verified exactly once', async (t) => {
    const redis = await redisForTests()
    if ('skip' in redis) return t.skip(redis.skip)
    const to = node.node.chain.head + 24n
    const flags = ['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', node.url, '--to', String(to), '--redis-url', redis.url, '--queue-prefix', `verify-share-${process.pid}`]
    try {
      const a = spawnVerifier(flags)
      const b = spawnVerifier(flags)
      // Both are up and scanning before the batches arrive, so both get work.
      await waitFor('both verifiers to start', () => /following inbox/.test(a.output()) && /following inbox/.test(b.output()), 30_000)
      await chainThrough(to)
      const [codeA, codeB] = await Promise.all([a.exitWithin(90_000), b.exitWithin(90_000)])
      assert.equal(codeA, 0, a.output())
      assert.equal(codeB, 0, b.output())
      const blocks = (output: string) => [...output.matchAll(/block (\d+) ok \(batch/g)].map((m) => BigInt(m[1]!))
      const [mineA, mineB] = [blocks(a.output()), blocks(b.output())]
      const all = [...mineA, ...mineB].sort((x, y) => (x < y ? -1 : 1))
      assert.deepEqual(all, Array.from({ length: Number(to) }, (_, i) => BigInt(i + 1)), 'every block of 1…to verified exactly once')
      assert.ok(mineA.length > 0 && mineB.length > 0, `both shared the work (${mineA.length} + ${mineB.length})`)
      assert.match(a.output(), new RegExp(`${Number(to)} ok and 0 failed in all`))
    } finally {
      await redis.stop()
    }
  })

  it('default: an honest chain through --l1 with --to exits 0 with zero failures', async () => {
    const to = (await new InboxReader(l1Client(anvil.url), l1.inbox).state()).nextBlock - 1n
    const run = spawnVerifier(['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', node.url, '--from', '1', '--to', String(to)])
    assert.equal(await run.exitWithin(60_000), 0, run.output())
    assert.doesNotMatch(run.output(), /FAILED/)
    assert.match(run.output(), new RegExp(`${to} ok and 0 failed in all`))
    for (let n = 1n; n <= to; n++) assert.match(run.output(), new RegExp(`block ${n} ok \\(batch \\d+\\)`))
  })

  it('behavior: an undecodable block in L1 data is FAILED block.undecodable, and --to exits 1 instead of retrying', async () => {
    const K = 6n
    const honest = await honestContent(1n, K)
    // Garbage RLP where block K belongs, committing to block K's real witness…
    const garbage = await testInbox(anvil.url)
    await garbage.post({ blocks: honest.blocks.slice(0, -1), stateRoots: honest.stateRoots.slice(0, -1), witnessHashes: honest.witnessHashes.slice(0, -1) })
    await garbage.post({ blocks: [Uint8Array.of(0xde, 0xad, 0xbe, 0xef)], stateRoots: [honest.stateRoots.at(-1)!], witnessHashes: [honest.witnessHashes.at(-1)!] })
    // …and to a witness nobody has: the block is FAILED for what it is, not after the witness deadline.
    const unknown = await testInbox(anvil.url)
    await unknown.post({ blocks: honest.blocks.slice(0, -1), stateRoots: honest.stateRoots.slice(0, -1), witnessHashes: honest.witnessHashes.slice(0, -1) })
    await unknown.post({ blocks: [RLP.encode([Uint8Array.of(1), [Uint8Array.of(2)]])], stateRoots: [honest.stateRoots.at(-1)!], witnessHashes: [keccak256(Uint8Array.of(9))] })

    const cli = spawnVerifier(['--l1', anvil.url, '--inbox', garbage.address, '--rpc', node.url, '--from', String(K), '--to', String(K), '--verify-deadline-ms', '60000'])
    const inProcess = verifyInProcess(['--l1', anvil.url, '--inbox', unknown.address, '--rpc', node.url, '--from', String(K), '--to', String(K), '--verify-deadline-ms', '60000'])
    const status = await inProcess.result
    assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]), [[K, 'block.undecodable']])
    assert.ok(Date.now() - inProcess.started < 30_000, 'a verdict long before the witness deadline')
    assert.match(inProcess.logs.join('\n'), failedLine(K, 'block.undecodable'))

    assert.equal(await cli.exitWithin(45_000), 1, cli.output())
    assert.match(cli.output(), failedLine(K, 'block.undecodable'))
    assert.match(cli.output(), /0 ok and 1 failed in all/)
  })

  it('behavior: a block with a transaction this chain refuses (another chain id, no replay protection) is FAILED', async () => {
    const K = 6n
    const honest = await honestContent(1n, K)
    const account = privateKeyToAccount(DEV_KEYS[1])
    const fields = { to: account.address, value: parseEther('0.001'), gas: 21_000n, nonce: 0 }
    const otherChain = await account.signTransaction({ ...fields, type: 'eip1559', chainId: 1, maxFeePerGas: parseGwei('1'), maxPriorityFeePerGas: 0n })
    const unprotected = await account.signTransaction({ ...fields, type: 'legacy', gasPrice: parseGwei('1') })
    /** Block K with `tx` as its only transaction (a typed tx is its bytes in the body, a legacy one its fields). */
    const withTx = (tx: Hex) => {
      const [header, , ...rest] = RLP.decode(honest.blocks.at(-1)!) as Uint8Array[]
      const bytes = hexToBytes(tx)
      return RLP.encode([header!, [bytes[0]! >= 0xc0 ? RLP.decode(bytes) : bytes], ...rest] as never)
    }
    // A typed or EIP-155 transaction signed for another chain does not even decode on this chain's Common.
    const cases = [
      { tx: otherChain, code: 'block.undecodable', reason: /block 6 does not decode: .*chain ID/i },
      { tx: unprotected, code: 'block.transaction-type', reason: /transaction 0 is one this chain does not admit: .*replay-protected/ },
    ]
    const inboxes: Hex[] = []
    // One after the other: the test's L1 account sends them all.
    for (const { tx } of cases) {
      const inbox = await testInbox(anvil.url)
      await inbox.post({ blocks: honest.blocks.slice(0, -1), stateRoots: honest.stateRoots.slice(0, -1), witnessHashes: honest.witnessHashes.slice(0, -1) })
      await inbox.post({ blocks: [withTx(tx)], stateRoots: [honest.stateRoots.at(-1)!], witnessHashes: [honest.witnessHashes.at(-1)!] })
      inboxes.push(inbox.address)
    }
    const runs = await Promise.all(inboxes.map((inbox) => verifyInProcess(['--l1', anvil.url, '--inbox', inbox, '--rpc', node.url, '--from', String(K), '--to', String(K)]).result))
    for (const [i, status] of runs.entries()) {
      assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]), [[K, cases[i]!.code]])
      assert.match(status.failed[0]!.reason, cases[i]!.reason)
    }
  })

  it('behavior: a decompression bomb in batch data is FAILED batch.too-large, fast', async () => {
    const inbox = await testInbox(anvil.url)
    // 64 MiB of zeros deflate to ~64 KiB: 64 times VERIFY_MAX_BATCH_BYTES.
    const data = concatBytes(Uint8Array.of(1), deflateRawSync(new Uint8Array(64 * 1024 * 1024), { level: 9 }))
    await inbox.postData(data, 1n, { postStateRoot: keccak256(Uint8Array.of(1)), witnessCommitment: witnessCommitment([keccak256(Uint8Array.of(2))]) })
    const run = verifyInProcess(['--l1', anvil.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1', '--to', '1', '--verify-max-batch-bytes', String(1024 * 1024), '--verify-deadline-ms', '60000'])
    const status = await run.result
    const elapsed = Date.now() - run.started
    assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]), [[1n, 'batch.too-large']])
    assert.match(status.failed[0]!.reason, /inflates to more than 1048576 bytes/)
    assert.match(run.logs.join('\n'), failedLine(1n, 'batch.too-large'))
    assert.ok(elapsed < 10_000, `the verdict took ${elapsed} ms`)
  })

  it('behavior: an inbox whose start root is not the genesis root is FAILED batch.start-root at block 1', async () => {
    const inbox = await testInbox(anvil.url, bytesToHex(keccak256(Uint8Array.of(42))))
    await inbox.post(await honestContent(1n, 3n))
    const run = verifyInProcess(['--l1', anvil.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1', '--to', '3'])
    const status = await run.result
    // Blocks 2 and 3 are checked on their own, but never count as verified after block 1.
    assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]).sort(([a], [b]) => (a! < b! ? -1 : 1)), [[1n, 'batch.start-root'], [2n, 'block.unverified-parent'], [3n, 'block.unverified-parent']])
    assert.match(status.failed.find((f) => f.code === 'batch.start-root')!.reason, new RegExp(`genesis root is ${genesisRoot}`))
    assert.match(run.logs.join('\n'), failedLine(1n, 'batch.start-root'))
  })

  it('behavior: a witness withheld past VERIFY_DEADLINE_MS is FAILED witness.withheld; /health answers 503 while it is overdue and after', async () => {
    await chainThrough(node.node.chain.head + 4n)
    const target = node.node.chain.head - 2n
    // The witness source holds the witness of the target a while, then answers an error.
    const proxy = await rpcProxy(node.url, async (method, params, forward) => {
      if (!isWitnessOf(method, params, target)) return forward()
      await sleep(1500)
      return { error: { code: -32000, message: 'witness withheld' } }
    })
    let stopFollowing = () => {}
    try {
      const flags = ['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', proxy.url, '--from', String(target - 1n), '--verify-deadline-ms', String(DEADLINE_MS)]
      const cli = spawnVerifier([...flags, '--to', String(target + 1n)])
      // Following (no --to), so /health can be read after the verdict too.
      const following = verifyInProcess(flags)
      stopFollowing = following.stop
      const url = await following.url
      const seen: { at: number; code: number; status: string; failed: { block: string; code: string }[]; overdue: string[] }[] = []
      await waitFor(
        'the withheld verdict on /health',
        async () => {
          const { code, body } = await health(url)
          seen.push({ at: Date.now() - following.started, code, status: body.status, failed: body.failed, overdue: body.overdue ?? [] })
          return body.status === 'failing'
        },
        30_000,
        150,
      )
      following.stop()
      await following.result
      const hex = `0x${target.toString(16)}`
      const overdue = seen.filter((s) => s.status === 'overdue')
      assert.ok(overdue.length > 0, `/health went from ${seen.map((s) => s.status).join(', ')}`)
      for (const s of overdue) {
        assert.equal(s.code, 503)
        assert.deepEqual(s.failed, [])
        assert.ok(s.overdue.includes(hex), `${hex} overdue: ${s.overdue.join(', ')}`)
      }
      const failing = seen.at(-1)!
      assert.equal(failing.code, 503)
      assert.deepEqual(firstFailure(failing.failed), [target, 'witness.withheld'])
      assert.ok(failing.at >= DEADLINE_MS, `FAILED after ${failing.at} ms, before the deadline`)
      for (const s of seen.filter((s) => s.at < DEADLINE_MS - 500)) assert.notEqual(s.status, 'failing')
      assert.match(following.logs.join('\n'), failedLine(target, 'witness.withheld'))

      assert.equal(await cli.exitWithin(45_000), 1, cli.output())
      assert.match(cli.output(), failedLine(target, 'witness.withheld'))
      assert.match(cli.output(), /1 ok and 2 failed in all/)
    } finally {
      stopFollowing()
      await proxy.close()
    }
  })

  it('behavior: a witness that keeps not hashing to the L1’s commitment is retried until VERIFY_DEADLINE_MS, then FAILED witness.mismatch', async () => {
    await chainThrough(node.node.chain.head + 4n)
    const target = node.node.chain.head - 2n
    // A sequencer RPC that serves one altered witness.
    const proxy = await rpcProxy(node.url, async (method, params, forward) => {
      const answer = (await forward()) as { result?: { witness?: Hex } }
      if (isWitnessOf(method, params, target) && answer.result?.witness !== undefined) {
        const bytes = hexToBytes(answer.result.witness)
        bytes[bytes.length - 3]! ^= 1
        answer.result.witness = bytesToHex(bytes)
      }
      return answer
    })
    try {
      const run = verifyInProcess(['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', proxy.url, '--from', String(target - 1n), '--to', String(target + 1n), '--verify-deadline-ms', String(DEADLINE_MS)])
      const status = await run.result
      const elapsed = Date.now() - run.started
      assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]).sort(([a], [b]) => (a! < b! ? -1 : 1)), [[target, 'witness.mismatch'], [target + 1n, 'block.unverified-parent']])
      assert.match(status.failed.find((f) => f.code === 'witness.mismatch')!.reason, /no witness of block \d+ matching the L1's commitment: it hashes to 0x[0-9a-f]{64}, the L1 committed 0x[0-9a-f]{64}/)
      assert.equal(status.l1?.verdicts.ok, 1)
      assert.ok(elapsed >= DEADLINE_MS, `FAILED after ${elapsed} ms, before the deadline`)
      const log = run.logs.join('\n')
      assert.match(log, new RegExp(`block ${target}: no witness of block ${target} matching the L1's commitment: .* — retry in \\d+ ms`))
      assert.match(log, failedLine(target, 'witness.mismatch'))
    } finally {
      await proxy.close()
    }
  })

  it('behavior: a witness source that mismatches for a while, then recovers before the deadline, gets an OK verdict (no permanent FAILED)', async () => {
    const target = node.node.chain.head - 2n
    let firstAsked: number | undefined
    // Lies about the target's witness for 2 s from the first time it is asked, then answers honestly.
    const proxy = await rpcProxy(node.url, async (method, params, forward) => {
      const answer = (await forward()) as { result?: { witness?: Hex } }
      if (isWitnessOf(method, params, target) && answer.result?.witness !== undefined) {
        firstAsked ??= Date.now()
        if (Date.now() - firstAsked < 2000) answer.result.witness = bytesToHex(concatBytes(hexToBytes(answer.result.witness), Uint8Array.of(0)))
      }
      return answer
    })
    try {
      const run = verifyInProcess(['--l1', anvil.url, '--inbox', l1.inbox, '--rpc', proxy.url, '--from', String(target - 1n), '--to', String(target + 1n), '--verify-deadline-ms', String(DEADLINE_MS)])
      const status = await run.result
      assert.deepEqual(status.failed, [])
      assert.equal(status.l1?.verdicts.ok, 3)
      assert.equal(status.complete, true)
      const log = run.logs.join('\n')
      assert.match(log, new RegExp(`block ${target}: no witness of block ${target} matching .* — retry in \\d+ ms`), 'it was retried')
      assert.match(log, new RegExp(`block ${target} ok \\(batch \\d+\\)`))
    } finally {
      await proxy.close()
    }
  })

  it('behavior: a wrong post-state root on the L1 is a failing verdict for its block', async () => {
    // A second inbox, fed by a poster whose source lies about one block's root.
    const head = node.node.chain.head
    const target = head - 1n
    const client = l1Client(anvil.url)
    const account = privateKeyToAccount(DEV_KEYS[1])
    const inbox = await deployInbox({ client, url: anvil.url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: genesisRoot })
    const honest = nodeBatchSource(node.node)
    const wrong = keccak256(Uint8Array.of(7))
    const poster = new Poster({
      source: { ...honest, rootedHead: () => head, stateRoot: (n) => (n === target ? wrong : honest.stateRoot(n)) },
      inbox: new InboxReader(client, inbox),
      sender: new L1Sender({ client, privateKey: DEV_KEYS[1], chainId: await client.getChainId(), confirmations: 1, resendAfterMs: 1500 }),
      queue: createMemoryQueues().queue<PostJob, PostResult>('post', { attempts: 3, backoffMs: 100, keepCompleted: false }),
      daMode: 'calldata',
      maxBlocks: Number(target),
      maxBytes: 1_000_000,
      maxAgeMs: 1,
      frameBytes: 120_000,
    })
    poster.start()
    try {
      const reader = new InboxReader(client, inbox)
      await waitFor('the lying batch on the L1', async () => (await reader.state()).nextBlock > target)
    } finally {
      await poster.stop()
    }
    const status = await verifyInProcess(['--l1', anvil.url, '--inbox', inbox, '--rpc', node.url, '--from', String(target - 2n), '--to', String(target)]).result
    assert.deepEqual(status.failed.map((f) => [BigInt(f.block), f.code]), [[target, 'block.post-state-root']])
    assert.match(status.failed[0]!.reason, new RegExp(`post-state root 0x[0-9a-f]{64}, the L1 says ${bytesToHex(wrong)}`))
  })

  it('behavior: following an L1 that makes no block, the verifier looks up the block each scan but reads the inbox once', async () => {
    // An L1 of its own with an inbox nobody posts to: it makes no block while the verifier follows it.
    const idleL1 = await startAnvil()
    const methods: string[] = []
    const proxy = await rpcProxy(idleL1.url, async (method, _params, forward) => {
      methods.push(method)
      return forward()
    })
    try {
      const account = privateKeyToAccount(DEV_KEYS[1])
      const inbox = await deployInbox({ client: l1Client(idleL1.url), url: idleL1.url, account, sequencer: account.address, firstBlock: 1n, startStateRoot: genesisRoot })
      const run = verifyInProcess(['--l1', proxy.url, '--inbox', inbox, '--rpc', node.url, '--from', '1'])
      await waitFor('eight scans', async () => methods.filter((m) => m === 'eth_getBlockByNumber').length >= 8)
      run.stop()
      await run.result
      const scans = methods.filter((m) => m === 'eth_getBlockByNumber').length
      // Three eth_calls are one read of the inbox (nextIndex, nextBlock, lastBatchHash): once, not once per scan.
      assert.equal(methods.filter((m) => m === 'eth_call').length, 3, `${scans} scans; methods: ${methods.join(', ')}`)
    } finally {
      await proxy.close()
      await idleL1.stop()
    }
  })

  it('behavior: once the L1 finalizes its batches, a following verifier holds nothing per block for them, and its counts stand', async () => {
    // An L1 of its own, whose finalized block (anvil: 64 below the head) this test moves.
    const finalityL1 = await startAnvil()
    try {
      const honest = await honestContent(1n, 8n)
      const part = (from: number, to: number) => ({ blocks: honest.blocks.slice(from, to), stateRoots: honest.stateRoots.slice(from, to), witnessHashes: honest.witnessHashes.slice(from, to) })
      const inbox = await testInbox(finalityL1.url)
      await inbox.post(part(0, 3))
      await inbox.post(part(3, 6))
      const run = verifyInProcess(['--l1', finalityL1.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1'])
      try {
        const url = await run.url
        const verified = await waitFor('all 6 blocks verified', async () => {
          const status = await verifierStatus(url)
          return status.l1?.verdicts.ok === 6 ? status : undefined
        })
        // Not finalized yet: both batches and their blocks are held (the control for what follows).
        assert.deepEqual(verified.l1?.unsettled, { batches: 2, blocks: 6 })
        await rawRpc(finalityL1.url, 'anvil_mine', ['0x50'])
        const settled = await waitFor('both batches settled', async () => {
          const status = await verifierStatus(url)
          return status.l1?.unsettled.batches === 0 ? status : undefined
        })
        assert.deepEqual(settled.l1?.unsettled, { batches: 0, blocks: 0 })
        assert.deepEqual([settled.l1?.verdicts.ok, settled.l1?.verdicts.failed, settled.failed, settled.overdue], [6, 0, [], []])
        // A batch posted after that is scheduled, verified and counted on top of the settled ones.
        await inbox.post(part(6, 8))
        const more = await waitFor('blocks 7 and 8 verified', async () => {
          const status = await verifierStatus(url)
          return status.l1?.verdicts.ok === 8 ? status : undefined
        })
        assert.deepEqual(more.l1?.unsettled, { batches: 1, blocks: 2 })
      } finally {
        run.stop()
        await run.result
      }
    } finally {
      await finalityL1.stop()
    }
  })

  describe('an L1 reorg that replaces a batch', () => {
    // An L1 of its own: evm_revert would take the sequencer's own batches with it.
    let reorgL1: Anvil
    before(async () => {
      reorgL1 = await startAnvil()
    })
    after(async () => {
      await reorgL1?.stop()
    })

    const K = 5n
    const TO = 8n

    /** Post `first` on a fresh inbox, start a verifier through TO, wait for `seen`, revert the L1 and post `replacement` and the rest. */
    async function reorgRun(lie: 'first' | 'replacement') {
      const honest = await honestContent(1n, TO)
      const batch0 = { blocks: honest.blocks.slice(0, Number(K)), stateRoots: honest.stateRoots.slice(0, Number(K)), witnessHashes: honest.witnessHashes.slice(0, Number(K)) }
      const lying = { ...batch0, stateRoots: [...batch0.stateRoots.slice(0, -1), keccak256(Uint8Array.of(7))] }
      const batch1 = { blocks: honest.blocks.slice(Number(K)), stateRoots: honest.stateRoots.slice(Number(K)), witnessHashes: honest.witnessHashes.slice(Number(K)) }
      const inbox = await testInbox(reorgL1.url)
      const snapshot = (await rawRpc(reorgL1.url, 'evm_snapshot')).result as Hex
      const firstHash = await inbox.post(lie === 'first' ? lying : batch0)
      const run = verifyInProcess(['--l1', reorgL1.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1', '--to', String(TO)])
      const url = await run.url
      // Every block of the first batch has its verdict before the L1 replaces it.
      await waitFor('the first batch’s verdicts', async () => {
        const status = await verifierStatus(url)
        return (status.l1?.verdicts.ok ?? 0) + (status.l1?.verdicts.failed ?? 0) === Number(K) ? status : undefined
      })
      const before = await verifierStatus(url)
      assert.equal((await rawRpc(reorgL1.url, 'evm_revert', [snapshot])).result, true)
      const secondHash = await inbox.post(lie === 'first' ? batch0 : lying)
      assert.notEqual(secondHash, firstHash)
      await inbox.post(batch1)
      const status = await run.result
      return { before, status, log: run.logs.join('\n') }
    }

    it('behavior: a lying batch replaced by an honest one — the old FAILED verdict no longer counts', async () => {
      const { before, status, log } = await reorgRun('first')
      assert.deepEqual(before.failed.map((f) => [BigInt(f.block), f.code]), [[K, 'block.post-state-root']])
      assert.match(log, /an L1 reorg replaced batches from 0 on/)
      assert.deepEqual(status.failed, [])
      assert.equal(status.complete, true)
      assert.equal(status.l1?.verdicts.ok, Number(TO))
      assert.deepEqual(status.overdue, [])
      // Block K was verified twice: FAILED in the replaced batch, ok in the new one.
      assert.match(log, failedLine(K, 'block.post-state-root'))
      assert.match(log, new RegExp(`block ${K} ok \\(batch 0\\)`))
    })

    it('behavior: an honest batch replaced by a lying one — the new batch is verified and its FAILED verdict counts', async () => {
      const { before, status, log } = await reorgRun('replacement')
      assert.deepEqual(before.failed, [])
      assert.equal(before.l1?.verdicts.ok, Number(K))
      assert.match(log, /an L1 reorg replaced batches from 0 on/)
      assert.equal(status.complete, true)
      assert.deepEqual(firstFailure(status.failed), [K, 'block.post-state-root'])
      assert.match(log, new RegExp(`block ${K} ok \\(batch 0\\)`))
      assert.match(log, failedLine(K, 'block.post-state-root'))
    })

    it('behavior: after a reorg, lagged roots come from the new batches, not from the replaced ones a verifier read before', async () => {
      const honest = await honestContent(1n, 10n)
      const part = (first: number, last: number, lieAt?: number) => ({
        blocks: honest.blocks.slice(first - 1, last),
        stateRoots: honest.stateRoots.slice(first - 1, last).map((root, i) => (first + i === lieAt ? keccak256(Uint8Array.of(7)) : root)),
        witnessHashes: honest.witnessHashes.slice(first - 1, last),
      })
      const inbox = await testInbox(reorgL1.url)
      const snapshot = (await rawRpc(reorgL1.url, 'evm_snapshot')).result as Hex
      await inbox.post(part(1, 5))
      await inbox.post(part(6, 8))
      // From block 7: its header carries the root of block 4 (STATE_ROOT_LAG 3), which batch 0 holds.
      const run = verifyInProcess(['--l1', reorgL1.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '7', '--to', '10'])
      const url = await run.url
      await waitFor('blocks 7 and 8 verified', async () => (await verifierStatus(url)).l1?.verdicts.ok === 2)
      assert.equal((await rawRpc(reorgL1.url, 'evm_revert', [snapshot])).result, true)
      // The new batch 0 says block 4 ended at another root: block 7's header no longer matches the L1.
      await inbox.post(part(1, 5, 4))
      await inbox.post(part(6, 8))
      await inbox.post(part(9, 10))
      const status = await run.result
      assert.equal(status.complete, true)
      assert.deepEqual(firstFailure(status.failed), [7n, 'header.lagged-root'])
      assert.match(run.logs.join('\n'), failedLine(7n, 'header.lagged-root'))
    })

    it('behavior: with VERIFY_L1_CONFIRMATIONS 3, a batch is verified once 2 L1 blocks are on it; one reorged out before that is never verified', async () => {
      const honest = await honestContent(1n, 8n)
      const part = (first: number, last: number) => ({ blocks: honest.blocks.slice(first - 1, last), stateRoots: honest.stateRoots.slice(first - 1, last), witnessHashes: honest.witnessHashes.slice(first - 1, last) })
      const inbox = await testInbox(reorgL1.url)
      await inbox.post(part(1, 5))
      // Two L1 blocks (a frame, then submitBatch) after batch 0's: it is confirmed as batch 1 arrives.
      const snapshot = (await rawRpc(reorgL1.url, 'evm_snapshot')).result as Hex
      await inbox.post({ ...part(6, 8), stateRoots: [...part(6, 8).stateRoots.slice(0, -1), keccak256(Uint8Array.of(7))] })
      const run = verifyInProcess(['--l1', reorgL1.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1', '--verify-l1-confirmations', '3'])
      try {
        const url = await run.url
        await waitFor('batch 0 verified', async () => (await verifierStatus(url)).l1?.verdicts.ok === 5)
        await sleep(1000)
        let status = await verifierStatus(url)
        assert.equal(status.l1!.verdicts.ok + status.l1!.verdicts.failed, 5, 'the unconfirmed lying batch 1 is not verified')
        // Reorged out before it was confirmed, and replaced by an honest batch that then gets 2 blocks on top.
        assert.equal((await rawRpc(reorgL1.url, 'evm_revert', [snapshot])).result, true)
        await inbox.post(part(6, 8))
        await sleep(1000)
        status = await verifierStatus(url)
        assert.equal(status.l1!.verdicts.ok + status.l1!.verdicts.failed, 5, 'batch 1 awaits its confirmations')
        await rawRpc(reorgL1.url, 'anvil_mine', ['0x2'])
        await waitFor('batch 1 verified', async () => (await verifierStatus(url)).l1?.verdicts.ok === 8)
        assert.doesNotMatch(run.logs.join('\n'), /FAILED/)
      } finally {
        run.stop()
        await run.result
      }
    })

    it('behavior: verdicts of a batch an L1 reorg dropped no longer count', async () => {
      const honest = await honestContent(1n, 8n)
      const inbox = await testInbox(reorgL1.url)
      await inbox.post({ blocks: honest.blocks.slice(0, 5), stateRoots: honest.stateRoots.slice(0, 5), witnessHashes: honest.witnessHashes.slice(0, 5) })
      const snapshot = (await rawRpc(reorgL1.url, 'evm_snapshot')).result as Hex
      const lying = { blocks: honest.blocks.slice(5), stateRoots: [...honest.stateRoots.slice(5, -1), keccak256(Uint8Array.of(7))], witnessHashes: honest.witnessHashes.slice(5) }
      await inbox.post(lying)
      // Following (no --to): its status after the reorg is what counts.
      const run = verifyInProcess(['--l1', reorgL1.url, '--inbox', inbox.address, '--rpc', node.url, '--from', '1'])
      try {
        const url = await run.url
        await waitFor('block 8 FAILED', async () => (await health(url)).body.failed.some((f) => f.block === '0x8' && f.code === 'block.post-state-root'))
        assert.equal((await health(url)).code, 503)
        assert.equal((await rawRpc(reorgL1.url, 'evm_revert', [snapshot])).result, true)
        // Batch 1 is gone from the L1, and its FAILED verdict with it (the blocks are not overdue yet).
        const after = await waitFor('/health without the dropped batch’s verdict', async () => {
          const h = await health(url)
          return h.code === 200 ? h : undefined
        }, 10_000)
        assert.deepEqual(after.body.failed, [])
        assert.match(run.logs.join('\n'), /an L1 reorg replaced batches from 1 on/)
        // The honest batch 1 posted again: all verified.
        await inbox.post({ blocks: honest.blocks.slice(5), stateRoots: honest.stateRoots.slice(5), witnessHashes: honest.witnessHashes.slice(5) })
        await waitFor('all 8 blocks ok', async () => (await verifierStatus(url)).l1?.verdicts.ok === 8)
        assert.equal((await health(url)).code, 200)
      } finally {
        run.stop()
        await run.result
      }
    })
  })
})
