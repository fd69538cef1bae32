/**
 * Durability across kill -9: a child `mosaic devnet` is killed with SIGKILL and restarted on the
 * same data dir. The promise under test (sequencer.ts): a block is written to LMDB in one
 * transaction before it becomes the head, and a mini-batch before its receipts are preconfirmed,
 * so a receipt once returned is never lost (a preconfirmed one is sealed at restart where it was
 * promised) and the state on disk always matches the blocks on disk. Pooled transactions live in
 * memory and may be lost.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { createPublicClient, createWalletClient, type Hex, http, parseEther, parseGwei, type PublicClient } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_ACCOUNT_BALANCE, deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { killChildren, mosaicChain, rawRpc, spawnNode, type SpawnedNode, tempDataDir } from './harness.ts'

const token = loadArtifact('MosaicToken')
const DEV = deriveDevAccounts()
const FEE_RECIPIENT = '0x4200000000000000000000000000000000000011'
/** The block hash of a preconfirmed receipt: its block is not sealed yet (Base's flashblocks convention). */
const ZERO_HASH = `0x${'00'.repeat(32)}`

function devKey(index: number): Hex {
  const account = DEV[index]
  if (account === undefined) throw new Error(`no dev account ${index}`)
  return account.privateKey
}

type Receipt = { transactionHash: Hex; blockHash: Hex; blockNumber: Hex; status: Hex; gasUsed: Hex; effectiveGasPrice: Hex; from: Hex }
type Block = { number: Hex; hash: Hex; transactions: { hash: Hex; from: Hex; nonce: Hex; value: Hex }[] }

async function rpcResult<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await rawRpc(url, method, params)
  if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
  return response.result as T
}

function clients(url: string) {
  const chain = mosaicChain(url)
  const transport = http(url, { retryCount: 0 })
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 }) as PublicClient
  const wallet = (key: Hex) => createWalletClient({ chain, transport, account: privateKeyToAccount(key) })
  return { publicClient, wallet }
}

