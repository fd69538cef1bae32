/**
 * State roots and proofs served by a node (issue 4, "RPC"): headers carry the root L blocks back,
 * `mosaic_getStateRoot` gives every block's exact root, and `eth_getProof` answers verify — with
 * `@ethereumjs/mpt` in `mpt` mode and with `verifyAccountProof` in `sharded` mode — and stop
 * verifying when one byte changes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { verifyMerkleProof } from '@ethereumjs/mpt'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, hexToBytes } from '@ethereumjs/util'
import { encodeAbiParameters, type Hex, keccak256 as viemKeccak, parseEther } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { decodeAccountLeaf, layoutOf } from '../../src/commitment/layout.ts'
import { verifyAccountProof, verifyPath } from '../../src/commitment/proof.ts'
import { bytesToNibbles } from '../../src/commitment/trie.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { type TestNode, startNode } from './harness.ts'

const token = loadArtifact('MosaicToken')
const HOLDER = '0x00000000000000000000000000000000000b0b01' as Hex
const LAG = 2

type Proof = {
  address: Hex
  accountProof: Hex[]
  balance: Hex
  codeHash: Hex
  nonce: Hex
  storageHash: Hex
  storageProof: { key: Hex; value: Hex; proof: Hex[] }[]
  shardProof?: { shard: Hex; shardRoot: Hex; siblings: Hex[] }
}

async function call<T>(t: TestNode, method: string, params: unknown[]): Promise<T> {
  const response = await t.rpc(method, params)
  if (response.error !== undefined) throw new Error(`${method}: ${response.error.message}`)
  return response.result as T
}

/** Deploy the token and move tokens and ether around; returns the token and the holder's balance slot. */
async function populate(t: TestNode) {
  const wallet = t.wallet(0)
  const deploy = await wallet.deployContract({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n], chain: null } as never)
  const address = (await t.publicClient.waitForTransactionReceipt({ hash: deploy, timeout: 20_000 })).contractAddress!
  const transfer = await wallet.writeContract({ address, abi: token.abi, functionName: 'transfer', args: [HOLDER, 4242n], chain: null } as never)
  await t.publicClient.waitForTransactionReceipt({ hash: transfer, timeout: 20_000 })
  const pay = await wallet.sendTransaction({ to: HOLDER, value: parseEther('1.5'), chain: null } as never)
  await t.publicClient.waitForTransactionReceipt({ hash: pay, timeout: 20_000 })
  // balanceOf is the mapping in slot 3 (contracts/MosaicToken.sol).
  const slot = viemKeccak(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [HOLDER, 3n]))
  return { address, slot }
}

/** Every header carries the root of the block LAG before it, as mosaic_getStateRoot reports it. */
async function checkHeaders(t: TestNode) {
  const head = await t.publicClient.getBlockNumber()
  for (let n = 1n; n <= head; n++) {
    const header = await t.publicClient.getBlock({ blockNumber: n })
    const carried = n - BigInt(LAG) < 0n ? 0n : n - BigInt(LAG)
    const root = await call<{ stateRoot: Hex; inHeaderOf: Hex | null }>(t, 'mosaic_getStateRoot', [`0x${carried.toString(16)}`])
    assert.equal(header.stateRoot, root.stateRoot, `header of block ${n}`)
  }
}

function flipLastByte(hex: Hex): Hex {
  const bytes = hexToBytes(hex)
  bytes[bytes.length - 1]! ^= 1
  return `0x${Buffer.from(bytes).toString('hex')}`
}

