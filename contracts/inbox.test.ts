/**
 * The L1 inbox's Solidity behaviour on a real anvil (issue 6): only the sequencer may submit;
 * batches chain by index, predecessor hash and block range; anything out of order or repeated
 * reverts with an error that says what was expected; every batch and frame is an event.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createPublicClient, createWalletClient, decodeEventLog, encodeAbiParameters, type Hex, http, keccak256, type PublicClient, zeroHash } from 'viem'
import { foundry } from 'viem/chains'
import { privateKeyToAccount } from 'viem/accounts'
import { type Anvil, startAnvil } from '../src/l1/anvil.ts'
import { loadArtifact } from './artifacts.ts'

const inbox = loadArtifact('Inbox')
// anvil's first two dev accounts: the sequencer and somebody else.
const SEQUENCER = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const OTHER = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')

type Batch = { index: bigint; firstBlock: bigint; lastBlock: bigint; postStateRoot: Hex; witnessCommitment: Hex; dataHash: Hex; previous: Hex }
const BATCH_TYPE = [
  {
    type: 'tuple',
    components: [
      { name: 'index', type: 'uint64' },
      { name: 'firstBlock', type: 'uint64' },
      { name: 'lastBlock', type: 'uint64' },
      { name: 'postStateRoot', type: 'bytes32' },
      { name: 'witnessCommitment', type: 'bytes32' },
      { name: 'dataHash', type: 'bytes32' },
      { name: 'previous', type: 'bytes32' },
    ],
  },
] as const

const hashBatch = (batch: Batch): Hex => keccak256(encodeAbiParameters(BATCH_TYPE, [batch]))

describe('Inbox contract on anvil', { timeout: 60_000 }, () => {
  let anvil: Anvil
  let client: PublicClient
  let address: Hex
  const wallet = (account: typeof SEQUENCER) => createWalletClient({ chain: foundry, transport: http(anvil.url), account })

  before(async () => {
    anvil = await startAnvil()
    client = createPublicClient({ chain: foundry, transport: http(anvil.url) }) as PublicClient
    const hash = await wallet(SEQUENCER).deployContract({ abi: inbox.abi, bytecode: inbox.bytecode, args: [SEQUENCER.address, 1n, keccak256('0xaa')] })
    address = (await client.waitForTransactionReceipt({ hash })).contractAddress!
  })
  after(async () => {
    await anvil?.stop()
  })

  const submit = async (batch: Batch, from = SEQUENCER) => {
    const hash = await wallet(from).writeContract({ address, abi: inbox.abi, functionName: 'submitBatch', args: [batch] })
    return client.waitForTransactionReceipt({ hash })
  }
  /** The revert a submission would hit, as viem reports it (simulated: nothing is mined). */
  const revertOf = async (batch: Batch, from = SEQUENCER): Promise<string> => {
    try {
      await client.simulateContract({ address, abi: inbox.abi, functionName: 'submitBatch', args: [batch], account: from })
    } catch (error) {
      return (error as Error).message
    }
    return 'no revert'
  }
  const read = <T>(functionName: string, args: unknown[] = []) => client.readContract({ address, abi: inbox.abi, functionName, args } as never) as Promise<T>

  it('behavior: batches chain in order; each is an event carrying its commitments and hash', async () => {
    const first: Batch = { index: 0n, firstBlock: 1n, lastBlock: 10n, postStateRoot: keccak256('0x01'), witnessCommitment: keccak256('0x02'), dataHash: keccak256('0x03'), previous: zeroHash }
    const receipt = await submit(first)
    assert.equal(receipt.status, 'success')
    const event = decodeEventLog({ abi: inbox.abi, ...receipt.logs[0]! }) as unknown as { eventName: string; args: Record<string, unknown> }
    assert.equal(event.eventName, 'BatchSubmitted')
    assert.deepEqual([event.args.index, event.args.firstBlock, event.args.lastBlock, event.args.postStateRoot, event.args.batchHash], [0n, 1n, 10n, first.postStateRoot, hashBatch(first)])
    assert.equal(await read<Hex>('lastBatchHash'), hashBatch(first))
    assert.equal(await read<Hex>('startStateRoot'), keccak256('0xaa'))
    assert.equal(await read<Hex>('hashBatch', [first]), hashBatch(first))

    const second: Batch = { ...first, index: 1n, firstBlock: 11n, lastBlock: 11n, postStateRoot: keccak256('0x04'), previous: hashBatch(first) }
    assert.equal((await submit(second)).status, 'success')
    assert.deepEqual([await read<bigint>('nextIndex'), await read<bigint>('nextBlock'), await read<Hex>('batchHashes', [1n])], [2n, 12n, hashBatch(second)])
  })

  it('behavior: out of order, duplicate, unchained, gapped, empty and foreign submissions revert saying why', async () => {
    const last = await read<Hex>('lastBatchHash')
    const next: Batch = { index: 2n, firstBlock: 12n, lastBlock: 20n, postStateRoot: keccak256('0x05'), witnessCommitment: keccak256('0x06'), dataHash: keccak256('0x07'), previous: last }
    assert.match(await revertOf({ ...next, index: 1n }), /WrongIndex[\s\S]*\(2, 1\)/)
    assert.match(await revertOf({ ...next, index: 5n }), /WrongIndex[\s\S]*\(2, 5\)/)
    assert.match(await revertOf({ ...next, previous: zeroHash }), /WrongPredecessor/)
    assert.match(await revertOf({ ...next, firstBlock: 14n }), /WrongFirstBlock[\s\S]*\(12, 14\)/)
    assert.match(await revertOf({ ...next, lastBlock: 11n }), /EmptyRange/)
    assert.match(await revertOf(next, OTHER), new RegExp(`NotSequencer[\\s\\S]*${OTHER.address}`, 'i'))
    // Nothing changed; the correct batch still goes in.
    assert.equal(await read<bigint>('nextIndex'), 2n)
    assert.equal((await submit(next)).status, 'success')
    assert.match(await revertOf(next), /WrongIndex[\s\S]*\(3, 2\)/)
  })

  it('behavior: frames are accepted from the sequencer only, as events with their hash', async () => {
    const data = '0xdeadbeef' as Hex
    const dataHash = keccak256(data)
    const hash = await wallet(SEQUENCER).writeContract({ address, abi: inbox.abi, functionName: 'postFrame', args: [3n, dataHash, 0, true, data] })
    const receipt = await client.waitForTransactionReceipt({ hash })
    const event = decodeEventLog({ abi: inbox.abi, ...receipt.logs[0]! }) as unknown as { eventName: string; args: Record<string, unknown> }
    assert.deepEqual(
      [event.eventName, event.args.batchIndex, event.args.dataHash, event.args.frameIndex, event.args.last, event.args.frameHash],
      ['FramePosted', 3n, dataHash, 0, true, keccak256(data)],
    )
    await assert.rejects(client.simulateContract({ address, abi: inbox.abi, functionName: 'postFrame', args: [3n, dataHash, 1, true, data], account: OTHER }), /NotSequencer/)
    // Blob frames need blobs: a call without any reverts.
    await assert.rejects(client.simulateContract({ address, abi: inbox.abi, functionName: 'postBlobFrames', args: [3n, dataHash, 0, true], account: SEQUENCER }), /NoBlobs/)
  })
})