describe('kill -9 and restart', { timeout: 180_000 }, () => {
  const children: ChildProcess[] = []
  const dataDirs: string[] = []

  async function spawn(dataDir: string): Promise<SpawnedNode> {
    const node = await spawnNode(dataDir)
    children.push(node.child)
    return node
  }

  async function kill9(node: SpawnedNode): Promise<void> {
    const { child } = node
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    assert.ok(child.kill('SIGKILL'), 'SIGKILL delivered')
    await exited
    assert.equal(child.signalCode, 'SIGKILL')
  }

  after(async () => {
    await killChildren(children)
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true })
  })

  it('default: blocks, balances, contract state and receipts survive kill -9', { timeout: 90_000 }, async () => {
    const dataDir = tempDataDir()
    dataDirs.push(dataDir)
    let node = await spawn(dataDir)
    let { publicClient, wallet } = clients(node.url)

    const senders = [devKey(0), devKey(1), devKey(2)]
    const recipients: Hex[] = [DEV[5]!.address, DEV[6]!.address, privateKeyToAccount(generatePrivateKey()).address]

    // 18 transfers: each sender sends its own sequence (viem takes the pending nonce), the three in parallel.
    const transferHashes = (
      await Promise.all(
        senders.map(async (key, s) => {
          const hashes: Hex[] = []
          for (let i = 0; i < 6; i++) {
            const to = recipients[(s + i) % recipients.length]!
            hashes.push(await wallet(key).sendTransaction({ to, value: parseEther('0.01') * BigInt(i + 1) + BigInt(s), chain: null } as never))
          }
          return hashes
        }),
      )
    ).flat()
    const deployHash = await wallet(senders[0]!).deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
    const deployReceipt = await publicClient.waitForTransactionReceipt({ hash: deployHash, timeout: 20_000 })
    assert.equal(deployReceipt.status, 'success')
    const tokenAddress = deployReceipt.contractAddress
    assert.ok(tokenAddress)
    const tokenHolder = recipients[2]!
    const transferTokenHash = await wallet(senders[0]!).writeContract({
      address: tokenAddress,
      abi: token.abi,
      functionName: 'transfer',
      args: [tokenHolder, 4242n],
      chain: null,
    } as never)
    const hashes = [...transferHashes, deployHash, transferTokenHash]
    assert.equal(hashes.length, 20)
    for (const hash of hashes) assert.equal((await publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })).status, 'success')
    // A receipt may be preconfirmed (block hash zero until its block is sealed): wait for the seal.
    for (const hash of hashes) {
      while ((await rpcResult<Receipt>(node.url, 'eth_getTransactionReceipt', [hash])).blockHash === ZERO_HASH) await new Promise((resolve) => setTimeout(resolve, 20))
    }

    const accounts = [...senders.map((k) => privateKeyToAccount(k).address), ...recipients, FEE_RECIPIENT as Hex]
    const record = async (url: string) => {
      const head = BigInt(await rpcResult<Hex>(url, 'eth_blockNumber'))
      const blocks: unknown[] = []
      for (let n = 0n; n <= head; n++) blocks.push(await rpcResult(url, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, true]))
      const { publicClient: client } = clients(url)
      return {
        head,
        balances: await Promise.all(accounts.map((address) => rpcResult(url, 'eth_getBalance', [address, 'latest']))),
        nonces: await Promise.all(accounts.map((address) => rpcResult(url, 'eth_getTransactionCount', [address, 'latest']))),
        tokenBalances: await Promise.all(
          [accounts[0]!, tokenHolder].map((address) => client.readContract({ address: tokenAddress, abi: token.abi, functionName: 'balanceOf', args: [address] })),
        ),
        code: await rpcResult(url, 'eth_getCode', [tokenAddress, 'latest']),
        receipts: await Promise.all(hashes.map((hash) => rpcResult(url, 'eth_getTransactionReceipt', [hash]))),
        blocks,
      }
    }
    const before = await record(node.url)
    assert.ok(before.head >= 2n)
    assert.deepEqual(before.tokenBalances, [1_000_000n - 4242n, 4242n])
    assert.equal(before.code, token.deployedBytecode)

    await kill9(node)
    node = await spawn(dataDir)
    ;({ publicClient, wallet } = clients(node.url))
    // The devnet seals no empty blocks: the head stays where it was.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const afterRestart = await record(node.url)
    assert.equal(afterRestart.head, before.head)
    assert.deepEqual(afterRestart.balances, before.balances)
    assert.deepEqual(afterRestart.nonces, before.nonces)
    assert.deepEqual(afterRestart.tokenBalances, before.tokenBalances)
    assert.equal(afterRestart.code, before.code)
    assert.deepEqual(afterRestart.receipts, before.receipts)
    assert.deepEqual(afterRestart.blocks, before.blocks)

    // A new transaction continues the sender's nonce and lands on top of the old head.
    const expectedNonce = Number(BigInt(before.nonces[0] as Hex))
    assert.equal(await rpcResult(node.url, 'eth_getTransactionCount', [accounts[0], 'pending']), `0x${expectedNonce.toString(16)}`)
    const hash = await wallet(senders[0]!).sendTransaction({ to: recipients[0]!, value: 1n, chain: null } as never)
    const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })
    assert.equal(receipt.status, 'success')
    assert.ok(receipt.blockNumber > before.head)
    assert.equal((await publicClient.getTransaction({ hash })).nonce, expectedNonce)
    assert.equal(await publicClient.getTransactionCount({ address: accounts[0]! }), expectedNonce + 1)
    await kill9(node)
  })

  it('behavior: kill -9 while transactions stream in loses no returned receipt', { timeout: 90_000 }, async (context) => {
    const dataDir = tempDataDir()
    dataDirs.push(dataDir)
    let node = await spawn(dataDir)
    const url = node.url
    const senders = [devKey(3), devKey(4), devKey(7)].map((key) => privateKeyToAccount(key))
    const sink = privateKeyToAccount(generatePrivateKey()).address

    const sent = new Map<Hex, { sender: number; nonce: number }>()
    const seen = new Map<Hex, Receipt>() // receipts the node returned before it was killed
    let streaming = true

    const sendLoop = async (s: number) => {
      const account = senders[s]!
      for (let nonce = 0; streaming; nonce++) {
        const raw = await account.signTransaction({
          type: 'eip1559',
          chainId: 901,
          nonce,
          to: sink,
          value: BigInt(1000 + nonce),
          gas: 21_000n,
          maxFeePerGas: parseGwei('10'),
          maxPriorityFeePerGas: parseGwei('1'),
        })
        try {
          const response = await rawRpc(url, 'eth_sendRawTransaction', [raw])
          if (response.error !== undefined) throw new Error(`refused: ${response.error.message}`)
          sent.set(response.result as Hex, { sender: s, nonce })
        } catch (error) {
          if (streaming) throw error
          return // the node is gone
        }
      }
    }
    const pollReceipts = async () => {
      while (streaming) {
        const waiting = [...sent.keys()].filter((hash) => !seen.has(hash))
        if (waiting.length > 0) {
          try {
            const response = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(waiting.map((hash, id) => ({ jsonrpc: '2.0', id, method: 'eth_getTransactionReceipt', params: [hash] }))),
            })
            const answers = (await response.json()) as { id: number; result?: Receipt | null }[]
            for (const answer of answers) if (answer.result) seen.set(waiting[answer.id]!, answer.result)
          } catch (error) {
            if (streaming) throw error
            return
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }

    const loops = [...senders.map((_, s) => sendLoop(s)), pollReceipts()]
    await new Promise((resolve) => setTimeout(resolve, 300))
    const exited = once(node.child, 'exit')
    node.child.kill('SIGKILL')
    streaming = false
    await exited
    await Promise.all(loops)
    assert.ok(seen.size > 0, `no receipt was returned in 300 ms (${sent.size} txs sent)`)

    node = await spawn(dataDir)
    const head = BigInt(await rpcResult<Hex>(node.url, 'eth_blockNumber'))

    // Every receipt returned before the kill is still there, identical, in the same block — a
    // preconfirmed one (block hash zero) sealed at restart in the block and at the position it
    // was preconfirmed with, the same receipt but for the block's hash, now known.
    let preconfirmed = 0
    for (const [hash, receipt] of seen) {
      const block = await rpcResult<Block | null>(node.url, 'eth_getBlockByNumber', [receipt.blockNumber, false])
      assert.ok(block, `block ${receipt.blockNumber} missing`)
      if (receipt.blockHash === ZERO_HASH) preconfirmed++
      else assert.equal(block.hash, receipt.blockHash, `block ${receipt.blockNumber} changed`)
      assert.deepEqual(await rpcResult(node.url, 'eth_getTransactionReceipt', [hash]), { ...receipt, blockHash: block.hash }, `receipt of ${hash}`)
    }
    context.diagnostic(`${seen.size} receipts seen before the kill, ${preconfirmed} of them preconfirmed`)

    // The state on disk is the state the blocks on disk produce.
    const mined = senders.map(() => [] as { nonce: number; value: bigint; fee: bigint }[])
    let sunk = 0n
    for (let n = 1n; n <= head; n++) {
      const number = `0x${n.toString(16)}`
      const block = await rpcResult<Block>(node.url, 'eth_getBlockByNumber', [number, true])
      const receipts = await rpcResult<Receipt[]>(node.url, 'eth_getBlockReceipts', [number])
      assert.equal(receipts.length, block.transactions.length)
      block.transactions.forEach((tx, i) => {
        const s = senders.findIndex((a) => a.address.toLowerCase() === tx.from.toLowerCase())
        assert.ok(s >= 0, `unexpected sender ${tx.from}`)
        const r = receipts[i]!
        assert.equal(r.status, '0x1')
        mined[s]!.push({ nonce: Number(BigInt(tx.nonce)), value: BigInt(tx.value), fee: BigInt(r.gasUsed) * BigInt(r.effectiveGasPrice) })
        sunk += BigInt(tx.value)
      })
    }
    for (const [s, account] of senders.entries()) {
      const txs = mined[s]!
      assert.deepEqual(
        txs.map((tx) => tx.nonce),
        txs.map((_, i) => i),
        `sender ${s} mined nonces in order without gaps`,
      )
      assert.equal(await rpcResult(node.url, 'eth_getTransactionCount', [account.address, 'latest']), `0x${txs.length.toString(16)}`)
      const spent = txs.reduce((sum, tx) => sum + tx.value + tx.fee, 0n)
      assert.equal(BigInt(await rpcResult<Hex>(node.url, 'eth_getBalance', [account.address, 'latest'])), DEV_ACCOUNT_BALANCE - spent, `balance of sender ${s}`)
    }
    assert.equal(BigInt(await rpcResult<Hex>(node.url, 'eth_getBalance', [sink, 'latest'])), sunk)
    assert.ok(mined.flat().length >= seen.size)
    context.diagnostic(`${sent.size} txs accepted, ${seen.size} receipts returned before the kill, ${mined.flat().length} txs on disk in ${head} blocks`)

    // The pool started empty, and the chain takes new transactions at the next nonce.
    const status = await rpcResult<{ mempool: { pending: number } }>(node.url, 'mosaic_status')
    assert.equal(status.mempool.pending, 0)
    const account = senders[0]!
    const nonce = mined[0]!.length
    const raw = await account.signTransaction({ type: 'eip1559', chainId: 901, nonce, to: sink, value: 1n, gas: 21_000n, maxFeePerGas: parseGwei('10'), maxPriorityFeePerGas: parseGwei('1') })
    const hash = await rpcResult<Hex>(node.url, 'eth_sendRawTransaction', [raw])
    const { publicClient } = clients(node.url)
    assert.equal((await publicClient.waitForTransactionReceipt({ hash, timeout: 20_000 })).status, 'success')
    await kill9(node)
  })
})
