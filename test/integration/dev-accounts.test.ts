/**
 * The devnet's unlocked dev accounts as tools use them: `cast send --unlocked`, viem's wallet
 * client with a JSON-RPC account (`sendTransaction`, `signMessage`, `signTypedData`), and the
 * raw methods. Signatures must verify and equal anvil's for the same key (both derive the
 * accounts from the "test … junk" mnemonic); a request gets the transaction type anvil gives it.
 * On a sequencer the methods are refused, and bad requests get -32602 naming what is wrong.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { createWalletClient, getAddress, type Hex, http, verifyMessage, verifyTypedData } from 'viem'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import { type Anvil, startAnvil } from '../../src/l1/anvil.ts'
import { SUGGESTED_TIP } from '../../src/rpc/methods.ts'
import { mosaicChain, rawRpc, startNode, type TestNode } from './harness.ts'

const castBinary = createRequire(import.meta.url).resolve(`@foundry-rs/cast-linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}/bin/cast`)
const dev = deriveDevAccounts().map((a) => a.address)
const [ALICE, BOB] = [dev[0]!, dev[1]!]
const STRANGER = '0x00000000000000000000000000000000000000aa'

/** EIP-712's own example (nested structs, an array), as wallets send it. */
const typedData = {
  domain: { name: 'Ether Mail', version: '1', chainId: 901, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  types: {
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallets', type: 'address[]' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'to', type: 'Person' },
      { name: 'contents', type: 'string' },
      { name: 'amount', type: 'uint256' },
    ],
  },
  primaryType: 'Mail',
  message: {
    from: { name: 'Cow', wallets: ['0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826', '0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF'] },
    to: { name: 'Bob', wallets: ['0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB'] },
    contents: 'Hello, Bob!',
    amount: 10n ** 18n,
  },
} as const

type Answer = { result?: unknown; error?: { code: number; message: string } }

