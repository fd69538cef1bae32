/**
 * The tracing methods as a client meets them: a whole block traced equals its transactions traced
 * one by one, by number and by hash; the limits (RPC_TRACE_TIMEOUT_MS and a call's `timeout`,
 * RPC_TRACE_MAX_BYTES) refuse a trace with an error naming the limit while the node keeps sealing
 * blocks and answering; bad input and blocks outside the history window get clear errors.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'

const tracee = loadArtifact('Tracee')
const ADMIN = { authorization: 'Bearer test-token' }
/** Init code that never returns: JUMPDEST PUSH1 0 JUMP — a call that runs until its gas is gone. */
const LOOP = '0x5b600056'

const nodes: TestNode[] = []
after(async () => {
  for (const node of nodes) await node.stop()
})

/** Seals the next block, retrying while the sequencer has nothing ready yet (null). */
async function seal(url: string): Promise<bigint> {
  for (let tries = 0; tries < 100; tries++) {
    const sealed = await rawRpc(url, 'admin_sealBlock', [], ADMIN)
    assert.equal(sealed.error, undefined, JSON.stringify(sealed))
    if (typeof sealed.result === 'string') return BigInt(sealed.result)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('admin_sealBlock sealed nothing')
}

async function ok(node: TestNode, method: string, params: unknown[]): Promise<unknown> {
  const response = await node.rpc(method, params)
  assert.equal(response.error, undefined, `${method}: ${JSON.stringify(response.error)}`)
  return response.result
}

async function sendSigned(node: TestNode, key: Hex, nonce: number, request: { to?: Hex; data: Hex; gas: bigint }): Promise<Hex> {
  const account = privateKeyToAccount(key)
  const raw = await account.signTransaction({ type: 'legacy', chainId: 901, nonce, gasPrice: 20_000_000_000n, gas: request.gas, data: request.data, ...(request.to === undefined ? {} : { to: request.to }) })
  return (await ok(node, 'eth_sendRawTransaction', [raw])) as Hex
}

describe('debug_trace* over JSON-RPC', () => {
  it('debug_traceBlockByNumber and ByHash: each transaction of a block traced as debug_traceTransaction traces it, from the same parent state', async () => {
    const node = await startNode(['--block-time-ms', '3600000', '--history-blocks', '3'])
    nodes.push(node)
    const deploy = await sendSigned(node, DEV_KEYS[0], 0, { data: tracee.bytecode, gas: 2_000_000n })
    await seal(node.url)
    const address = ((await ok(node, 'eth_getTransactionReceipt', [deploy])) as { contractAddress: Hex }).contractAddress
    // Three transactions in one block, the later ones reading what the earlier ones wrote.
    const hashes = [
      await sendSigned(node, DEV_KEYS[0], 1, { to: address, data: encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [3n] }), gas: 1_000_000n }),
      await sendSigned(node, DEV_KEYS[1], 0, { to: address, data: encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [4n] }), gas: 1_000_000n }),
      await sendSigned(node, DEV_KEYS[0], 2, { to: address, data: encodeFunctionData({ abi: tracee.abi, functionName: 'boom', args: ['no'] }), gas: 200_000n }),
    ]
    const number = await seal(node.url)
    const block = (await ok(node, 'eth_getBlockByNumber', [`0x${number.toString(16)}`, false])) as { hash: Hex; transactions: Hex[] }
    assert.deepEqual(block.transactions, hashes, 'all three in one block')
    for (const options of [{ tracer: 'callTracer', tracerConfig: { withLog: true } }, { tracer: 'prestateTracer', tracerConfig: { diffMode: true } }, {}]) {
      const byNumber = (await ok(node, 'debug_traceBlockByNumber', [`0x${number.toString(16)}`, options])) as { txHash: Hex; result: unknown }[]
      const byHash = await ok(node, 'debug_traceBlockByHash', [block.hash, options])
      assert.deepEqual(byHash, byNumber)
      assert.deepEqual(byNumber.map((r) => r.txHash), hashes)
      for (const [i, hash] of hashes.entries()) assert.deepEqual(byNumber[i]!.result, await ok(node, 'debug_traceTransaction', [hash, options]), `tx ${i} ${JSON.stringify(options)}`)
    }
    // The second run() sees the first's write: total 3 before it, and its log index follows the first's 3 logs.
    const second = (await ok(node, 'debug_traceTransaction', [hashes[1], { tracer: 'prestateTracer' }])) as Record<string, { storage?: Record<string, string> }>
    assert.equal(BigInt(second[address.toLowerCase()]!.storage!['0x0000000000000000000000000000000000000000000000000000000000000000']!), 4n, 'slot 0 as the first tx left it (its delegatecall wrote v+1)')
    const secondCalls = (await ok(node, 'debug_traceTransaction', [hashes[1], { tracer: 'callTracer', tracerConfig: { withLog: true } }])) as { logs: { index: string }[] }
    const receipts = (await ok(node, 'eth_getTransactionReceipt', [hashes[1]])) as { logs: { logIndex: string }[] }
    assert.equal(secondCalls.logs[0]!.index, receipts.logs[0]!.logIndex, 'log index as the receipt has it')
    const failed = (await ok(node, 'debug_traceTransaction', [hashes[2], { tracer: 'callTracer' }])) as { error: string; revertReason: string }
    assert.deepEqual([failed.error, failed.revertReason], ['execution reverted', 'no'])

    // Outside the history window (3 blocks): refused as a state read there is.
    // A transfer in each, so every seal makes a block.
    for (let i = 0; i < 4; i++) {
      await sendSigned(node, DEV_KEYS[2], i, { to: '0x00000000000000000000000000000000000beef3', data: '0x', gas: 21_000n })
      await seal(node.url)
    }
    const old = await node.rpc('debug_traceTransaction', [hashes[0], {}])
    assert.equal(old.error?.code, -32000)
    assert.match(old.error!.message, /state at block \d+ is not available: this node keeps the state of the last 3 blocks \(HISTORY_BLOCKS\)/)
    const oldBlock = await node.rpc('debug_traceBlockByNumber', [`0x${number.toString(16)}`, {}])
    assert.match(oldBlock.error?.message ?? '', /not available/)
  })

  it('bad input: unknown tracer, bad options, unknown or malformed hash, unknown block, overrides — each a clear error', async () => {
    const node = await startNode()
    nodes.push(node)
    const tx = await sendSigned(node, DEV_KEYS[0], 0, { to: '0x00000000000000000000000000000000000beef2', data: '0x', gas: 21_000n })
    for (let i = 0; ; i++) {
      if ((await ok(node, 'eth_getTransactionReceipt', [tx])) !== null) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const cases: [string, unknown[], number, RegExp][] = [
      ['debug_traceTransaction', [tx, { tracer: 'jsTracer' }], -32602, /tracer not found: "jsTracer" \(available: callTracer, prestateTracer, 4byteTracer/],
      ['debug_traceTransaction', [tx, { tracer: '{ step: function() {} }' }], -32602, /JavaScript tracers are not supported/],
      ['debug_traceTransaction', [tx, { enableMemory: 'yes' }], -32602, /invalid trace config\.enableMemory: expected true or false, got "yes"/],
      ['debug_traceTransaction', [tx, { limit: -1 }], -32602, /invalid trace config\.limit: expected a non-negative integer/],
      ['debug_traceTransaction', [tx, { timeout: 'soon' }], -32602, /invalid trace config\.timeout: expected a duration like "10s"/],
      ['debug_traceTransaction', [tx, { enableMemroy: true }], -32602, /unknown option "enableMemroy"/],
      ['debug_traceTransaction', [tx, { tracer: 'callTracer', tracerConfig: { diffMode: true } }], -32602, /unknown option "diffMode" for callTracer \(known: onlyTopCall, withLog\)/],
      ['debug_traceTransaction', [tx, { tracer: 'prestateTracer', tracerConfig: { diffMode: 1 } }], -32602, /tracerConfig\.diffMode: expected true or false/],
      ['debug_traceTransaction', [`0x${'ab'.repeat(32)}`, {}], -32000, /transaction 0xabab.* not found/],
      ['debug_traceTransaction', ['0x1234', {}], -32602, /invalid transaction hash: expected 32 bytes/],
      ['debug_traceBlockByNumber', ['0xffffff', {}], -32000, /header not found/],
      ['debug_traceBlockByNumber', ['0x0', {}], -32000, /genesis is not traceable/],
      ['debug_traceBlockByHash', [`0x${'cd'.repeat(32)}`, {}], -32000, /block 0xcdcd.* not found/],
      ['debug_traceCall', [{ to: '0x00000000000000000000000000000000000beef2' }, 'latest', { stateOverrides: { '0x00000000000000000000000000000000000beef2': { state: {}, stateDiff: {} } } }], -32602, /has both 'state' and 'stateDiff'/],
      ['debug_traceCall', [{ to: '0x00000000000000000000000000000000000beef2' }, 'latest', { blockOverrides: { number: 7 } }], -32602, /invalid blockOverrides.number/],
      ['debug_traceCall', [{ to: '0x00000000000000000000000000000000000beef2', gas: '0xffffffffff' }, 'latest', {}], -32602, /exceeds the RPC gas cap/],
    ]
    for (const [method, params, code, message] of cases) {
      const response = await node.rpc(method, params)
      assert.equal(response.error?.code, code, `${method} ${JSON.stringify(params)}: ${JSON.stringify(response)}`)
      assert.match(response.error!.message, message)
    }
    // The same transaction with good options is traced (the errors above are the options' fault).
    assert.equal(((await ok(node, 'debug_traceTransaction', [tx, { tracer: 'callTracer' }])) as { type: string }).type, 'CALL')
  })

  it('limits: a trace over RPC_TRACE_TIMEOUT_MS is refused naming the limit while blocks keep being sealed; a call\'s timeout lowers it', async (t) => {
    const node = await startNode(['--block-time-ms', '50', '--empty-blocks', 'true', '--rpc-trace-timeout-ms', '2000'])
    nodes.push(node)
    const headBefore = BigInt((await ok(node, 'eth_blockNumber', [])) as string)
    const started = Date.now()
    // While the trace runs, the node answers and seals: poll the head every 100 ms.
    const heads: bigint[] = []
    let tracing = true
    const poller = (async () => {
      while (tracing) {
        heads.push(BigInt((await ok(node, 'eth_blockNumber', [])) as string))
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    const response = await node.rpc('debug_traceCall', [{ data: LOOP, gas: '0x2faf080' }, 'latest', { enableMemory: true }])
    const elapsed = Date.now() - started
    tracing = false
    await poller
    assert.equal(response.error?.code, -32000, JSON.stringify(response).slice(0, 300))
    assert.match(response.error!.message, /trace exceeded its timeout of 2000 ms \(RPC_TRACE_TIMEOUT_MS/)
    assert.ok(elapsed >= 2000 && elapsed < 6000, `refused after ${elapsed} ms`)
    const headAfter = heads[heads.length - 1]!
    assert.ok(heads.length >= 10, `the node answered ${heads.length} polls during the trace`)
    assert.ok(headAfter - headBefore >= 10n, `head advanced ${headAfter - headBefore} blocks during a ${elapsed} ms trace`)
    t.diagnostic(`refused after ${elapsed} ms; head advanced ${headAfter - headBefore} blocks; ${heads.length} polls answered meanwhile`)

    const quick = Date.now()
    const lowered = await node.rpc('debug_traceCall', [{ data: LOOP, gas: '0x2faf080' }, 'latest', { tracer: 'callTracer', timeout: '300ms' }])
    assert.match(lowered.error?.message ?? '', /timeout of 300 ms/)
    assert.ok(Date.now() - quick < 1500, `the call's own timeout applied (${Date.now() - quick} ms)`)
    // A per-call timeout cannot raise the node's limit.
    const raised = await node.rpc('debug_traceCall', [{ data: LOOP, gas: '0x2faf080' }, 'latest', { tracer: 'callTracer', timeout: '1h' }])
    assert.match(raised.error?.message ?? '', /timeout of 2000 ms/)
  })

  it('limits: a trace over RPC_TRACE_MAX_BYTES is refused naming the cap; a smaller one under the same cap is served', async (t) => {
    const node = await startNode(['--rpc-trace-max-bytes', '1000000'])
    nodes.push(node)
    const big = await node.rpc('debug_traceCall', [{ data: LOOP, gas: '0x989680' }, 'latest', {}])
    assert.equal(big.error?.code, -32000)
    assert.match(big.error!.message, /trace result exceeds the size cap of 1000000 bytes \(RPC_TRACE_MAX_BYTES\)/)
    // Control: the same call with 56,000 gas (3,000 after the intrinsic gas) makes a trace under the cap.
    const small = await ok(node, 'debug_traceCall', [{ data: LOOP, gas: '0xdac0' }, 'latest', {}])
    const size = JSON.stringify(small).length
    assert.ok(size > 30_000 && size < 1_000_000, `served ${size} bytes`)
    t.diagnostic(`a 56,000-gas loop's struct logs: ${size} bytes of JSON`)
    assert.equal((small as { failed: boolean }).failed, true)
    // Limits are per call: the node still traces after refusing.
    assert.equal(((await ok(node, 'debug_traceCall', [{ data: LOOP, gas: '0xdac0' }, 'latest', { tracer: 'callTracer' }])) as { error: string }).error, 'out of gas')
  })
})
