/**
 * State at any block within the history window, as tools ask for it: viem (`blockNumber`,
 * EIP-1898 by hash, `readContract`, a deployless multicall at a block), ethers (`getBalance` with
 * a block tag) and `cast call --block`. Every read at block N must equal what the same read
 * returned when N was the head — also after a kill -9 — and reads outside the window are refused
 * with an error naming it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { rmSync } from 'node:fs'
import { promisify } from 'node:util'
import { after, describe, it } from 'node:test'
import { JsonRpcProvider } from 'ethers'
import { createPublicClient, createWalletClient, encodeFunctionData, type Hex, http, type PublicClient } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_KEYS, mosaicChain, rawRpc, spawnNode, startNode, tempDataDir } from './harness.ts'

const ADMIN = { authorization: 'Bearer test-token' }
const token = loadArtifact('MosaicToken')
const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const castBinary = createRequire(import.meta.url).resolve(`@foundry-rs/cast-linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}/bin/cast`)

async function seal(url: string): Promise<bigint> {
  const sealed = await rawRpc(url, 'admin_sealBlock', [], ADMIN)
  assert.equal(typeof sealed.result, 'string', `admin_sealBlock: ${JSON.stringify(sealed)}`)
  return BigInt(sealed.result as string)
}

function clientsOf(url: string) {
  const chain = mosaicChain(url)
  const transport = http(url, { retryCount: 0 })
  const publicClient = createPublicClient({ chain, transport }) as PublicClient
  const wallet = (i: number) => createWalletClient({ chain, transport, account: privateKeyToAccount(DEV_KEYS[i]!) })
  return { publicClient, wallet }
}

const RECIPIENTS = Array.from({ length: 4 }, (_, i) => `0x${(0xbeef0 + i).toString(16).padStart(40, '0')}` as Hex)
const HOLDERS = [privateKeyToAccount(DEV_KEYS[0]).address, privateKeyToAccount(DEV_KEYS[1]).address, ...RECIPIENTS.slice(0, 2)]

/** Everything the test reads at one block, as text, so two snapshots compare key by key. */
async function snapshot(publicClient: PublicClient, tokenAddress: Hex, blockNumber: bigint | undefined, by: 'number' | 'hash' = 'number'): Promise<Record<string, string>> {
  const at = blockNumber === undefined ? {} : by === 'number' ? { blockNumber } : { blockHash: (await publicClient.getBlock({ blockNumber })).hash }
  const out: Record<string, string> = {}
  for (const address of [...HOLDERS, ...RECIPIENTS]) {
    // viem's getBalance takes a number or a tag; EIP-1898 by hash goes through a raw request.
    out[`balance ${address}`] = String(
      'blockHash' in at ? BigInt(await publicClient.request({ method: 'eth_getBalance', params: [address, { blockHash: at.blockHash }] as never })) : await publicClient.getBalance({ address, ...at }),
    )
  }
  out.nonce = String(
    'blockHash' in at
      ? BigInt(await publicClient.request({ method: 'eth_getTransactionCount', params: [HOLDERS[0]!, { blockHash: at.blockHash }] as never }))
      : await publicClient.getTransactionCount({ address: HOLDERS[0]!, ...at }),
  )
  out.code = String(await publicClient.getCode({ address: tokenAddress, ...at }))
  for (let slot = 0; slot < 4; slot++) out[`slot ${slot}`] = String(await publicClient.getStorageAt({ address: tokenAddress, slot: `0x${slot.toString(16)}`, ...at }))
  for (const holder of HOLDERS) out[`balanceOf ${holder}`] = String(await publicClient.readContract({ address: tokenAddress, abi: token.abi, functionName: 'balanceOf', args: [holder], ...at }))
  out.totalSupply = String(await publicClient.readContract({ address: tokenAddress, abi: token.abi, functionName: 'totalSupply', ...at }))
  return out
}

function differences(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((key) => a[key] !== b[key]).map((key) => `${key}: ${a[key]} != ${b[key]}`)
}