describe('state roots and eth_getProof', { timeout: 120_000 }, () => {
  it('behavior: mpt — headers carry the lagged root; account and storage proofs verify with @ethereumjs/mpt and fail with a changed byte', async () => {
    const t = await startNode(['--state-root-lag', String(LAG)])
    try {
      const { address, slot } = await populate(t)
      await checkHeaders(t)
      const latest = await call<{ blockNumber: Hex; stateRoot: Hex; final: boolean }>(t, 'mosaic_getStateRoot', ['latest'])
      const root = hexToBytes(latest.stateRoot)

      const proof = await call<Proof>(t, 'eth_getProof', [address, [slot], latest.blockNumber])
      const leaf = await verifyMerkleProof(keccak256(hexToBytes(address)), proof.accountProof.map(hexToBytes), { root })
      assert.ok(leaf !== null)
      const account = decodeAccountLeaf(leaf)
      assert.equal(account.nonce, BigInt(proof.nonce))
      assert.equal(`0x${Buffer.from(account.storageRoot).toString('hex')}`, proof.storageHash)
      assert.equal(`0x${Buffer.from(account.codeHash).toString('hex')}`, viemKeccak(token.deployedBytecode as Hex))
      const stored = await verifyMerkleProof(keccak256(hexToBytes(slot)), proof.storageProof[0]!.proof.map(hexToBytes), { root: account.storageRoot })
      assert.ok(stored !== null)
      assert.equal(bytesToBigInt(RLP.decode(stored) as Uint8Array), 4242n)
      assert.equal(BigInt(proof.storageProof[0]!.value), 4242n)

      // One changed byte anywhere in the account proof and it no longer verifies.
      const tampered = [...proof.accountProof]
      tampered[tampered.length - 1] = flipLastByte(tampered[tampered.length - 1]!)
      await assert.rejects(() => verifyMerkleProof(keccak256(hexToBytes(address)), tampered.map(hexToBytes), { root }))

      // The holder: an account without code, at the latest block and before it was paid.
      const holder = await call<Proof>(t, 'eth_getProof', [HOLDER, [], 'latest'])
      assert.equal(BigInt(holder.balance), parseEther('1.5'))
      const before = await call<Proof>(t, 'eth_getProof', [HOLDER, [], '0x1'])
      assert.equal(BigInt(before.balance), 0n)
      const oldRoot = hexToBytes((await call<{ stateRoot: Hex }>(t, 'mosaic_getStateRoot', ['0x1'])).stateRoot)
      assert.equal(await verifyMerkleProof(keccak256(hexToBytes(HOLDER)), before.accountProof.map(hexToBytes), { root: oldRoot }), null, 'absent at block 1')

      // Bad input is refused, naming the parameter.
      const bad = await t.rpc('eth_getProof', [address, 'not-a-list', 'latest'])
      assert.equal(bad.error?.code, -32602)
      assert.match(bad.error?.message ?? '', /storageKeys/)
      const future = await t.rpc('eth_getProof', [address, [], '0xffff'])
      assert.match(future.error?.message ?? '', /header not found/)
    } finally {
      await t.stop()
    }
  })

  it('behavior: sharded — the proof is a shard path plus a binary Merkle path; verifyAccountProof accepts it and refuses a changed sibling', async () => {
    const t = await startNode(['--state-commitment', 'sharded', '--shard-nibbles', '3', '--state-root-lag', String(LAG)])
    try {
      const { address, slot } = await populate(t)
      await checkHeaders(t)
      const latest = await call<{ blockNumber: Hex; stateRoot: Hex }>(t, 'mosaic_getStateRoot', ['latest'])
      const root = hexToBytes(latest.stateRoot)
      const layout = layoutOf('sharded', 3)
      for (const target of [address, HOLDER]) {
        const proof = await call<Proof>(t, 'eth_getProof', [target, target === address ? [slot] : [], latest.blockNumber])
        assert.ok(proof.shardProof !== undefined)
        assert.equal(proof.shardProof.siblings.length, 12)
        const parsed = {
          proof: proof.accountProof.map(hexToBytes),
          shardProof: { shard: Number(proof.shardProof.shard), shardRoot: hexToBytes(proof.shardProof.shardRoot), siblings: proof.shardProof.siblings.map(hexToBytes) },
        }
        const account = verifyAccountProof(layout, root, hexToBytes(target), parsed)
        assert.ok(account !== undefined)
        assert.equal(account.balance, BigInt(proof.balance))
        const siblings = [...parsed.shardProof.siblings]
        siblings[5] = hexToBytes(flipLastByte(proof.shardProof.siblings[5]!))
        assert.throws(() => verifyAccountProof(layout, root, hexToBytes(target), { ...parsed, shardProof: { ...parsed.shardProof, siblings } }), /leads to/)
        const path = [...parsed.proof]
        path[path.length - 1] = hexToBytes(flipLastByte(proof.accountProof[proof.accountProof.length - 1]!))
        assert.throws(() => verifyAccountProof(layout, root, hexToBytes(target), { ...parsed, proof: path }), /invalid proof: node 0x[0-9a-f]{64} on the path is missing or altered/)
        if (target === address) {
          const stored = verifyPath(account.storageRoot, bytesToNibbles(keccak256(hexToBytes(slot))), proof.storageProof[0]!.proof.map(hexToBytes))
          assert.equal(bytesToBigInt(RLP.decode(stored!) as Uint8Array), 4242n)
        }
      }
      const status = await call<{ stateRoot: { mode: string; shardNibbles: number; lag: number } }>(t, 'mosaic_status', [])
      assert.deepEqual([status.stateRoot.mode, status.stateRoot.shardNibbles, status.stateRoot.lag], ['sharded', 3, LAG])
    } finally {
      await t.stop()
    }
  })
})
