/**
 * Trie pruning (issue 17: the data dir must not grow with the chain at a fixed state). A
 * sequencer with `TRIE_HISTORY_BLOCKS=2` and one that keeps every node (`all`) get the same
 * signed transactions — a token deployment, token transfers that create, change and empty balance
 * slots (a storage trie's leaves inserted, updated and deleted), ether transfers — block by
 * block, both with a trie cache so small that the commitment workers keep releasing nodes and
 * loading them again from LMDB (a node pruned while still needed fails there). They must agree
 * on every root, before and after the pruned node restarts on its data dir (which reloads every
 * trie from the store); the pruned node must hold fewer nodes, prove the head's state exactly as
 * the other does, read every account and slot of the head's state from its store alone (`mpt`),
 * and refuse a proof at a block whose trie it pruned, saying so.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { verifyMerkleProof } from '@ethereumjs/mpt'
import { equalsBytes, hexToBytes } from '@ethereumjs/util'
import { encodeAbiParameters, encodeDeployData, encodeFunctionData, getContractAddress, type Hex, keccak256 as viemKeccak } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { decodeAccountLeaf } from '../../src/commitment/layout.ts'
import { bytesToNibbles, decodeNode, EMPTY_ROOT, type HashRef, MissingNodeError, type NodeLoader, type TrieNode } from '../../src/commitment/trie.ts'
import { keccak256 } from '../../src/crypto/crypto.ts'
import { DEV_KEYS, rawRpc, startNode, type TestNode } from './harness.ts'

const token = loadArtifact('MosaicToken')
const ADMIN = { authorization: 'Bearer test-token' }
const senders = DEV_KEYS.map((key) => privateKeyToAccount(key))
const TOKEN = getContractAddress({ from: senders[0]!.address, nonce: 0n })
const SINKS = Array.from({ length: 4 }, (_, i) => `0x${(0x5100 + i).toString(16).padStart(40, '0')}` as Hex)
/** balanceOf is the mapping in slot 3 (contracts/MosaicToken.sol). */
const balanceSlot = (holder: Hex) => viemKeccak(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [holder, 3n]))

/** Signs each block's transactions once, so that both nodes get the same bytes. */
function chainOfBlocks() {
  const nonces = senders.map(() => 0)
  const tokens = senders.map(() => 0n)
  tokens[0] = 1_000_000n
  const sign = (i: number, tx: { to?: Hex; data?: Hex; value?: bigint; gas?: bigint }) =>
    senders[i]!.signTransaction({ chainId: 901, type: 'eip1559', nonce: nonces[i]!++, value: 0n, gas: 21_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 6n, ...tx })
  const transfer = (to: Hex, amount: bigint) => encodeFunctionData({ abi: token.abi, functionName: 'transfer', args: [to, amount] })
  return async (block: number): Promise<Hex[]> => {
    if (block === 1) return [await sign(0, { data: encodeDeployData({ abi: token.abi, bytecode: token.bytecode, args: ['Mosaic', 'MSC', 1_000_000n] }), gas: 3_000_000n })]
    const raws: Hex[] = []
    const to = 1 + (block % (senders.length - 1))
    raws.push(await sign(0, { to: TOKEN, data: transfer(senders[to]!.address, 100n + BigInt(block)), gas: 200_000n }))
    tokens[0]! -= 100n + BigInt(block)
    tokens[to]! += 100n + BigInt(block)
    for (let i = 1; i < senders.length; i++) {
      if (i === to) continue
      if (tokens[i]! > 0n && (block + i) % 3 === 0) {
        // The whole balance: the sender's slot is deleted from the token's storage trie.
        raws.push(await sign(i, { to: TOKEN, data: transfer(SINKS[i % SINKS.length]!, tokens[i]!), gas: 200_000n }))
        tokens[i] = 0n
      } else raws.push(await sign(i, { to: SINKS[(i + block) % SINKS.length]!, value: BigInt(block) }))
    }
    return raws
  }
}

