/**
 * The HTTP / JSON-RPC 2.0 layer, driven with plain `fetch`: request validation (JSON-RPC 2.0 §4,
 * §5.1 codes), batches (§6), notifications, the configured limits (-32005 as geth reports
 * them), block tags, the admin token, /health and /metrics — and that nothing a client sends
 * stops the server from answering.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { rawRpc, startNode, type TestNode } from './harness.ts'

type JsonRpcError = { code: number; message: string; data?: unknown }
type JsonRpcResponse = { jsonrpc: string; id: unknown; result?: unknown; error?: JsonRpcError }

const ALICE = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

describe('JSON-RPC over HTTP', () => {
  let t: TestNode

  /** POST a raw body; returns the HTTP status, the parsed body (or undefined when empty) and the text. */
  async function post(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
    const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }
    if (typeof body !== 'string') init.duplex = 'half'
    const response = await fetch(t.url, init)
    const text = await response.text()
    return { status: response.status, text, json: text === '' ? undefined : (JSON.parse(text) as unknown) }
  }

  async function call(method: string, params: unknown): Promise<JsonRpcResponse> {
    const { json } = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }))
    return json as JsonRpcResponse
  }

  function assertError(response: unknown, code: number, message?: RegExp, id: unknown = undefined): JsonRpcError {
    const r = response as JsonRpcResponse
    assert.equal(r.jsonrpc, '2.0')
    assert.equal(r.result, undefined, `expected an error, got ${JSON.stringify(r.result)}`)
    assert.ok(r.error, 'expected an error object')
    assert.equal(r.error.code, code, r.error.message)
    if (message !== undefined) assert.match(r.error.message, message)
    if (id !== undefined) assert.equal(r.id, id)
    return r.error
  }

  before(async () => {
    t = await startNode([
      '--rpc-max-batch', '3',
      '--rpc-max-body-bytes', '2000',
      '--rpc-getlogs-max-range', '5',
      '--rpc-gas-cap', '100000',
      '--empty-blocks', 'true',
      '--block-time-ms', '20',
    ])
    // Enough blocks for block ranges and historical queries.
    const deadline = Date.now() + 10_000
    while (BigInt((await t.rpc('eth_blockNumber')).result as string) < 8n) {
      if (Date.now() > deadline) throw new Error('the node did not produce 8 empty blocks in 10 s')
      await new Promise((r) => setTimeout(r, 20))
    }
  })
  after(async () => {
    await t?.stop()
  })

  it('default: a request is answered with its id', async () => {
    const { status, json } = await post(JSON.stringify({ jsonrpc: '2.0', id: 'abc', method: 'eth_chainId', params: [] }))
    assert.equal(status, 200)
    assert.deepEqual(json, { jsonrpc: '2.0', id: 'abc', result: '0x385' })
  })

  it('behavior: malformed JSON is a parse error with id null', async () => {
    const { status, json } = await post('{"jsonrpc":"2.0","id":1,"method":"eth_chainId"')
    assert.equal(status, 200)
    assertError(json, -32700, /parse error/, null)
  })

  it('behavior: a non-object request is an invalid request', async () => {
    for (const body of ['1', '"eth_chainId"', 'null', 'true']) {
      assertError((await post(body)).json, -32600, /invalid request/, null)
    }
  })

  it('behavior: missing or wrong jsonrpc version is an invalid request', async () => {
    assertError((await post(JSON.stringify({ id: 1, method: 'eth_chainId', params: [] }))).json, -32600, /jsonrpc/, 1)
    assertError((await post(JSON.stringify({ jsonrpc: '1.0', id: 2, method: 'eth_chainId' }))).json, -32600, /jsonrpc/, 2)
  })

  it('behavior: a missing method or an invalid id is an invalid request', async () => {
    assertError((await post(JSON.stringify({ jsonrpc: '2.0', id: 1, params: [] }))).json, -32600, /method/, 1)
    assertError((await post(JSON.stringify({ jsonrpc: '2.0', id: { a: 1 }, method: 'eth_chainId' }))).json, -32600, /id/, null)
  })

  it('behavior: unknown method', async () => {
    assertError(await call('eth_noSuchMethod', []), -32601, /eth_noSuchMethod/, 7)
    // Names of Object.prototype members are not methods.
    for (const method of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) assertError(await call(method, []), -32601)
  })

  it('behavior: wrong params name the parameter', async () => {
    assertError(await call('eth_getBalance', ['0x1234', 'latest']), -32602, /address/)
    assertError(await call('eth_getBalance', [ALICE, 'foo']), -32602, /block/)
    assertError(await call('eth_getBlockByNumber', ['foo', false]), -32602, /invalid block.*"foo"/)
    assertError(await call('eth_getBlockByNumber', ['latest', 'yes']), -32602, /hydrated/)
    assertError(await call('eth_getTransactionByHash', ['0x12']), -32602, /transaction hash/)
  })

  it('behavior: eth_feeHistory with a non-integer blockCount is invalid params, not an internal error', async () => {
    // Regression: a JSON number blockCount went through BigInt() unchecked, and 1.5 threw a RangeError (-32603).
    assertError(await call('eth_feeHistory', [1.5, 'latest']), -32602, /blockCount/)
    assertError(await call('eth_feeHistory', [0, 'latest']), -32602, /blockCount/)
    const ok = await call('eth_feeHistory', [2, 'latest', [50]])
    assert.equal(ok.error, undefined)
  })

  it('behavior: params given as an object are invalid params', async () => {
    assertError(await call('eth_getBalance', { address: ALICE, block: 'latest' }), -32602, /params/)
    assertError(await call('eth_chainId', 'latest'), -32602, /params/)
  })

  it('behavior: a batch answers each request in order', async () => {
    const { status, json } = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
        { jsonrpc: '2.0', id: 'two', method: 'eth_nope', params: [] },
        { jsonrpc: '2.0', id: 3, method: 'eth_getBalance', params: ['0xzz', 'latest'] },
      ]),
    )
    assert.equal(status, 200)
    assert.ok(Array.isArray(json))
    assert.equal(json.length, 3)
    assert.deepEqual(json[0], { jsonrpc: '2.0', id: 1, result: '0x385' })
    assertError(json[1], -32601, /eth_nope/, 'two')
    assertError(json[2], -32602, /address/, 3)
  })

  it('behavior: a batch leaves out notifications and reports invalid entries with id null', async () => {
    const { json } = await post(
      JSON.stringify([
        { jsonrpc: '2.0', method: 'eth_chainId', params: [] },
        42,
        { jsonrpc: '2.0', id: 9, method: 'eth_blockNumber', params: [] },
      ]),
    )
    assert.ok(Array.isArray(json))
    assert.equal(json.length, 2)
    assertError(json[0], -32600, /invalid request/, null)
    assert.equal((json[1] as JsonRpcResponse).id, 9)
    assert.match(String((json[1] as JsonRpcResponse).result), /^0x[0-9a-f]+$/)
  })

  it('behavior: an empty batch is an invalid request', async () => {
    const { json } = await post('[]')
    assertError(json, -32600, /empty batch/, null)
  })

  it('behavior: a batch over --rpc-max-batch is refused naming the limit', async () => {
    const request = { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }
    const { json } = await post(JSON.stringify([request, request, request, request]))
    assertError(json, -32600, /batch too large: 4 requests, limit 3/, null)
  })

  it('behavior: a body over --rpc-max-body-bytes is refused with HTTP 413', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_sha3', params: [`0x${'ab'.repeat(1500)}`] })
    const { status, json } = await post(body)
    assert.equal(status, 413)
    assertError(json, -32005, /request body too large: \d+ bytes, limit 2000/, null)
  })

  it('behavior: a chunked body over the limit (no content-length) is refused too', async () => {
    const chunk = new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_sha3', params: [`0x${'ab'.repeat(1500)}`] }))
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk.subarray(0, 1000))
        controller.enqueue(chunk.subarray(1000))
        controller.close()
      },
    })
    const { status, json } = await post(stream)
    assert.equal(status, 413)
    assertError(json, -32005, /limit 2000/, null)
  })

  it('behavior: a notification gets no body', async () => {
    const { status, text } = await post(JSON.stringify({ jsonrpc: '2.0', method: 'eth_chainId', params: [] }))
    assert.equal(status, 204)
    assert.equal(text, '')
    // Even a failing notification is not answered.
    const failing = await post(JSON.stringify({ jsonrpc: '2.0', method: 'eth_noSuchMethod', params: [] }))
    assert.equal(failing.status, 204)
    assert.equal(failing.text, '')
  })

  it('behavior: a request with id null is answered (it is not a notification)', async () => {
    const { status, json } = await post(JSON.stringify({ jsonrpc: '2.0', id: null, method: 'eth_chainId', params: [] }))
    assert.equal(status, 200)
    assert.deepEqual(json, { jsonrpc: '2.0', id: null, result: '0x385' })
  })

  it('behavior: eth_getLogs over --rpc-getlogs-max-range is a limit error', async () => {
    const error = assertError(await call('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x5' }]), -32005)
    assert.match(error.message, /^query exceeds max block range 5/)
    const ok = await call('eth_getLogs', [{ fromBlock: '0x1', toBlock: '0x5' }])
    assert.equal(ok.error, undefined, ok.error?.message)
    assert.deepEqual(ok.result, [])
  })

  it('behavior: eth_call with gas above --rpc-gas-cap is invalid params', async () => {
    assertError(await call('eth_call', [{ from: ALICE, to: ALICE, gas: '0x186a1' }, 'latest']), -32602, /gas 100001 exceeds the RPC gas cap 100000/)
    assertError(await call('eth_estimateGas', [{ from: ALICE, to: ALICE, gas: '0x186a1' }]), -32602, /RPC gas cap/)
    const ok = await call('eth_call', [{ from: ALICE, to: ALICE, gas: '0x186a0' }, 'latest'])
    assert.equal(ok.result, '0x')
  })

  it('behavior: eth_getBlockByNumber accepts every block tag and a number', async () => {
    const head = BigInt((await call('eth_blockNumber', [])).result as string)
    for (const tag of ['latest', 'pending', 'safe', 'finalized', 'earliest', '0x2']) {
      const response = await call('eth_getBlockByNumber', [tag, false])
      assert.equal(response.error, undefined, `${tag}: ${response.error?.message}`)
      const block = response.result as { number: string; hash: string } | null
      assert.ok(block, `${tag} returned null`)
      assert.match(block.hash, /^0x[0-9a-f]{64}$/)
      const number = BigInt(block.number)
      if (tag === 'earliest') assert.equal(number, 0n)
      else if (tag === '0x2') assert.equal(number, 2n)
      else assert.ok(number >= head, `${tag}: block ${number} is before the head ${head}`)
    }
    // Past the head: null, not an error.
    assert.equal((await call('eth_getBlockByNumber', ['0xffffff', false])).result, null)
  })

  it('behavior: state at an old block is served (the devnet keeps every block\'s); past the head is not found', async () => {
    const hash = await t.wallet(0).sendTransaction({ to: ALICE, value: 1n, chain: null } as never)
    await t.publicClient.waitForTransactionReceipt({ hash })
    // At genesis ALICE had sent nothing.
    assert.equal((await call('eth_getTransactionCount', [ALICE, 'earliest'])).result, '0x0')
    assert.notEqual((await call('eth_getTransactionCount', [ALICE, 'latest'])).result, '0x0')
    assert.match(String((await call('eth_getBalance', [ALICE, '0x1'])).result), /^0x[0-9a-f]+$/)
    assertError(await call('eth_getBalance', [ALICE, '0xffffff']), -32000, /header not found/)
  })

  it('behavior: admin_sealBlock needs the admin token', async () => {
    assertError(await rawRpc(t.url, 'admin_sealBlock', []), -32001, /Authorization/)
    assertError(await rawRpc(t.url, 'admin_sealBlock', [], { authorization: 'Bearer wrong-token' }), -32001)
    const sealed = await rawRpc(t.url, 'admin_sealBlock', [], { authorization: 'Bearer test-token' })
    assert.equal(sealed.error, undefined, sealed.error?.message)
    assert.ok('result' in sealed)
    assert.match(String(sealed.result), /^0x[0-9a-f]+$/) // --empty-blocks: sealing always makes a block
  })

  it('behavior: GET /health reports the head', async () => {
    const response = await fetch(`${t.url}/health`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /application\/json/)
    const body = (await response.json()) as { status: string; head: number }
    assert.equal(body.status, 'ok')
    assert.equal(typeof body.head, 'number')
    assert.ok(body.head >= 8)
  })

  it('behavior: GET /metrics exposes block, mempool and per-method RPC metrics', async () => {
    await call('eth_chainId', [])
    const response = await fetch(`${t.url}/metrics`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/)
    const text = await response.text()
    assert.match(text, /^mosaic_blocks_total \d+$/m)
    assert.match(text, /^mosaic_mempool_transactions \d+$/m)
    assert.ok(text.includes('mosaic_rpc_request_seconds_bucket{method="eth_chainId"'), 'per-method latency histogram')
    assert.match(text, /^mosaic_rpc_errors_total\{method="unknown",code="-32601"\} \d+$/m)
  })

  it('behavior: one keep-alive connection serves POST /, then GET /health (node:http takes it over), then POST / again', async () => {
    const { port } = new URL(t.url)
    const socket = connect(Number(port), '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => (received += text))
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] })
    const postText = `POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
    const answered = async (count: number) => {
      const deadline = Date.now() + 5000
      while ((received.match(/HTTP\/1\.1 200/g) ?? []).length < count || !received.trimEnd().endsWith('}')) {
        if (Date.now() > deadline) throw new Error(`no answer ${count}: ${received}`)
        await new Promise((r) => setTimeout(r, 10))
      }
    }
    socket.write(postText)
    await answered(1)
    socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n')
    await answered(2)
    socket.write(postText)
    await answered(3)
    socket.destroy()
    const bodies = received.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((answer) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>)
    assert.equal(bodies[0]!.result, '0x385')
    assert.equal(bodies[1]!.status, 'ok')
    assert.equal(bodies[2]!.result, '0x385')
  })

  it('behavior: after all of the above the server still answers', async () => {
    const response = await rawRpc(t.url, 'eth_chainId', [])
    assert.equal(response.result, '0x385')
  })
})
