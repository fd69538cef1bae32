/**
 * Foundry's tracing against mosaic, unchanged: `cast run TX` (replays the transaction's block
 * from the parent block's state, read over JSON-RPC) and `cast call --trace` print the call tree
 * with the nested calls, the caught revert's reason, the logs and the return value.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { encodeFunctionData, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'

const castBinary = createRequire(import.meta.url).resolve(`@foundry-rs/cast-linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}/bin/cast`)
const tracee = loadArtifact('Tracee')
const account = privateKeyToAccount(DEV_KEYS[0])

let node: TestNode
let address: Hex
let runTx: Hex

async function mined(hash: Hex): Promise<{ contractAddress: Hex; status: string }> {
  for (let tries = 0; tries < 400; tries++) {
    const receipt = (await node.rpc('eth_getTransactionReceipt', [hash])).result
    if (receipt !== null && receipt !== undefined) return receipt as { contractAddress: Hex; status: string }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`${hash} not mined`)
}

async function send(nonce: number, request: { to?: Hex; data: Hex; gas: bigint }): Promise<Hex> {
  const raw = await account.signTransaction({ type: 'legacy', chainId: 901, nonce, gasPrice: 20_000_000_000n, gas: request.gas, data: request.data, ...(request.to === undefined ? {} : { to: request.to }) })
  return (await node.rpc('eth_sendRawTransaction', [raw])).result as Hex
}

const cast = async (...args: string[]) => (await promisify(execFile)(castBinary, [...args, '--rpc-url', node.url], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 })).stdout

describe('cast tracing against mosaic', () => {
  before(async () => {
    node = await startNode()
    address = (await mined(await send(0, { data: tracee.bytecode, gas: 2_000_000n }))).contractAddress
    runTx = await send(1, { to: address, data: encodeFunctionData({ abi: tracee.abi, functionName: 'run', args: [5n] }), gas: 1_000_000n })
    assert.equal((await mined(runTx)).status, '0x1')
  })
  after(async () => {
    await node?.stop()
  })

  it('cast run TX: the call tree of a mined transaction, replayed from the parent block, with the receipt\'s gas', async () => {
    const out = await cast('run', runTx)
    const word = (n: number) => n.toString(16).padStart(64, '0')
    // cast has no ABI here: frames show selectors. run(5) → set(5) with its log, fail("child says no")
    // reverting, burn() out of gas at the SSTORE sentry, peek() → value() as staticcalls, set(6) delegated.
    const frames = [
      `${address.toLowerCase()}::a444f5e9(${word(5)})`,
      `::60fe47b1(${word(5)})`,
      '[Return] 0x' + word(10),
      '::78122f3a(',
      '[Revert] child says no',
      '::44df8e70()',
      'ReentrancySentryOOG',
      '::59e02dd7() [staticcall]',
      '::3fa4f245() [staticcall]',
      `::60fe47b1(${word(6)}) [delegatecall]`,
      '[Return] 0x' + word(15),
    ]
    let at = 0
    const text = out.toLowerCase()
    for (const frame of frames) {
      const found = text.indexOf(frame.toLowerCase(), at)
      assert.ok(found >= 0, `cast run shows ${frame} after position ${at}:\n${out}`)
      at = found
    }
    assert.match(out, /Transaction successfully executed/)
    const receipt = (await node.rpc('eth_getTransactionReceipt', [runTx])).result as { gasUsed: string }
    assert.equal(/Gas used: (\d+)/.exec(out)?.[1], String(BigInt(receipt.gasUsed)), 'the replay used the gas the receipt records')
  })

  it('cast call --trace: the same tree for a call at the latest block', async () => {
    const out = (await cast('call', address, 'run(uint256)', '7', '--trace', '--from', account.address)).toLowerCase()
    const word = (n: number) => n.toString(16).padStart(64, '0')
    for (const frame of [`::60fe47b1(${word(7)})`, '[revert] child says no', 'reentrancysentryoog', `::60fe47b1(${word(8)}) [delegatecall]`, '[return] 0x' + word(21)]) {
      assert.ok(out.includes(frame.toLowerCase()), `cast call --trace shows ${frame}:\n${out}`)
    }
  })
})
