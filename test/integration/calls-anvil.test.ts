/**
 * Calls with overrides, access lists and eth_simulateV1, differential against anvil (which answers
 * in geth's shapes): the same contract deployed by the same key at the same nonce on both chains,
 * then the same requests sent to both and the answers compared. Each comparison has a negative
 * control: the same request without the override answers differently, so an ignored override
 * cannot pass.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, encodeFunctionData, http, type Hex, numberToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { DEV_KEYS, mosaicChain, rawRpc, startNode, type TestNode } from './harness.ts'
import { jsonDifferences, lower, rpcResult as call } from './json-differences.ts'

const tracee = loadArtifact('Tracee')
const deployer = privateKeyToAccount(DEV_KEYS[2])
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
const PROBE = '0x00000000000000000000000000000000000c0de1'
const OTHER = '0x00000000000000000000000000000000000beef1'

/** Bytecode returning the 32-byte words pushed by `ops` (each an opcode byte), in order. */
function returning(ops: number[]): Hex {
  let code = ''
  ops.forEach((op, i) => {
    code += op.toString(16).padStart(2, '0') // the value
    code += `60${(i * 32).toString(16).padStart(2, '0')}52` // PUSH1 offset, MSTORE
  })
  code += `61${(ops.length * 32).toString(16).padStart(4, '0')}6000f3` // PUSH2 size, PUSH1 0, RETURN
  return `0x${code}`
}

// SELFBALANCE, NUMBER, TIMESTAMP, COINBASE, PREVRANDAO, BASEFEE, GASLIMIT, CHAINID
const ENVIRONMENT = returning([0x47, 0x43, 0x42, 0x41, 0x44, 0x48, 0x45, 0x46])
// SELFBALANCE, CHAINID
const BALANCE_AND_CHAIN = returning([0x47, 0x46])
// CREATE(0, 0, 0): the new address depends on the creator's nonce; then SLOAD(0) and SLOAD(1).
const CREATE_AND_LOAD: Hex = '0x600060006000f060005260005460205260015460405260606000f3'


/** An access list as a sorted set: the order of entries is not part of the answer. */
function accessListSet(list: unknown): string[] {
  return (list as { address: string; storageKeys: string[] }[]).flatMap(({ address, storageKeys }) => [address.toLowerCase(), ...storageKeys.map((k) => `${address}:${k}`.toLowerCase())]).sort()
}

let mosaic: TestNode
let anvil: Anvil
let traceeAddress: Hex

