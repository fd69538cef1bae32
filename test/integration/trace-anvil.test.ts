/**
 * Tracing, differential against anvil (which prints geth's shapes): the same contracts deployed
 * by the same key at the same nonces on both chains, so every address is equal, the same
 * transactions sent to both, then each tracer's output compared field by field — callTracer
 * (plain, withLog, onlyTopCall), prestateTracer (both modes), the struct logger (op, pc, gas,
 * gasCost, depth, stack, storage) and 4byteTracer, for transactions and for debug_traceCall.
 * What legitimately differs is normalised and named: the fee recipient's balance (the chains
 * charge different base fees).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'
import { jsonDifferences, lower, rpcResult as call } from './json-differences.ts'

const tracee = loadArtifact('Tracee')
const deployer = privateKeyToAccount(DEV_KEYS[2])
const GAS_PRICE = 20_000_000_000n
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'


/** The fee recipient's balance differs legitimately (different base fees): drop it from prestate output. */
function withoutFeeRecipientBalance(value: unknown): unknown {
  const copy = structuredClone(lower(value)) as Record<string, Record<string, unknown>>
  for (const part of 'pre' in copy && 'post' in copy ? [copy.pre!, copy.post!] : [copy]) {
    const entry = (part as Record<string, Record<string, unknown>>)[FEE_RECIPIENT]
    if (entry === undefined) continue
    delete entry.balance
    if (Object.keys(entry).length === 0) delete (part as Record<string, unknown>)[FEE_RECIPIENT]
  }
  return copy
}

type StructLogs = { gas: number; failed: boolean; returnValue: string; structLogs: Record<string, unknown>[] }
/**
 * `storage` is left out: anvil keys a DELEGATECALL frame's storage by the code's address and
 * records a failing SSTORE's old value, where geth (and we) key by the storage owner and record the
 * stack's value; both are checked against geth's rules in 'struct logger: storage as geth keeps it'.
 */
const STRUCT_FIELDS = ['pc', 'op', 'gas', 'gasCost', 'depth', 'stack', 'refund'] as const

/**
 * anvil's CREATE/CREATE2 gasCost includes the gas handed to the init code; geth's (and ours) is the
 * opcode's own cost, the forwarded all-but-1/64th being taken inside the opcode. Where anvil's
 * equals ours plus exactly that, it is taken as ours; anything else stays a difference.
 */
function alignCreateCost(ours: unknown, anvils: unknown): void {
  const a = (ours as StructLogs).structLogs
  const b = (anvils as StructLogs).structLogs
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const mine = a[i]!
    const theirs = b[i]!
    if ((mine.op !== 'CREATE' && mine.op !== 'CREATE2') || mine.op !== theirs.op || mine.gas !== theirs.gas) continue
    const left = (mine.gas as number) - (mine.gasCost as number)
    if (theirs.gasCost === (mine.gasCost as number) + left - Math.floor(left / 64)) theirs.gasCost = mine.gasCost
  }
}

function structView(result: unknown): unknown {
  const r = result as StructLogs
  return {
    gas: r.gas,
    failed: r.failed,
    returnValue: String(r.returnValue).replace(/^0x/, ''),
    // geth omits a zero refund counter (omitempty); anvil prints 0.
    structLogs: r.structLogs.map((log) => Object.fromEntries(STRUCT_FIELDS.filter((f) => log[f] !== undefined).map((f) => [f, lower(log[f])]).concat([['refund', log.refund ?? 0]]))),
  }
}

let mosaic: TestNode
let anvil: Anvil
const txs: { name: string; mosaic: Hex; anvil: Hex }[] = []
let traceeAddress: Hex