describe('state at earlier blocks over JSON-RPC', () => {
  it('differential: viem, ethers and cast reads at block N equal what they returned when N was the head, by number and by hash, across a kill -9', async () => {
    const dataDir = tempDataDir()
    dirs.push(dataDir)
    const flags = ['--block-time-ms', '3600000', '--admin-token', 'test-token']
    let node = await spawnNode(dataDir, flags)
    const heads = new Map<bigint, Record<string, string>>()
    let tokenAddress: Hex
    try {
      const { publicClient, wallet } = clientsOf(node.url)
      const deployHash = await wallet(0).deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['History', 'HST', 10n ** 24n], chain: undefined })
      await seal(node.url)
      tokenAddress = (await publicClient.getTransactionReceipt({ hash: deployHash })).contractAddress!
      for (let k = 0; k < 8; k++) {
        const sender = wallet(k % 2)
        await sender.sendTransaction({ to: RECIPIENTS[k % RECIPIENTS.length]!, value: BigInt(1000 + k), chain: undefined })
        await sender.sendTransaction({ to: tokenAddress, data: encodeFunctionData({ abi: token.abi, functionName: 'mint', args: [HOLDERS[k % HOLDERS.length]!, BigInt(10 ** 6 + k)] }), chain: undefined })
        if (k % 3 === 2) await sender.sendTransaction({ to: tokenAddress, data: encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [HOLDERS[(k + 1) % HOLDERS.length]!, 5n] }), chain: undefined })
        const number = await seal(node.url)
        heads.set(number, await snapshot(publicClient, tokenAddress, undefined))
      }
      node.child.kill('SIGKILL')
      await new Promise((resolve) => node.child.once('exit', resolve))
      node = await spawnNode(dataDir, flags)
      const restarted = clientsOf(node.url).publicClient
      const numbers = [...heads.keys()]
      for (const number of numbers) {
        assert.deepEqual(differences(await snapshot(restarted, tokenAddress, number), heads.get(number)!), [], `block ${number} by number`)
        assert.deepEqual(differences(await snapshot(restarted, tokenAddress, number, 'hash'), heads.get(number)!), [], `block ${number} by hash`)
      }
      // Negative control: each block's reads differ from the next one's, so a node answering the
      // head's state (or a neighbour's) for block N fails the comparison above.
      for (let i = 0; i + 1 < numbers.length; i++) {
        assert.notDeepEqual(differences(await snapshot(restarted, tokenAddress, numbers[i]), heads.get(numbers[i + 1]!)!), [], `blocks ${numbers[i]} and ${numbers[i + 1]} read alike`)
      }

      const middle = numbers[3]!
      const want = heads.get(middle)!
      // A deployless multicall at a block: a contract created inside eth_call, reading the token.
      const multicall = await restarted.multicall({
        contracts: HOLDERS.map((holder) => ({ address: tokenAddress, abi: token.abi, functionName: 'balanceOf', args: [holder] })),
        blockNumber: middle,
        deployless: true,
        allowFailure: false,
      })
      assert.deepEqual(multicall.map(String), HOLDERS.map((holder) => want[`balanceOf ${holder}`]))
      // ethers: getBalance with a block tag.
      const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true })
      assert.equal(String(await provider.getBalance(RECIPIENTS[0]!, Number(middle))), want[`balance ${RECIPIENTS[0]}`])
      provider.destroy()
      // cast call --block and cast balance --block.
      const cast = async (...args: string[]) => (await promisify(execFile)(castBinary, [...args, '--rpc-url', node.url])).stdout.trim()
      // cast prints a uint with an approximation after it: `1000…006 [1e24]`.
      assert.equal((await cast('call', tokenAddress, 'totalSupply()(uint256)', '--block', String(middle))).split(' ')[0], want.totalSupply)
      assert.equal(await cast('balance', RECIPIENTS[1]!, '--block', String(middle)), want[`balance ${RECIPIENTS[1]}`])
    } finally {
      node.child.kill('SIGKILL')
    }
  })

  it('behavior: outside HISTORY_BLOCKS a read is refused with an error naming the window; inside, eth_call and eth_estimateGas run on that block', async () => {
    const t = await startNode(['--block-time-ms', '3600000', '--history-blocks', '3'])
    try {
      const wallet = t.wallet(0)
      const numbers: bigint[] = []
      const balances: bigint[] = []
      for (let k = 0; k < 8; k++) {
        await wallet.sendTransaction({ to: RECIPIENTS[0]!, value: 7n, chain: null } as never)
        numbers.push(await seal(t.url))
        balances.push(await t.publicClient.getBalance({ address: RECIPIENTS[0]! }))
      }
      const head = numbers.at(-1)!
      for (let i = 0; i < numbers.length; i++) {
        const number = numbers[i]!
        const answer = await t.rpc('eth_getBalance', [RECIPIENTS[0], `0x${number.toString(16)}`])
        if (number >= head - 3n) assert.equal(BigInt(answer.result as string), balances[i], `block ${number}`)
        else {
          assert.equal(answer.error?.code, -32000, `block ${number}: ${JSON.stringify(answer)}`)
          assert.match(answer.error!.message, new RegExp(`state at block ${number} is not available: this node keeps the state of the last 3 blocks \\(HISTORY_BLOCKS\\), blocks ${head - 3n} to ${head}`))
        }
      }
      const status = (await t.rpc('mosaic_status')).result as { history: { blocks: number | string; from: string } }
      assert.deepEqual(status.history, { blocks: 3, from: `0x${(head - 3n).toString(16)}` })
      const old = `0x${(head - 5n).toString(16)}`
      assert.match((await t.rpc('eth_call', [{ to: RECIPIENTS[0] }, old])).error!.message, /HISTORY_BLOCKS/)
      assert.match((await t.rpc('eth_getStorageAt', [RECIPIENTS[0], '0x0', old])).error!.message, /HISTORY_BLOCKS/)
      // Inside the window, eth_call runs under that block's header: NUMBER is the block's number.
      const numberOpcode = '0x4360005260206000f3' // NUMBER PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
      const inWindow = `0x${(head - 2n).toString(16)}`
      const called = await t.rpc('eth_call', [{ data: numberOpcode }, inWindow])
      assert.equal(BigInt(called.result as string), head - 2n)
      assert.equal(typeof (await t.rpc('eth_estimateGas', [{ to: RECIPIENTS[1], value: '0x1', from: privateKeyToAccount(DEV_KEYS[0]).address }, inWindow])).result, 'string')
      // Blocks past the head and unknown hashes are not found.
      assert.match((await t.rpc('eth_getBalance', [RECIPIENTS[0], `0x${(head + 5n).toString(16)}`])).error!.message, /header not found/)
      assert.match((await t.rpc('eth_getBalance', [RECIPIENTS[0], { blockHash: `0x${'ab'.repeat(32)}` }])).error!.message, /header for hash 0xabab.* not found/)
    } finally {
      await t.stop()
    }
  })
})
