import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeEventLog, type Hex, parseAbiItem, parseEther, parseEventLogs } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { DEV_KEYS, startNode, type TestNode } from './harness.ts'
import { privateKeyToAccount } from 'viem/accounts'

const token = loadArtifact('MosaicToken')
const transferEvent = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')
const probe = loadArtifact('Probe')

// The same suite on every executor: the parallel one must be indistinguishable from the outside.
for (const executor of ['sequential', 'parallel'] as const)
describe(`node driven with viem (${executor} executor)`, () => {
  let t: TestNode
  const alice = privateKeyToAccount(DEV_KEYS[0])
  const bob = privateKeyToAccount(DEV_KEYS[1])
  let tokenAddress: Hex
  let probeAddress: Hex

  before(async () => {
    t = await startNode(['--executor', executor, '--executor-threads', '2'])
  })
  after(async () => {
    await t.stop()
  })

  it('default: chain id, client version and genesis', async () => {
    assert.equal(await t.publicClient.getChainId(), 901)
    const genesis = await t.publicClient.getBlock({ blockNumber: 0n })
    assert.equal(genesis.number, 0n)
    assert.equal(await t.publicClient.getBalance({ address: alice.address }), parseEther('10000'))
  })

  it('behavior: ETH transfer with an EIP-1559 tx', async () => {
    const before = await t.publicClient.getBalance({ address: bob.address })
    const hash = await t.wallet(0).sendTransaction({ to: bob.address, value: parseEther('1.5'), chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    assert.equal(receipt.type, 'eip1559')
    assert.equal(receipt.gasUsed, 21000n)
    assert.equal(await t.publicClient.getBalance({ address: bob.address }), before + parseEther('1.5'))
    const tx = await t.publicClient.getTransaction({ hash })
    assert.equal(tx.from.toLowerCase(), alice.address.toLowerCase())
    assert.equal(tx.blockNumber, receipt.blockNumber)
  })

  it('behavior: legacy tx', async () => {
    const hash = await t.wallet(1).sendTransaction({ to: alice.address, value: 1n, type: 'legacy', chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    assert.equal(receipt.type, 'legacy')
  })

  it('behavior: deploy the ERC-20 and transfer tokens; Transfer logs via getLogs', async () => {
    const hash = await t.wallet(0).deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    assert.ok(receipt.contractAddress)
    tokenAddress = receipt.contractAddress
    const code = await t.publicClient.getCode({ address: tokenAddress })
    assert.equal(code, token.deployedBytecode)
    // totalSupply is slot 2 (after name and symbol); both slot spellings clients use work.
    const supply = await t.publicClient.getStorageAt({ address: tokenAddress, slot: '0x2' })
    assert.equal(BigInt(supply!), 1_000_000n)
    const padded = await t.rpc('eth_getStorageAt', [tokenAddress, `0x${'2'.padStart(64, '0')}`, 'latest'])
    assert.equal(padded.result, supply)

    const transfer = await t.wallet(0).writeContract({ address: tokenAddress, abi: token.abi, functionName: 'transfer', args: [bob.address, 250n], chain: null } as never)
    const transferReceipt = await t.publicClient.waitForTransactionReceipt({ hash: transfer })
    assert.equal(transferReceipt.status, 'success')
    const balance = await t.publicClient.readContract({ address: tokenAddress, abi: token.abi, functionName: 'balanceOf', args: [bob.address] })
    assert.equal(balance, 250n)

    const logs = await t.publicClient.getLogs({ address: tokenAddress, fromBlock: 0n, toBlock: 'latest' })
    const events = parseEventLogs({ abi: token.abi, logs })
    const transfers = events.filter((e) => e.eventName === 'Transfer')
    assert.equal(transfers.length, 2) // mint in the constructor, then the transfer
    const last = transfers.at(-1)!
    assert.deepEqual((last.args as { to: string; value: bigint }).value, 250n)
    assert.equal(last.transactionHash, transfer)

    // topic filter: only transfers to bob
    const toBob = await t.publicClient.getLogs({
      address: tokenAddress,
      event: transferEvent,
      args: { to: bob.address },
      fromBlock: 0n,
    })
    assert.equal(toBob.length, 1)
    const decoded = decodeEventLog({ abi: token.abi, data: toBob[0]!.data, topics: toBob[0]!.topics })
    assert.equal(decoded.eventName, 'Transfer')
  })

  it('behavior: eth_call and estimateGas report a revert with its reason (code 3)', async () => {
    await assert.rejects(
      t.publicClient.simulateContract({ address: tokenAddress, abi: token.abi, functionName: 'transfer', args: [alice.address, 10n ** 30n], account: bob.address }),
      (error: Error) => error.message.includes('ERC20: transfer amount exceeds balance'),
    )
    const raw = await t.rpc('eth_call', [{ from: bob.address, to: tokenAddress, data: '0xa9059cbb' + alice.address.slice(2).padStart(64, '0') + 'f'.repeat(64) }, 'latest'])
    assert.equal(raw.error?.code, 3)
    assert.equal(raw.error?.message, 'execution reverted: ERC20: transfer amount exceeds balance')
    assert.match(String(raw.error?.data), /^0x08c379a0/)
    const est = await t.rpc('eth_estimateGas', [{ from: bob.address, to: tokenAddress, data: '0xa9059cbb' + alice.address.slice(2).padStart(64, '0') + 'f'.repeat(64) }])
    assert.equal(est.error?.code, 3)
  })

  it('behavior: estimateGas is enough and close to what is used', async () => {
    const gas = await t.publicClient.estimateContractGas({ address: tokenAddress, abi: token.abi, functionName: 'transfer', args: [bob.address, 1n], account: alice.address })
    const hash = await t.wallet(0).writeContract({ address: tokenAddress, abi: token.abi, functionName: 'transfer', args: [bob.address, 1n], gas, chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    assert.ok(receipt.gasUsed <= gas && gas - receipt.gasUsed < receipt.gasUsed / 10n, `estimate ${gas}, used ${receipt.gasUsed}`)
    assert.equal(await t.publicClient.estimateGas({ account: alice.address, to: bob.address, value: 1n }), 21000n)
  })

  it('behavior: a reverted tx is mined with status 0', async () => {
    const deploy = await t.wallet(0).deployContract({ abi: probe.abi, bytecode: probe.bytecode, chain: null } as never)
    probeAddress = (await t.publicClient.waitForTransactionReceipt({ hash: deploy })).contractAddress!
    const hash = await t.wallet(0).writeContract({ address: probeAddress, abi: probe.abi, functionName: 'fail', args: ['nope'], gas: 100_000n, chain: null } as never)
    const receipt = await t.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'reverted')
  })

  it('behavior: getBlock, getBlockReceipts, getTransactionReceipt agree', async () => {
    const head = await t.publicClient.getBlock({ includeTransactions: true })
    const byHash = await t.publicClient.getBlock({ blockHash: head.hash! })
    assert.equal(byHash.number, head.number)
    const receipts = (await t.rpc('eth_getBlockReceipts', [`0x${head.number!.toString(16)}`])).result as { transactionHash: string; gasUsed: string }[]
    assert.equal(receipts.length, head.transactions.length)
    let gas = 0n
    for (const r of receipts) {
      const single = await t.publicClient.getTransactionReceipt({ hash: r.transactionHash as Hex })
      assert.equal(single.blockHash, head.hash)
      gas += BigInt(r.gasUsed)
    }
    assert.equal(gas, head.gasUsed)
  })

  it('behavior: fee history has base fees and rewards', async () => {
    const history = await t.publicClient.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] })
    assert.equal(history.baseFeePerGas.length, history.gasUsedRatio.length + 1)
    assert.equal(history.reward?.[0]?.length, 2)
    const gasPrice = await t.publicClient.getGasPrice()
    assert.ok(gasPrice > 0n)
  })

  it('behavior: eth_sendRawTransactionSync returns the receipt', async () => {
    const wallet = t.wallet(2)
    const request = await wallet.prepareTransactionRequest({ to: alice.address, value: 7n, chain: null } as never)
    const raw = await wallet.signTransaction(request as never)
    const response = await t.rpc('eth_sendRawTransactionSync', [raw, 5000])
    const receipt = response.result as { status: string; blockNumber: string }
    assert.equal(receipt.status, '0x1')
    assert.ok(BigInt(receipt.blockNumber) > 0n)
  })
})