async function send(name: string, request: { to?: Hex; data: Hex; value?: bigint; gas: bigint }) {
  const hashes: Hex[] = []
  for (const url of [mosaic.url, anvil.url]) {
    const nonce = await call(url, 'eth_getTransactionCount', [deployer.address, 'pending'])
    const signed = await deployer.signTransaction({
      type: 'legacy',
      chainId: 901,
      nonce: Number(nonce),
      gasPrice: GAS_PRICE,
      gas: request.gas,
      ...(request.to === undefined ? {} : { to: request.to }),
      value: request.value ?? 0n,
      data: request.data,
    })
    hashes.push((await call(url, 'eth_sendRawTransaction', [signed])) as Hex)
  }
  for (const [i, url] of [mosaic.url, anvil.url].entries()) {
    for (let tries = 0; ; tries++) {
      if ((await call(url, 'eth_getTransactionReceipt', [hashes[i]])) !== null) break
      if (tries > 200) throw new Error(`${name} not mined at ${url}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  txs.push({ name, mosaic: hashes[0]!, anvil: hashes[1]! })
  return hashes
}

async function bothTraces(tx: { mosaic: Hex; anvil: Hex }, options: unknown) {
  return [await call(mosaic.url, 'debug_traceTransaction', [tx.mosaic, options]), await call(anvil.url, 'debug_traceTransaction', [tx.anvil, options])] as const
}

describe('tracing, differential against anvil', () => {
  before(async () => {
    ;[mosaic, anvil] = await Promise.all([startNode(), startAnvil(['--chain-id', '901', '--hardfork', 'prague', '--steps-tracing'])])
    // Same starting balance and nonce for the sender, same fee recipient.
    const balance = await call(mosaic.url, 'eth_getBalance', [deployer.address, 'latest'])
    await call(anvil.url, 'anvil_setBalance', [deployer.address, balance])
    await call(anvil.url, 'anvil_setCoinbase', [FEE_RECIPIENT])
    assert.equal(await call(anvil.url, 'eth_getTransactionCount', [deployer.address, 'latest']), await call(mosaic.url, 'eth_getTransactionCount', [deployer.address, 'latest']))
    await send('deploy', { data: tracee.bytecode, gas: 2_000_000n })
    const receipt = (await call(mosaic.url, 'eth_getTransactionReceipt', [txs[0]!.mosaic])) as { contractAddress: Hex }
    traceeAddress = receipt.contractAddress
    const anvilReceipt = (await call(anvil.url, 'eth_getTransactionReceipt', [txs[0]!.anvil])) as { contractAddress: Hex }
    assert.equal(anvilReceipt.contractAddress, traceeAddress, 'same deployer and nonce give the same address on both')
    await send('run', { to: traceeAddress, data: encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [5n] }), gas: 1_000_000n })
    await send('spawn', { to: traceeAddress, data: encodeFunctionData({ abi: tracee.abi, functionName: 'spawn', args: [9n] }), gas: 1_000_000n })
    await send('boom', { to: traceeAddress, data: encodeFunctionData({ abi: tracee.abi, functionName: 'boom', args: ['top-level no'] }), gas: 200_000n })
    await send('transfer', { to: '0x00000000000000000000000000000000000beef1', data: '0x', value: 12345n, gas: 21_000n })
  })
  after(async () => {
    await mosaic?.stop()
    await anvil?.stop()
  })

  it('negative control: the comparator reports a perturbed field', async () => {
    const [ours] = await bothTraces(txs[1]!, { tracer: 'callTracer' })
    const perturbed = structuredClone(ours) as { calls: { gasUsed: string }[] }
    perturbed.calls[0]!.gasUsed = '0x1'
    const found = jsonDifferences(lower(ours), lower(perturbed))
    assert.deepEqual(found, [`$.calls[0].gasused: "${(ours as { calls: { gasUsed: string }[] }).calls[0]!.gasUsed.toLowerCase()}" != "0x1"`])
    assert.deepEqual(jsonDifferences({ a: [1, 2] }, { a: [1] }), ['$.a.length: 2 != 1'])
  })

  for (const [label, options] of [
    ['callTracer', { tracer: 'callTracer' }],
    ['callTracer withLog', { tracer: 'callTracer', tracerConfig: { withLog: true } }],
    ['callTracer onlyTopCall', { tracer: 'callTracer', tracerConfig: { onlyTopCall: true } }],
    ['4byteTracer', { tracer: '4byteTracer' }],
  ] as const) {
    it(`${label}: equal to anvil's for every transaction`, async () => {
      for (const tx of txs) {
        const [ours, theirs] = await bothTraces(tx, options)
        assert.deepEqual(jsonDifferences(lower(ours), lower(theirs)), [], tx.name)
      }
    })
  }

  for (const diffMode of [false, true]) {
    it(`prestateTracer${diffMode ? ' diffMode' : ''}: equal to anvil's for every transaction (fee recipient's balance aside)`, async () => {
      for (const tx of txs) {
        const [ours, theirs] = await bothTraces(tx, { tracer: 'prestateTracer', tracerConfig: { diffMode } })
        assert.deepEqual(jsonDifferences(withoutFeeRecipientBalance(ours), withoutFeeRecipientBalance(theirs)), [], tx.name)
      }
    })
  }

  it('struct logger: op, pc, gas, gasCost, depth, stack, refund of every step equal to anvil\'s', async () => {
    for (const tx of txs) {
      const [ours, theirs] = await bothTraces(tx, {})
      alignCreateCost(ours, theirs)
      const differences = jsonDifferences(structView(ours), structView(theirs))
      assert.deepEqual(differences.slice(0, 10), [], `${tx.name}: ${differences.length} differences`)
      assert.ok((ours as StructLogs).structLogs.length > (tx.name === 'transfer' ? -1 : 50), `${tx.name}: steps were logged`)
    }
  })

  it('struct logger: storage as geth keeps it — per storage owner, SLOAD the loaded value, SSTORE the stored one; memory and returnData on request', async () => {
    const tx = txs.find((t) => t.name === 'run')!
    const result = (await call(mosaic.url, 'debug_traceTransaction', [tx.mosaic, { enableMemory: true, enableReturnData: true }])) as StructLogs
    let checked = 0
    for (const [i, log] of result.structLogs.entries()) {
      const stack = log.stack as string[]
      if (log.op === 'SSTORE' || log.op === 'SLOAD') {
        const slot = BigInt(stack[stack.length - 1]!).toString(16).padStart(64, '0')
        const storage = log.storage as Record<string, string>
        assert.ok(storage[slot] !== undefined, `step ${i}: ${log.op} records its slot`)
        if (log.op === 'SSTORE' && log.error === undefined) assert.equal(BigInt(`0x${storage[slot]}`), BigInt(stack[stack.length - 2]!), `step ${i}: the stored value`)
        if (log.op === 'SLOAD') assert.equal(BigInt(`0x${storage[slot]}`), BigInt((result.structLogs[i + 1]!.stack as string[]).at(-1)!), `step ${i}: the loaded value is what SLOAD pushed`)
        checked++
      } else {
        assert.equal(log.storage, undefined, `step ${i}: only SLOAD/SSTORE carry storage`)
      }
      const memory = log.memory as string[]
      assert.ok(Array.isArray(memory) && memory.every((word) => /^[0-9a-f]{64}$/.test(word)), `step ${i}: memory as 32-byte words`)
    }
    assert.ok(checked >= 6, `SLOAD/SSTOREs checked: ${checked}`)
    // After the first CALL returns, its output (set(5) returned 10) is the caller's return data.
    assert.ok(result.structLogs.some((log) => log.returnData === `0x${(10).toString(16).padStart(64, '0')}`), 'returnData of the nested call is shown')
    // The faulting SSTORE of the out-of-gas loop carries geth's error.
    assert.ok(result.structLogs.some((log) => log.op === 'SSTORE' && log.error === 'out of gas: not enough gas for reentrancy sentry'))
    const limited = (await call(mosaic.url, 'debug_traceTransaction', [tx.mosaic, { limit: 10, disableStack: true, disableStorage: true }])) as StructLogs
    assert.equal(limited.structLogs.length, 10)
    assert.ok(limited.structLogs.every((log) => log.stack === undefined && log.storage === undefined && log.memory === undefined))
  })

  it('debug_traceCall: callTracer and struct logs of a call at the latest block equal to anvil\'s', async () => {
    const request = { from: deployer.address, to: traceeAddress, data: encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [7n] }), gas: '0xf4240' }
    for (const options of [{ tracer: 'callTracer', tracerConfig: { withLog: true } }, {}]) {
      const ours = await call(mosaic.url, 'debug_traceCall', [request, 'latest', options])
      const theirs = await call(anvil.url, 'debug_traceCall', [request, 'latest', options])
      const differences = 'tracer' in options ? jsonDifferences(lower(ours), lower(theirs)) : jsonDifferences(structView(ours), structView(theirs))
      assert.deepEqual(differences.slice(0, 10), [], JSON.stringify(options))
    }
  })
})