async function sealBlock(t: TestNode, raws: readonly Hex[]): Promise<Hex> {
  for (const raw of raws) {
    const sent = await t.rpc('eth_sendRawTransaction', [raw])
    assert.equal(sent.error, undefined, JSON.stringify(sent.error))
  }
  const sealed = await rawRpc(t.url, 'admin_sealBlock', [], ADMIN)
  assert.equal(typeof sealed.result, 'string', JSON.stringify(sealed.error))
  const root = await t.rpc('mosaic_getStateRoot', [sealed.result])
  assert.equal(root.error, undefined, `the root of block ${String(sealed.result)}: ${JSON.stringify(root.error)}`)
  return (root.result as { stateRoot: Hex }).stateRoot
}

/**
 * Every account leaf and storage slot under `root`, read from `loader` alone (`mpt` layout): each
 * node referenced by hash is loaded, a storage trie's under its account. Throws on a missing node.
 */
function readWholeState(root: Uint8Array, loader: NodeLoader): { accounts: number; slots: number } {
  let accounts = 0
  let slots = 0
  const walk = (ref: TrieNode | HashRef, path: number[], owner: Uint8Array | undefined, onLeaf: (path: number[], value: Uint8Array) => void): void => {
    if (ref.t === 3) {
      const enc = loader.loadNode(ref.hash, owner)
      if (enc === undefined) throw new MissingNodeError(ref.hash)
      walk(decodeNode(enc, ref.hash), path, owner, onLeaf)
    } else if (ref.t === 0) onLeaf([...path, ...ref.path], ref.value)
    else if (ref.t === 1) walk(ref.child, [...path, ...ref.path], owner, onLeaf)
    else ref.children.forEach((child, i) => child !== undefined && walk(child, [...path, i], owner, onLeaf))
  }
  const nibblesToBytes = (nibbles: number[]) => Uint8Array.from({ length: nibbles.length / 2 }, (_, i) => (nibbles[2 * i]! << 4) | nibbles[2 * i + 1]!)
  walk({ t: 3, hash: root }, [], undefined, (path, value) => {
    accounts++
    const { storageRoot } = decodeAccountLeaf(value)
    if (equalsBytes(storageRoot, EMPTY_ROOT)) return
    walk({ t: 3, hash: storageRoot }, [], nibblesToBytes(path), () => slots++)
  })
  return { accounts, slots }
}