describe('dev accounts on the devnet', () => {
  let node: TestNode
  let anvil: Anvil
  const wallets = (url: string, chainId = 901) => createWalletClient({ chain: mosaicChain(url, chainId), transport: http(url, { retryCount: 0 }), account: ALICE })

  before(async () => {
    node = await startNode()
    anvil = await startAnvil(['--chain-id', '901'])
  })
  after(async () => {
    await node?.stop()
    await anvil?.stop()
  })

  it('default: eth_accounts lists the dev accounts, the same as anvil with its default mnemonic', async () => {
    const ours = (await node.rpc('eth_accounts')).result as string[]
    assert.equal(ours.length, 10)
    assert.deepEqual(ours.map((a) => getAddress(a)), dev)
    assert.deepEqual(ours, (await rawRpc(anvil.url, 'eth_accounts')).result)
  })

  it('behavior: cast send --unlocked --from a dev account is mined and its receipt is there', async () => {
    const balance = BigInt((await node.rpc('eth_getBalance', [BOB, 'latest'])).result as string)
    const { stdout } = await promisify(execFile)(castBinary, ['send', '--unlocked', '--from', ALICE, BOB, '--value', '12345', '--rpc-url', node.url, '--json'])
    const receipt = JSON.parse(stdout) as { status: string; from: string; to: string; transactionHash: Hex }
    assert.equal(receipt.status, '0x1')
    assert.equal(getAddress(receipt.from), ALICE)
    assert.equal(getAddress(receipt.to), BOB)
    assert.deepEqual((await node.rpc('eth_getTransactionReceipt', [receipt.transactionHash])).result, receipt)
    assert.equal(BigInt((await node.rpc('eth_getBalance', [BOB, 'latest'])).result as string), balance + 12345n)
  })

  it('behavior: viem sendTransaction with a JSON-RPC account — the node fills nonce, gas (estimated) and EIP-1559 fees', async () => {
    const wallet = wallets(node.url)
    const nonce = BigInt((await node.rpc('eth_getTransactionCount', [ALICE, 'pending'])).result as string)
    const hash = await wallet.sendTransaction({ account: ALICE, to: BOB, value: 7n, chain: wallet.chain })
    const receipt = await node.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    assert.equal(receipt.status, 'success')
    const tx = await node.publicClient.getTransaction({ hash })
    assert.equal(tx.type, 'eip1559')
    assert.equal(tx.nonce, Number(nonce))
    assert.equal(tx.gas, 21_000n)
    assert.equal(tx.maxPriorityFeePerGas, SUGGESTED_TIP)
    // 2 × the base fee of the block it was filled for + the tip (geth's rule): at least the
    // including block's base fee plus the tip, and even after subtracting the tip.
    const block = await node.publicClient.getBlock({ blockNumber: receipt.blockNumber })
    assert.ok(tx.maxFeePerGas! >= block.baseFeePerGas! + SUGGESTED_TIP, `maxFeePerGas ${tx.maxFeePerGas} < base fee ${block.baseFeePerGas} + tip`)
    assert.equal((tx.maxFeePerGas! - SUGGESTED_TIP) % 2n, 0n)
  })

  it('differential: eth_sendTransaction picks the transaction type anvil picks, and keeps what the request sets', async () => {
    const requests: Record<string, unknown>[] = [
      {},
      { gasPrice: '0x77359400' },
      { gasPrice: '0x77359400', accessList: [{ address: BOB, storageKeys: [`0x${'00'.repeat(31)}01`] }] },
      { accessList: [] },
      { maxFeePerGas: '0x9502f9000', maxPriorityFeePerGas: '0x3b9aca00' },
      { input: '0x6001600055', gas: '0x30d40' },
    ]
    const hashes: Hex[] = []
    for (const extra of requests) {
      const request = { from: ALICE, to: BOB, value: '0x3', ...extra }
      const sent = await Promise.all([node.url, anvil.url].map(async (url) => (await rawRpc(url, 'eth_sendTransaction', [request])) as Answer))
      const txs = await Promise.all(
        sent.map(async (answer, i) => {
          assert.equal(answer.error, undefined, `${i === 0 ? 'mosaic' : 'anvil'} ${JSON.stringify(extra)}: ${JSON.stringify(answer.error)}`)
          return (await rawRpc(i === 0 ? node.url : anvil.url, 'eth_getTransactionByHash', [answer.result])).result as Record<string, unknown>
        }),
      )
      const [ours, theirs] = txs as [Record<string, unknown>, Record<string, unknown>]
      hashes.push(ours.hash as Hex)
      assert.equal(ours.type, theirs.type, `type for ${JSON.stringify(extra)}`)
      assert.deepEqual(ours.accessList, theirs.accessList, `accessList for ${JSON.stringify(extra)}`)
      for (const field of ['gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'gas', 'input'] as const) {
        if (extra[field] !== undefined) assert.equal(ours[field === 'gasPrice' && ours.type === '0x2' ? 'maxFeePerGas' : field], extra[field], `${field} for ${JSON.stringify(extra)}`)
      }
      assert.equal(ours.chainId, '0x385')
    }
    // An explicit `type` is honoured (anvil, like geth, decides by the fee fields alone and would send 0x2 for both).
    for (const [type, fee] of [['0x0', 'gasPrice'], ['0x1', 'gasPrice'], ['0x2', 'maxFeePerGas']] as const) {
      const hash = (await node.rpc('eth_sendTransaction', [{ from: ALICE, to: BOB, type }])).result
      const tx = (await node.rpc('eth_getTransactionByHash', [hash])).result as Record<string, unknown>
      assert.equal(tx.type, type)
      assert.equal(typeof tx[fee], 'string')
      if (type === '0x0') assert.equal(tx.accessList, undefined)
      else assert.deepEqual(tx.accessList, [])
      hashes.push(hash as Hex)
    }
    // Without gas, a contract creation gets what eth_estimateGas says for it.
    const creation = { from: ALICE, input: '0x600a600c600039600a6000f3602a60005260206000f3' }
    const estimate = (await node.rpc('eth_estimateGas', [creation])).result
    const created = (await node.rpc('eth_sendTransaction', [creation])).result as Hex
    assert.equal(((await node.rpc('eth_getTransactionByHash', [created])).result as { gas: string }).gas, estimate)
    hashes.push(created)
    // Every one of them is mined and succeeds (an access list's intrinsic gas is in the estimate).
    for (const hash of hashes) assert.equal((await node.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success', hash)
  })

  it('differential: signMessage and signTypedData through a JSON-RPC account verify, and equal anvil\'s for the same key; another account\'s do not', async () => {
    const ours = wallets(node.url)
    const theirs = wallets(anvil.url)
    for (const message of ['hello mosaic', { raw: '0xdeadbeef' as Hex }, '']) {
      const signature = await ours.signMessage({ account: ALICE, message })
      assert.equal(signature, await theirs.signMessage({ account: ALICE, message }))
      assert.equal(await verifyMessage({ address: ALICE, message, signature }), true)
      assert.equal(await verifyMessage({ address: BOB, message, signature }), false)
    }
    const signature = await ours.signTypedData({ account: ALICE, ...typedData })
    assert.equal(signature, await theirs.signTypedData({ account: ALICE, ...typedData }))
    assert.equal(await verifyTypedData({ address: ALICE, signature, ...typedData }), true)
    assert.equal(await verifyTypedData({ address: ALICE, signature, ...typedData, message: { ...typedData.message, amount: 1n } }), false)
    const bobs = await ours.signTypedData({ account: BOB, ...typedData })
    assert.notEqual(bobs, signature)
    assert.equal(await verifyTypedData({ address: BOB, signature: bobs, ...typedData }), true)
    // eth_sign (address first) and personal_sign (message first) sign the same EIP-191 hash, as anvil's do.
    const viaEthSign = (await node.rpc('eth_sign', [ALICE, '0xdeadbeef'])).result
    assert.equal(viaEthSign, (await node.rpc('personal_sign', ['0xdeadbeef', ALICE])).result)
    assert.equal(viaEthSign, (await rawRpc(anvil.url, 'eth_sign', [ALICE, '0xdeadbeef'])).result)
  })

  it('behavior: an unknown from and bad params are -32602 naming what is wrong', async () => {
    const cases: [string, unknown[], RegExp][] = [
      ['eth_sendTransaction', [{ from: STRANGER, to: BOB }], /unknown account 0x0{38}aa/],
      ['eth_sign', [STRANGER, '0x00'], /unknown account/],
      ['personal_sign', ['0x00', STRANGER], /unknown account/],
      ['eth_signTypedData_v4', [STRANGER, typedDataJSON()], /unknown account/],
      ['eth_sendTransaction', ['0x1234'], /invalid transaction: expected an object/],
      ['eth_sendTransaction', [{ from: ALICE, to: '0x12' }], /invalid transaction\.to/],
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, gasPrice: '0x1', maxFeePerGas: '0x2' }], /both gasPrice and \(maxFeePerGas or maxPriorityFeePerGas\) specified/],
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, maxFeePerGas: '0x1', maxPriorityFeePerGas: '0x2' }], /maxFeePerGas \(1\) < maxPriorityFeePerGas \(2\)/],
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, chainId: '0x1' }], /chainId does not match node's \(have=1, want=901\)/],
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, type: '0x3' }], /unsupported transaction\.type 0x3/],
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, accessList: 'none' }], /invalid transaction\.accessList/],
      ['eth_sign', [ALICE, 'hello'], /invalid message: expected 0x-prefixed hex bytes/],
      ['personal_sign', [ALICE, '0x00'], /invalid address/],
      ['eth_signTypedData_v4', [ALICE, '{not json'], /invalid typedData: expected EIP-712 typed data/],
      ['eth_signTypedData_v4', [ALICE, { ...JSON.parse(typedDataJSON()), primaryType: 'Nope' }], /invalid typedData: .*Nope/],
      ['eth_signTypedData_v4', [ALICE], /invalid typedData/],
    ]
    for (const [method, params, message] of cases) {
      const { error } = (await node.rpc(method, params)) as Answer
      assert.equal(error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(error)}`)
      assert.match(error!.message, message, `${method} ${JSON.stringify(params)}`)
    }
    // A refused transaction is refused as a raw one is (-32000 from the pool), and nothing is pooled.
    const before = (await node.rpc('txpool_status')).result
    const poor = (await node.rpc('eth_sendTransaction', [{ from: ALICE, to: BOB, value: `0x${(10n ** 30n).toString(16)}`, gas: '0x5208' }])) as Answer
    assert.equal(poor.error?.code, -32000)
    assert.match(poor.error!.message, /insufficient funds/)
    assert.deepEqual((await node.rpc('txpool_status')).result, before)
  })
})

function typedDataJSON(): string {
  return JSON.stringify({ ...typedData, types: { ...typedData.types }, message: { ...typedData.message, amount: typedData.message.amount.toString() } })
}

describe('dev accounts on a sequencer', () => {
  let node: TestNode
  let dir: string
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mosaic-dev-accounts-'))
    const genesis = join(dir, 'genesis.json')
    writeFileSync(genesis, JSON.stringify({ config: { chainId: 901 }, alloc: { [ALICE]: { balance: '0x21e19e0c9bab2400000' } } }))
    node = await startNode(['--genesis-file', genesis, '--fee-recipient', '0x4200000000000000000000000000000000000011', '--block-time-ms', '3600000'], { mode: 'sequencer' })
  })
  after(async () => {
    await node?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('behavior: eth_accounts is empty, and every signing method is refused with -32000 saying dev accounts exist only on the devnet', async () => {
    assert.deepEqual((await node.rpc('eth_accounts')).result, [])
    const calls: [string, unknown[]][] = [
      ['eth_sendTransaction', [{ from: ALICE, to: BOB, value: '0x1' }]],
      ['eth_sendTransaction', ['not even a transaction']],
      ['eth_sign', [ALICE, '0xdeadbeef']],
      ['personal_sign', ['0xdeadbeef', ALICE]],
      ['eth_signTypedData_v4', [ALICE, typedDataJSON()]],
    ]
    for (const [method, params] of calls) {
      const { error } = (await node.rpc(method, params)) as Answer
      assert.equal(error?.code, -32000, `${method}: ${JSON.stringify(error)}`)
      assert.match(error!.message, new RegExp(`^${method}: this node holds no keys — dev accounts exist only on the devnet \\(\`npm start\``))
    }
    // ALICE is funded here, yet nothing was sent for her.
    assert.deepEqual((await node.rpc('txpool_status')).result, { pending: '0x0', queued: '0x0' })
  })
})