describe('calls with overrides, access lists and eth_simulateV1, differential against anvil', () => {
  const both = async (method: string, params: unknown[]) => [await call(mosaic.url, method, params), await call(anvil.url, method, params)] as const

  before(async () => {
    ;[mosaic, anvil] = await Promise.all([startNode(), startAnvil(['--chain-id', '901', '--hardfork', 'prague'])])
    const balance = await call(mosaic.url, 'eth_getBalance', [deployer.address, 'latest'])
    await call(anvil.url, 'anvil_setBalance', [deployer.address, balance])
    await call(anvil.url, 'anvil_setCoinbase', [FEE_RECIPIENT])
    const hashes: Hex[] = []
    for (const url of [mosaic.url, anvil.url]) {
      const nonce = Number(await call(url, 'eth_getTransactionCount', [deployer.address, 'pending']))
      const signed = await deployer.signTransaction({ type: 'legacy', chainId: 901, nonce, gasPrice: 20_000_000_000n, gas: 2_000_000n, data: tracee.bytecode })
      hashes.push((await call(url, 'eth_sendRawTransaction', [signed])) as Hex)
    }
    const addresses: Hex[] = []
    for (const [i, url] of [mosaic.url, anvil.url].entries()) {
      for (let tries = 0; ; tries++) {
        const receipt = (await call(url, 'eth_getTransactionReceipt', [hashes[i]])) as { contractAddress: Hex } | null
        if (receipt !== null) {
          addresses.push(receipt.contractAddress)
          break
        }
        if (tries > 200) throw new Error(`deploy not mined at ${url}`)
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
    assert.equal(addresses[0], addresses[1], 'same deployer and nonce give the same address on both')
    traceeAddress = addresses[0]!
    // Both at the same state for the contract: run it once on each.
  })
  after(async () => {
    await mosaic?.stop()
    await anvil?.stop()
  })

  it('negative control: the comparison notices a difference', () => {
    assert.deepEqual(jsonDifferences(lower('0x01'), lower('0x02')), ['$: "0x01" != "0x02"'])
    assert.notDeepEqual(accessListSet([{ address: OTHER, storageKeys: [] }]), accessListSet([]))
  })

  it('eth_call with state overrides: balance, code, nonce, state and stateDiff answer as on anvil', async () => {
    const total = encodeFunctionData({ abi: tracee.abi, functionName: 'total' })
    const child = encodeFunctionData({ abi: tracee.abi, functionName: 'child' })
    const slot0 = numberToHex(0, { size: 32 })
    const slot1 = numberToHex(1, { size: 32 })
    const cases: [string, unknown[], unknown[]][] = [
      ['balance and code', [{ to: PROBE, data: '0x' }, 'latest', { [PROBE]: { balance: '0x1234', code: BALANCE_AND_CHAIN } }], [{ to: PROBE, data: '0x' }, 'latest']],
      ['nonce (CREATE address) and stateDiff', [{ to: PROBE }, 'latest', { [PROBE]: { code: CREATE_AND_LOAD, nonce: '0x7', stateDiff: { [slot1]: numberToHex(9, { size: 32 }) } } }], [{ to: PROBE }, 'latest', { [PROBE]: { code: CREATE_AND_LOAD } }]],
      ['stateDiff on a contract', [{ to: traceeAddress, data: total }, 'latest', { [traceeAddress]: { stateDiff: { [slot0]: numberToHex(77, { size: 32 }) } } }], [{ to: traceeAddress, data: total }, 'latest']],
      ['state replaces every slot', [{ to: traceeAddress, data: child }, 'latest', { [traceeAddress]: { state: { [slot0]: numberToHex(5, { size: 32 }) } } }], [{ to: traceeAddress, data: child }, 'latest']],
      ['an account the chain does not have', [{ to: OTHER, data: '0x' }, 'latest', { [OTHER]: { code: CREATE_AND_LOAD, state: { [slot0]: numberToHex(3, { size: 32 }) } } }], [{ to: OTHER, data: '0x' }, 'latest']],
    ]
    for (const [name, withOverride, without] of cases) {
      const [ours, theirs] = await both('eth_call', withOverride)
      assert.deepEqual(jsonDifferences(lower(ours), lower(theirs)), [], name)
      assert.notEqual(ours, await call(mosaic.url, 'eth_call', without), `${name}: the override changed the answer`)
    }
  })

  it('eth_call with movePrecompileToAddress (geth\'s rule; anvil does not move precompiles): the precompile answers at its new address, its own address runs the code given', async () => {
    const identity = '0x0000000000000000000000000000000000000004'
    const moved = '0x0000000000000000000000000000000000001234'
    const overrides = { [identity]: { code: BALANCE_AND_CHAIN, movePrecompileToAddress: moved } }
    // anvil 1.x answers '0x' at the new address (it does not move precompiles): geth's rule is checked here.
    const atNew = await call(mosaic.url, 'eth_call', [{ to: moved, data: '0xdeadbeef' }, 'latest', overrides])
    assert.equal(atNew, '0xdeadbeef', 'identity answers at its new address')
    assert.equal(await call(mosaic.url, 'eth_call', [{ to: moved, data: '0xdeadbeef' }, 'latest']), '0x', 'negative control: without the move nothing answers there')
    // anvil also keeps the precompile at its old address, ignoring the code given there.
    const atOld = await call(mosaic.url, 'eth_call', [{ to: identity, data: '0xdeadbeef' }, 'latest', overrides])
    assert.equal(atOld, `${numberToHex(0, { size: 32 })}${numberToHex(901, { size: 32 }).slice(2)}`, 'the old address runs the code given: SELFBALANCE 0, CHAINID 901')
    const refused = await rawRpc(mosaic.url, 'eth_call', [{ to: moved }, 'latest', { [OTHER]: { movePrecompileToAddress: moved } }])
    assert.equal(refused.error?.code, -32602)
    assert.match(refused.error!.message, /is not a precompile/)
  })

  it('eth_call and eth_estimateGas with block overrides: NUMBER, TIMESTAMP, COINBASE, PREVRANDAO, BASEFEE, GASLIMIT as on anvil', async () => {
    const blockOverrides = {
      number: '0x1000',
      time: '0x70000000',
      feeRecipient: '0x00000000000000000000000000000000000fee01',
      prevRandao: numberToHex(42, { size: 32 }),
      baseFeePerGas: '0x0',
      gasLimit: '0x2000000',
    }
    const request = { to: PROBE, data: '0x' }
    const stateOverrides = { [PROBE]: { code: ENVIRONMENT, balance: '0x5' } }
    const [ours, theirs] = await both('eth_call', [request, 'latest', stateOverrides, blockOverrides])
    assert.deepEqual(jsonDifferences(lower(ours), lower(theirs)), [])
    assert.notEqual(ours, await call(mosaic.url, 'eth_call', [request, 'latest', stateOverrides]), 'the block overrides changed the answer')
    const [gasOurs, gasTheirs] = await both('eth_estimateGas', [request, 'latest', stateOverrides])
    assert.equal(gasOurs, gasTheirs)
  })

  it('debug_traceCall with state and block overrides: the callTracer frame equals anvil\'s, and differs without them', async () => {
    // The gas is given: without it each node fills in its own cap (mosaic RPC_GAS_CAP, anvil the block gas limit).
    const request = { from: OTHER, to: PROBE, data: '0x', gas: '0x100000' }
    const options = { tracer: 'callTracer', stateOverrides: { [PROBE]: { code: CREATE_AND_LOAD, stateDiff: { [numberToHex(1, { size: 32 })]: numberToHex(6, { size: 32 }) } } }, blockOverrides: { number: '0x99' } }
    const [ours, theirs] = await both('debug_traceCall', [request, 'latest', options])
    assert.deepEqual(jsonDifferences(lower(ours), lower(theirs)), [])
    assert.ok(((ours as { calls?: unknown[] }).calls ?? []).length === 1, 'the overridden code made a CREATE')
    const plain = await call(mosaic.url, 'debug_traceCall', [request, 'latest', { tracer: 'callTracer' }])
    assert.notDeepEqual(plain, ours, 'negative control: without the overrides the trace differs')
  })

  it('eth_createAccessList: the same addresses and slots as anvil, and the gas used with the list', async () => {
    const run = encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [5n] })
    const [ours, theirs] = (await both('eth_createAccessList', [{ from: deployer.address, to: traceeAddress, data: run, gas: '0x100000' }, 'latest'])) as unknown as { accessList: unknown; gasUsed: string }[]
    assert.deepEqual(accessListSet(ours!.accessList), accessListSet(theirs!.accessList))
    assert.ok(accessListSet(ours!.accessList).length >= 3, 'the child contract and the slots are listed')
    assert.equal(ours!.gasUsed, theirs!.gasUsed)
    // The list makes the call cheaper or equal, never more expensive to estimate.
    const withList = await call(mosaic.url, 'eth_estimateGas', [{ from: deployer.address, to: traceeAddress, data: run, accessList: ours!.accessList }, 'latest'])
    assert.ok(BigInt(withList as string) >= BigInt(ours!.gasUsed), 'the estimate covers what the call used with the list')
    // With a state override (anvil takes none here) the list follows the overridden code: the
    // recipient's two slots, the recipient itself not listed for its own sake.
    const overridden = (await call(mosaic.url, 'eth_createAccessList', [{ to: PROBE }, 'latest', { [PROBE]: { code: CREATE_AND_LOAD } }])) as { accessList: unknown }
    const slot = (n: number) => `${PROBE}:${numberToHex(n, { size: 32 })}`
    assert.deepEqual(accessListSet(overridden.accessList), [PROBE, slot(0), slot(1)].sort())
  })

  it('viem simulateContract with a state override, and simulateCalls, work against mosaic', async () => {
    const client = createPublicClient({ chain: mosaicChain(mosaic.url), transport: http(mosaic.url) })
    const total = await client.readContract({
      address: traceeAddress,
      abi: tracee.abi,
      functionName: 'total',
      stateOverride: [{ address: traceeAddress, stateDiff: [{ slot: numberToHex(0, { size: 32 }), value: numberToHex(1234, { size: 32 }) }] }],
    })
    assert.equal(total, 1234n)
    const simulated = await client.simulateContract({
      account: OTHER,
      address: traceeAddress,
      abi: tracee.abi,
      functionName: 'run',
      args: [1n],
      stateOverride: [{ address: traceeAddress, stateDiff: [{ slot: numberToHex(0, { size: 32 }), value: numberToHex(100, { size: 32 }) }] }],
    })
    // run(1) returns child.set(1) doubled plus child.value() seen after it: 2 + 1, whatever total was.
    assert.equal(simulated.result, 3n)
    const { results } = await client.simulateCalls({
      account: OTHER,
      calls: [
        { to: traceeAddress, abi: tracee.abi, functionName: 'run', args: [2n] },
        { to: traceeAddress, abi: tracee.abi, functionName: 'total' },
      ],
    })
    assert.equal(results[0]!.status, 'success')
    assert.equal(results[1]!.result, 3n, 'the second call sees the first call\'s write: run(2) leaves total = 3')
  })

  /** What a simulated call's result shows, without the hashes (anvil's blocks and transactions hash differently: see below). */
  function callView(block: unknown) {
    return (block as { calls: { returnData: string; status: string; gasUsed: string; logs: { address: string; topics: string[]; data: string; logIndex: string; transactionIndex: string }[]; error?: { code: number } }[] }).calls.map((call) => ({
      returnData: call.returnData,
      status: call.status,
      gasUsed: call.gasUsed,
      // anvil 1.x reports a revert as -3200 where geth (and the spec) say 3.
      errorCode: call.error?.code === -3200 ? 3 : (call.error?.code ?? null),
      logs: call.logs.map((log) => ({ address: log.address.toLowerCase(), topics: log.topics, data: log.data, logIndex: log.logIndex, transactionIndex: log.transactionIndex })),
    }))
  }

  it('eth_simulateV1: calls across blocks with state overrides and traceTransfers answer as on anvil; blocks follow geth\'s rules', async () => {
    const head = BigInt((await call(mosaic.url, 'eth_blockNumber', [])) as string)
    const run = encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [3n] })
    const total = encodeFunctionData({ abi: tracee.abi, functionName: 'total' })
    const simulation = (traceTransfers: boolean, number?: bigint) => ({
      blockStateCalls: [
        {
          stateOverrides: { [OTHER]: { balance: '0xde0b6b3a7640000' }, [PROBE]: { code: BALANCE_AND_CHAIN } },
          calls: [
            { from: OTHER, to: '0x00000000000000000000000000000000000beef2', value: '0x10' },
            { from: OTHER, to: traceeAddress, data: run },
            { from: OTHER, to: PROBE, value: '0x9' },
          ],
        },
        {
          ...(number === undefined ? {} : { blockOverrides: { number: numberToHex(number) } }),
          calls: [
            { from: OTHER, to: traceeAddress, data: total },
            { from: OTHER, to: traceeAddress, data: encodeFunctionData({ abi: tracee.abi, functionName: 'boom', args: ['simulated no'] }) },
            // Reverts (run's DELEGATECALL carries the value into a non-payable function): geth drops its transfer log with it.
            { from: OTHER, to: traceeAddress, data: run, value: '0x7' },
          ],
        },
      ],
      traceTransfers,
      returnFullTransactions: true,
    })
    // anvil's own block numbering starts at 0 whatever the base block; so the numbers are checked against geth's rules below.
    const ours = (await call(mosaic.url, 'eth_simulateV1', [simulation(true, head + 4n), 'latest'])) as Record<string, unknown>[]
    const theirs = (await call(anvil.url, 'eth_simulateV1', [simulation(true), 'latest'])) as Record<string, unknown>[]
    assert.equal(ours.length, 4, 'two blocks and the two empty blocks filling the gap')
    assert.deepEqual(jsonDifferences(callView(ours[0]), callView(theirs[0])), [], 'block 1')
    // anvil keeps a reverted call's transfer log; geth drops it with the call's other logs.
    const reverted = callView(ours[3])[2]!
    assert.equal(reverted.errorCode, 3)
    assert.deepEqual(reverted.logs, [], 'a reverted call has no logs, its transfer included')
    assert.deepEqual(jsonDifferences(callView(ours[3]).slice(0, 2), callView(theirs[1]).slice(0, 2)), [], 'block 2')
    // The controls: without traceTransfers there is no transfer log; the second block saw the first's write.
    const plain = (await call(mosaic.url, 'eth_simulateV1', [simulation(false), 'latest'])) as Record<string, unknown>[]
    assert.equal(callView(plain[0]).flatMap((c) => c.logs).filter((l) => l.address === '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee').length, 0)
    assert.ok(callView(ours[0]).flatMap((c) => c.logs).some((l) => l.address === '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee'))
    const committedTotal = BigInt((await call(mosaic.url, 'eth_call', [{ to: traceeAddress, data: total }, 'latest'])) as string)
    // run(3) leaves total = 4 (its DELEGATECALL into set(v + 1) writes the caller's slot 0).
    assert.equal(BigInt(callView(ours[3])[0]!.returnData), 4n, 'the later block reads the earlier block\'s write')
    assert.notEqual(committedTotal, 4n, 'negative control: the chain itself does not hold that value')
    assert.equal(callView(ours[3])[1]!.errorCode, 3, 'a revert is error code 3')
    // Blocks: numbers from the base block, gaps filled, 12 s apart, chained by hash, fee recipient zero.
    const latest = (await call(mosaic.url, 'eth_getBlockByNumber', ['latest', false])) as { hash: string; timestamp: string }
    assert.deepEqual(ours.map((b) => BigInt(b.number as string)), [head + 1n, head + 2n, head + 3n, head + 4n])
    assert.deepEqual(ours.map((b) => BigInt(b.timestamp as string) - BigInt(latest.timestamp)), [12n, 24n, 36n, 48n])
    assert.equal(ours[0]!.parentHash, latest.hash)
    for (let i = 1; i < ours.length; i++) assert.equal(ours[i]!.parentHash, ours[i - 1]!.hash)
    assert.equal(ours[0]!.miner, '0x0000000000000000000000000000000000000000')
    const txs = ours[0]!.transactions as { from: string; hash: string }[]
    assert.equal(txs[0]!.from.toLowerCase(), OTHER)
    assert.equal((callView(ours[0])[0]!.logs[0] as unknown as { transactionHash?: string }).transactionHash ?? txs[0]!.hash, txs[0]!.hash)
    // The chain did not move: nothing simulated was committed.
    assert.equal(await call(mosaic.url, 'eth_getBalance', [OTHER, 'latest']), '0x0')
  })

  it('eth_simulateV1 refusals with the execution-apis codes: block order, timestamps, block gas, nonce and funds under validation', async () => {
    const head = BigInt((await call(mosaic.url, 'eth_blockNumber', [])) as string)
    const transfer = { from: deployer.address, to: OTHER, value: '0x1', maxFeePerGas: '0x3b9aca00', maxPriorityFeePerGas: '0x0' }
    const nonce = Number(await call(mosaic.url, 'eth_getTransactionCount', [deployer.address, 'latest']))
    for (const [name, request, code] of [
      ['block numbers out of order', { blockStateCalls: [{ blockOverrides: { number: numberToHex(head + 5n) } }, { blockOverrides: { number: numberToHex(head + 3n) } }] }, -38020],
      ['timestamps out of order', { blockStateCalls: [{ blockOverrides: { time: '0x70000000' } }, { blockOverrides: { time: '0x60000000' } }] }, -38021],
      ['block gas limit', { blockStateCalls: [{ blockOverrides: { gasLimit: '0x10000' }, calls: [{ ...transfer, gas: '0x5208' }, { ...transfer, gas: '0x10000' }] }] }, -38015],
      ['nonce too high', { validation: true, blockStateCalls: [{ calls: [{ ...transfer, nonce: numberToHex(nonce + 5) }] }] }, -38011],
      ['nonce too low', { validation: true, blockStateCalls: [{ calls: [{ ...transfer, nonce: '0x0' }] }] }, nonce > 0 ? -38010 : null],
      ['insufficient funds', { validation: true, blockStateCalls: [{ calls: [{ ...transfer, from: OTHER, nonce: '0x0' }] }] }, -38014],
      ['too many blocks', { blockStateCalls: [{ blockOverrides: { number: numberToHex(head + 300n) } }] }, -38026],
    ] as const) {
      if (code === null) continue
      const response = await rawRpc(mosaic.url, 'eth_simulateV1', [request, 'latest'])
      assert.equal(response.error?.code, code, `${name}: ${JSON.stringify(response.error ?? response.result).slice(0, 200)}`)
    }
    // The same transfer that is valid passes validation (the negative control of the refusals above).
    const valid = (await call(mosaic.url, 'eth_simulateV1', [{ validation: true, blockStateCalls: [{ calls: [{ ...transfer, nonce: numberToHex(nonce) }] }] }, 'latest'])) as Record<string, unknown>[]
    assert.equal(callView(valid[0])[0]!.status, '0x1')
    for (const bad of [{}, { blockStateCalls: [] }, { blockStateCalls: [{ calls: 'x' }] }, { blockStateCalls: [{}], colour: 1 }]) {
      const response = await rawRpc(mosaic.url, 'eth_simulateV1', [bad, 'latest'])
      assert.equal(response.error?.code, -32602, JSON.stringify(bad))
    }
  })

  it('eth_call from an address with code runs (no EIP-3607 check, as geth), its code intact; a sender that cannot afford the value is refused as on anvil', async () => {
    // PROBE calls itself: the answer needs its code, so a sender whose code was dropped would answer '0x'.
    const fromContract = [{ from: PROBE, to: PROBE }, 'latest', { [PROBE]: { code: BALANCE_AND_CHAIN, balance: '0x2a' } }]
    const [ours, theirs] = await both('eth_call', fromContract)
    assert.equal(ours, `${numberToHex(42, { size: 32 })}${numberToHex(901, { size: 32 }).slice(2)}`)
    assert.equal(ours, theirs)
    for (const request of [{ from: OTHER, to: PROBE, value: '0x1' }, { from: OTHER, to: PROBE, gasPrice: '0x3b9aca00' }]) {
      const [mosaicAnswer, anvilAnswer] = [await rawRpc(mosaic.url, 'eth_call', [request, 'latest']), await rawRpc(anvil.url, 'eth_call', [request, 'latest'])]
      assert.ok(anvilAnswer.error !== undefined, 'anvil refuses it')
      assert.equal(mosaicAnswer.error?.code, -32000)
      assert.match(mosaicAnswer.error!.message, /^insufficient funds for gas \* price \+ value: address 0x0+beef1 have 0 want [1-9]/)
      // The negative control: the same call with the funds given by an override passes.
      assert.equal((await rawRpc(mosaic.url, 'eth_call', [request, 'latest', { [OTHER]: { balance: '0xde0b6b3a7640000' } }])).error, undefined)
    }
  })

  it('eth_estimateGas with a fee is capped by what the sender can pay, as geth\'s allowance', async () => {
    const request = { from: OTHER, to: PROBE, gasPrice: '0x3b9aca00' }
    const funded = (gas: bigint) => ({ [OTHER]: { balance: numberToHex(gas * 1_000_000_000n) } })
    assert.equal(await call(mosaic.url, 'eth_estimateGas', [request, 'latest', funded(30_000n)]), '0x5208', 'enough for 30,000 gas: the transfer\'s 21,000')
    const short = await rawRpc(mosaic.url, 'eth_estimateGas', [request, 'latest', funded(20_000n)])
    assert.equal(short.error?.code, -32000)
    assert.match(short.error!.message, /^gas required exceeds allowance \(20000\)/)
    const transfer = await rawRpc(mosaic.url, 'eth_estimateGas', [{ ...request, value: '0x5' }, 'latest', { [OTHER]: { balance: '0x1' } }])
    assert.match(transfer.error?.message ?? '', /^insufficient funds for transfer: address 0x0+beef1 have 1 want 5/)
  })

  it('eth_call at latest runs under the head\'s header (NUMBER is the head, as on anvil and geth); at pending under the next block\'s', async () => {
    const number = '0x4360005260206000f3' // NUMBER PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    for (const url of [mosaic.url, anvil.url]) {
      for (const [tag, offset] of [['latest', 0n], ['pending', 1n]] as const) {
        const before = BigInt((await call(url, 'eth_blockNumber', [])) as string)
        const seen = BigInt((await call(url, 'eth_call', [{ to: PROBE }, tag, { [PROBE]: { code: number } }])) as string)
        const after = BigInt((await call(url, 'eth_blockNumber', [])) as string)
        assert.ok(seen >= before + offset && seen <= after + offset, `${url === anvil.url ? 'anvil' : 'mosaic'} at ${tag}: NUMBER ${seen}, head ${before}…${after}`)
      }
    }
  })

  it('bad overrides get clear errors and change nothing', async () => {
    const before = await call(mosaic.url, 'eth_getBalance', [OTHER, 'latest'])
    for (const [params, pattern] of [
      [[{ to: OTHER }, 'latest', { [OTHER]: { state: {}, stateDiff: {} } }], /has both 'state' and 'stateDiff'/],
      [[{ to: OTHER }, 'latest', { [OTHER]: { balance: 5 } }], /invalid state overrides\[.*\]\.balance/],
      [[{ to: OTHER }, 'latest', { [OTHER]: { colour: 'red' } }], /unknown field "colour"/],
      [[{ to: OTHER }, 'latest', { nope: {} }], /invalid state overrides address/],
      [[{ to: OTHER }, 'latest', {}, { number: 5 }], /invalid block overrides\.number/],
      [[{ to: OTHER }, 'latest', {}, { blobBaseFee: '0x1' }], /no blobs/],
    ] as const) {
      const response = await rawRpc(mosaic.url, 'eth_call', params as unknown as unknown[])
      assert.equal(response.error?.code, -32602, JSON.stringify(params))
      assert.match(response.error!.message, pattern)
    }
    assert.equal(await call(mosaic.url, 'eth_getBalance', [OTHER, 'latest']), before)
  })
})