describe('trie pruning', { timeout: 300_000 }, () => {
  for (const mode of ['mpt', 'sharded'] as const) {
    it(`behavior: ${mode} — a node keeping 2 blocks of tries agrees on every root with one keeping all, across a restart, holds fewer nodes, proves the head alike and refuses pruned blocks`, async () => {
      const flags = ['--state-commitment', mode, '--shard-nibbles', '1', '--block-time-ms', '100000', '--miniblock-ms', '100000', '--trie-cache-bytes', '16384', '--commitment-threads', '2']
      const pruned = { flags: [...flags, '--trie-history-blocks', '2'], node: await startNode([...flags, '--trie-history-blocks', '2']) }
      const archive = await startNode([...flags, '--trie-history-blocks', 'all'])
      const next = chainOfBlocks()
      let block = 0
      const both = async (count: number) => {
        for (let i = 0; i < count; i++) {
          const raws = await next(++block)
          const [a, b] = [await sealBlock(pruned.node, raws), await sealBlock(archive, raws)]
          assert.equal(a, b, `block ${block}: the pruned node's root differs`)
        }
        await pruned.node.node.commitment.flush()
        await archive.node.commitment.flush()
      }
      try {
        await both(24)
        // Restart on the same data dir: every trie is read again from what the store kept.
        await pruned.node.stop({ keepData: true })
        pruned.node = await startNode(pruned.flags, { dataDir: pruned.node.dataDir })
        await both(8)
        // One more block so that the last prune (which runs after a block's nodes are stored) is done.
        await both(1)

        const counts = [pruned.node.node.store.trieNodeCounts(), archive.node.store.trieNodeCounts()]
        assert.ok(counts[0]!.nodes < counts[1]!.nodes * 0.75, `pruned ${counts[0]!.nodes} nodes, archive ${counts[1]!.nodes}`)
        // At most 4 blocks' entries of each writer: 2 workers and the aggregate nodes (AGGREGATE_WRITER).
        assert.ok(counts[0]!.staleEntries <= 4 * 3, `${counts[0]!.staleEntries} trie_stale entries left: older ones must have been pruned`)
        // The aggregate nodes of old roots (the mpt root node, the sharded top page) are pruned too;
        // the head's is kept, and the archive keeps every one.
        for (const number of [3n, 20n]) {
          const oldRoot = archive.node.store.getStateRoot(number)!
          assert.deepEqual(pruned.node.node.store.getStateRoot(number), oldRoot)
          assert.equal(pruned.node.node.store.loadNode(oldRoot), undefined, `the aggregate node of block ${number}'s root is pruned`)
          assert.ok(archive.node.store.loadNode(oldRoot) !== undefined, `the archive keeps block ${number}'s`)
        }
        const headRoot = pruned.node.node.store.getCommitmentHead()!.root
        assert.ok(pruned.node.node.store.loadNode(headRoot) !== undefined, 'the head root\'s aggregate node is kept')
        assert.equal(counts[1]!.staleEntries, 0, 'nothing is recorded for pruning when every node is kept')
        const metric = (text: string) => Number(/^mosaic_trie_nodes_pruned (\d+)$/m.exec(text)?.[1])
        assert.ok(metric(await (await fetch(`${pruned.node.url}/metrics`)).text()) > 0, 'mosaic_trie_nodes_pruned counts the deleted nodes')
        assert.equal(metric(await (await fetch(`${archive.url}/metrics`)).text()), 0)

        // The head proves alike on both; in mpt mode every proof also verifies against the root.
        const head = `0x${block.toString(16)}`
        const holders = [...senders.map((s) => s.address), ...SINKS]
        for (const address of [...holders, TOKEN]) {
          const slots = address === TOKEN ? holders.map(balanceSlot) : []
          const [a, b] = await Promise.all([pruned.node.rpc('eth_getProof', [address, slots, head]), archive.rpc('eth_getProof', [address, slots, head])])
          assert.equal(a.error, undefined, JSON.stringify(a.error))
          assert.deepEqual(a.result, b.result, `proof of ${address}`)
          if (mode === 'mpt') {
            const root = hexToBytes(((await pruned.node.rpc('mosaic_getStateRoot', [head])).result as { stateRoot: Hex }).stateRoot)
            const { accountProof, balance, nonce } = a.result as { accountProof: Hex[]; balance: Hex; nonce: Hex }
            const leaf = await verifyMerkleProof(keccak256(hexToBytes(address)), accountProof.map((node) => hexToBytes(node)), { root })
            // An account that never received anything is proven absent.
            assert.equal(leaf !== null, balance !== '0x0' || nonce !== '0x0', `account proof of ${address}`)
          }
        }
        if (mode === 'mpt') {
          const root = hexToBytes(((await pruned.node.rpc('mosaic_getStateRoot', [head])).result as { stateRoot: Hex }).stateRoot)
          const whole = readWholeState(root, pruned.node.node.store)
          assert.deepEqual(whole, readWholeState(root, archive.node.store))
          assert.ok(whole.slots > 3, `${whole.slots} storage slots read`)
        }

        // A block whose trie is gone: refused with a clear error; the archive still proves it.
        const old = await pruned.node.rpc('eth_getProof', [senders[1]!.address, [], '0x3'])
        assert.match(old.error?.message ?? '', /no proof at block 3: its state trie is pruned/)
        assert.equal((await archive.rpc('eth_getProof', [senders[1]!.address, [], '0x3'])).error, undefined)
      } finally {
        await pruned.node.stop()
        await archive.stop()
      }
    })
  }
})
