/**
 * Stateless verification of one block (MISSION.md, "Verifier mode"): from the block and its
 * witness alone — no other state — check every witness node against the pre-state root,
 * re-execute the block with mosaic's executor over a state backed only by the witness (a key the
 * witness cannot prove is an error, never a default), and check the transactions root, receipts
 * root, logs bloom, gas used, the state delta and the post-state root.
 */
import type { Block } from '@ethereumjs/block'
import type { Common } from '@ethereumjs/common'
import { RLP } from '@ethereumjs/rlp'
import { bytesToBigInt, concatBytes, equalsBytes, KECCAK256_NULL, unprefixedHexToBytes } from '@ethereumjs/util'
import { Bloom } from '@ethereumjs/vm'
import { encodeReceipt } from '../chain/receipt.ts'
import { decodeTransaction, pinRecoveredSender, serializedTx } from '../chain/transaction.ts'
import { notAdmitted } from '../mempool/validate.ts'
import { orderedTrieRoot } from '../commitment/ordered-root.ts'
import { BinaryMerkleTree, binaryPathFromStore, PAGE_BYTES, pageTopHash } from '../commitment/binary-merkle.ts'
import { accountUpdates, SubtrieEngine, touchedKeys } from '../commitment/engine.ts'
import { decodeAccountLeaf, type Layout, subtrieOf } from '../commitment/layout.ts'
import { bytesToNibbles, decodeNode, EMPTY_ROOT, MerkleTrie, MissingNodeError, type NodeLoader } from '../commitment/trie.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { type VerdictReason, VerificationError } from '../errors.ts'
import { createSequentialExecutor } from '../execution/sequential-executor.ts'
import { encodeStateDelta } from '../state/delta-codec.ts'
import { FlatState, type StateBackend } from '../state/flat-state.ts'
import type { AccountRecord, StateDelta } from '../state/types.ts'
import { type BlockWitness, createWitness } from '../witness/witness.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'

export type VerifyBlockParameters = {
  readonly common: Common
  readonly layout: Layout
  readonly block: Block
  readonly witness: BlockWitness
  /** The post-state root claimed for this block (the sequencer's RPC, a bundle or the L1), checked when given. */
  readonly postStateRoot?: Uint8Array | undefined
  /** The sequencer's state delta for the block, when it published one: must equal the re-executed one. */
  readonly delta?: StateDelta | undefined
}

export type Verdict = {
  readonly blockNumber: bigint
  readonly postStateRoot: Uint8Array
  readonly gasUsed: bigint
  readonly transactions: number
  readonly witnessNodes: number
  /** The re-executed state delta. */
  readonly delta: StateDelta
}

/** Claims made beside the block — a published delta, a claimed post-state root — against what re-execution found. */
export function checkClaims(verdict: Verdict, claims: { readonly postStateRoot?: Uint8Array | undefined; readonly delta?: StateDelta | undefined }): void {
  if (claims.delta !== undefined && !equalsBytes(encodeStateDelta(claims.delta), encodeStateDelta(verdict.delta))) fail('block.delta', 'the published state delta differs from the re-executed one')
  if (claims.postStateRoot !== undefined && !equalsBytes(verdict.postStateRoot, claims.postStateRoot)) {
    fail('block.post-state-root', `post-state root ${bytesToHex(verdict.postStateRoot)}, the sequencer claims ${bytesToHex(claims.postStateRoot)}`)
  }
}

function fail(reason: VerdictReason, message: string): never {
  throw new VerificationError(reason, message)
}

/**
 * Witness nodes by hash: a tampered node is simply absent under the hash its parent names. In
 * `sharded` mode a 512-byte node may be a binary-Merkle page, stored under the hash of its top.
 */
function nodeMap(nodes: readonly Uint8Array[], layout: Layout): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>()
  for (const node of nodes) {
    map.set(bytesToUnprefixedHex(keccak256(node)), node)
    if (layout.mode === 'sharded' && node.length === PAGE_BYTES) map.set(bytesToUnprefixedHex(pageTopHash(node)), node)
  }
  return map
}

/**
 * Every witness node must hang off the pre-state root: walk from the root through the nodes the
 * witness holds (binary pages, account tries, storage tries under account leaves).
 */
function checkReachable(map: ReadonlyMap<string, Uint8Array>, nodes: readonly Uint8Array[], layout: Layout, root: Uint8Array): void {
  const reached = new Set<string>()
  const reachedNodes = new Set<Uint8Array>()
  const visitTrie = (hash: Uint8Array, storage: boolean) => {
    const key = bytesToUnprefixedHex(hash)
    const enc = map.get(key)
    if (enc === undefined || reached.has(key)) return
    reached.add(key)
    reachedNodes.add(enc)
    const walk = (node: ReturnType<typeof decodeNode>) => {
      if (node.t === 0) {
        if (!storage) {
          let leaf: ReturnType<typeof decodeAccountLeaf>
          try {
            leaf = decodeAccountLeaf(node.value)
          } catch {
            fail('witness.unreachable-node', `witness node ${bytesToHex(hash)} holds a malformed account`)
          }
          if (!equalsBytes(leaf.storageRoot, EMPTY_ROOT)) visitTrie(leaf.storageRoot, true)
        }
      } else if (node.t === 1) visitRef(node.child)
      else for (const child of node.children) if (child !== undefined) visitRef(child)
    }
    const visitRef = (ref: ReturnType<typeof decodeNode> | { t: 3; hash: Uint8Array }) => {
      if (ref.t === 3) visitTrie(ref.hash, storage)
      else walk(ref)
    }
    let node: ReturnType<typeof decodeNode>
    try {
      node = decodeNode(enc)
    } catch (error) {
      fail('witness.unreachable-node', `witness node ${bytesToHex(hash)} is not a trie node: ${(error as Error).message}`)
    }
    walk(node)
  }
  if (layout.mode === 'mpt') visitTrie(root, false)
  else {
    const depth = 4 * layout.splitNibbles
    const visitPage = (hash: Uint8Array, level: number) => {
      if (level === 0) return visitTrie(hash, false)
      const key = bytesToUnprefixedHex(hash)
      const page = map.get(key)
      if (page === undefined || reached.has(key)) return
      reached.add(key)
      reachedNodes.add(page)
      for (let i = 0; i < 16; i++) visitPage(page.subarray(i * 32, i * 32 + 32), level - 4)
    }
    visitPage(root, depth)
  }
  for (const node of nodes) {
    if (!reachedNodes.has(node)) fail('witness.unreachable-node', `witness node ${bytesToHex(keccak256(node))} is not reachable from the pre-state root ${bytesToHex(root)}`)
  }
}

/**
 * Flat state backed by the witness: reads walk the pre-state tries through the witness nodes
 * (each trie decoded once and kept), and the block's writes are applied to the same tries.
 */
class WitnessState implements StateBackend {
  private readonly loader: NodeLoader
  /** Account tries: the one state trie (`mpt`, index 0) or the shards read so far (`sharded`). */
  private readonly accountTries = new Map<number, MerkleTrie>()
  private readonly storageTries = new Map<string, MerkleTrie>()
  private readonly shardPaths = new Map<number, { leaf: Uint8Array; siblings: Uint8Array[] }>()
  private readonly codes: Map<string, Uint8Array>
  private readonly split: number

  /** Witness nodes the verification loaded — each reached from the root through its parent's hash. */
  readonly used = new Set<Uint8Array>()
  /**
   * The first read the witness could not answer. Inside execution such a failure surfaces as the
   * transaction failing; this keeps the typed error so the verdict names it.
   */
  failure: VerificationError | undefined

  constructor(
    private readonly map: ReadonlyMap<string, Uint8Array>,
    private readonly layout: Layout,
    private readonly root: Uint8Array,
    codes: readonly Uint8Array[],
  ) {
    this.loader = {
      loadNode: (hash) => {
        const node = this.map.get(bytesToUnprefixedHex(hash))
        if (node !== undefined) this.used.add(node)
        return node
      },
    }
    this.codes = new Map(codes.map((code) => [bytesToUnprefixedHex(keccak256(code)), code]))
    this.split = layout.mode === 'mpt' ? 0 : layout.splitNibbles
  }

  /** A read through the witness: any failure on the way (a node missing, one malformed) is the witness's. */
  private prove<T>(what: string, read: () => T): T {
    try {
      return read()
    } catch (error) {
      if (error instanceof VerificationError) throw error
      const detail = error instanceof MissingNodeError ? `the node ${bytesToHex(error.hash)} on its path is missing` : `a node on its path is malformed (${(error as Error).message})`
      this.failure ??= new VerificationError('witness.unprovable', `the witness cannot prove ${what}: ${detail}`, { cause: error })
      throw this.failure
    }
  }

  /** The account trie holding `key` (its shard's, in `sharded` mode), from the witness. */
  private accountTrie(key: Uint8Array): MerkleTrie {
    const index = subtrieOf(key, this.split)
    let trie = this.accountTries.get(index)
    if (trie === undefined) {
      let root = this.root
      if (this.layout.mode === 'sharded') {
        const path = binaryPathFromStore(this.loader, this.root, 4 * this.layout.splitNibbles, index)
        this.shardPaths.set(index, path)
        root = path.leaf
      }
      trie = new MerkleTrie(root, { loader: this.loader })
      this.accountTries.set(index, trie)
    }
    return trie
  }

  private accountLeaf(address: string) {
    return this.prove(`account 0x${address}`, () => {
      const key = keccak256(unprefixedHexToBytes(address))
      const leaf = this.accountTrie(key).get(bytesToNibbles(key).subarray(this.split))
      return leaf === undefined ? undefined : decodeAccountLeaf(leaf)
    })
  }

  readAccount(address: string): AccountRecord | undefined {
    const leaf = this.accountLeaf(address)
    return leaf === undefined ? undefined : { nonce: leaf.nonce, balance: leaf.balance, codeHash: leaf.codeHash }
  }

  readStorage(address: string, slot: string): Uint8Array | undefined {
    const leaf = this.accountLeaf(address)
    if (leaf === undefined || equalsBytes(leaf.storageRoot, EMPTY_ROOT)) return undefined
    return this.prove(`slot 0x${slot} of 0x${address}`, () => {
      let trie = this.storageTries.get(address)
      if (trie === undefined) {
        trie = new MerkleTrie(leaf.storageRoot, { loader: this.loader })
        this.storageTries.set(address, trie)
      }
      const value = trie.get(bytesToNibbles(keccak256(unprefixedHexToBytes(slot))))
      return value === undefined ? undefined : (RLP.decode(value) as Uint8Array)
    })
  }

  readCode(codeHash: string): Uint8Array | undefined {
    if (codeHash === bytesToUnprefixedHex(KECCAK256_NULL)) return new Uint8Array()
    const code = this.codes.get(codeHash)
    if (code === undefined) {
      this.failure ??= new VerificationError('witness.missing-code', `the witness lacks the code 0x${codeHash}`)
      throw this.failure
    }
    return code
  }

  /** The post-state root: the block's writes applied to the pre-state tries through the witness. */
  postStateRoot(delta: StateDelta): Uint8Array {
    return this.prove('the block’s writes', () => {
      const updates = accountUpdates(delta)
      for (const update of updates) this.accountTrie(update.hashedKey)
      const engine = SubtrieEngine.over(this.split, this.accountTries, this.storageTries, this.loader)
      const changed = new Map(engine.apply(updates).map(({ index, root }) => [index, root]))
      if (this.layout.mode === 'mpt') return changed.get(0) ?? this.root
      return rootFromPaths(4 * this.layout.splitNibbles, this.shardPaths, changed)
    })
  }
}

/**
 * The binary Merkle root after some leaves change, from their pre-state paths alone: a node off
 * the changed paths is known from the siblings the paths carry.
 */
function rootFromPaths(depth: number, paths: ReadonlyMap<number, { leaf: Uint8Array; siblings: Uint8Array[] }>, newLeaves: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const siblings = Array.from({ length: depth }, () => new Map<number, Uint8Array>())
  for (const [shard, path] of paths) path.siblings.forEach((hash, level) => siblings[level]!.set((shard >> level) ^ 1, hash))
  let level = new Map<number, Uint8Array>()
  for (const [shard, path] of paths) level.set(shard, newLeaves.get(shard) ?? path.leaf)
  for (let l = 0; l < depth; l++) {
    const next = new Map<number, Uint8Array>()
    for (const [index, hash] of level) {
      if (next.has(index >> 1)) continue
      const sibling = level.get(index ^ 1) ?? siblings[l]!.get(index ^ 1)!
      next.set(index >> 1, keccak256((index & 1) === 0 ? concatBytes(hash, sibling) : concatBytes(sibling, hash)))
    }
    level = next
  }
  return level.get(0) ?? new BinaryMerkleTree(depth).root()
}

/** Verify `block` from its witness; resolves with the verdict or rejects with a `VerificationError`. */
export async function verifyBlock({ common, layout, block, witness, postStateRoot, delta }: VerifyBlockParameters): Promise<Verdict> {
  const number = block.header.number
  if (witness.blockNumber !== number) fail('witness.block-number', `the witness is for block ${witness.blockNumber}, not block ${number}`)

  // Ancestor headers: the parent first, each the parent of the one before, each with its number.
  const hashes = new Map<bigint, Uint8Array>()
  let expected = block.header.parentHash
  for (const [i, header] of witness.headers.entries()) {
    const hash = keccak256(header)
    if (!equalsBytes(hash, expected)) fail('witness.ancestor-header', `witness header ${i} hashes to ${bytesToHex(hash)}, expected ${bytesToHex(expected)}`)
    let fields: Uint8Array[]
    try {
      fields = RLP.decode(header) as Uint8Array[]
    } catch (error) {
      fail('witness.ancestor-header', `witness header ${i} is not RLP: ${(error as Error).message}`)
    }
    const n = number - 1n - BigInt(i)
    if (!Array.isArray(fields) || !(fields[0] instanceof Uint8Array) || !(fields[8] instanceof Uint8Array) || bytesToBigInt(fields[8]) !== n) {
      fail('witness.ancestor-header', `witness header ${i} is not a header of block ${n}`)
    }
    hashes.set(n, hash)
    expected = fields[0]
  }
  if (number > 0n && witness.headers.length === 0) fail('witness.ancestor-header', 'the witness has no parent header')

  // Only what this chain admits (the mempool's rule), each signature recovered once and pinned:
  // on the decoded transaction itself (`decodeForeignBlock` leaves it unfrozen), or on a fresh
  // decoding of one whose sender was pinned elsewhere (a block built in this process), never trusted.
  const transactions = block.transactions.map((tx, i) => {
    const refusal = notAdmitted(tx, common)
    if (refusal !== undefined) fail('block.transaction-type', `transaction ${i} is one this chain does not admit: ${refusal}`)
    try {
      if (!Object.isFrozen(tx)) {
        pinRecoveredSender(tx, common.chainId())
        return tx
      }
      return decodeTransaction(serializedTx(tx), common)
    } catch (error) {
      fail('block.signature', `transaction ${i} has no valid signature: ${(error as Error).message}`)
    }
  })

  const map = nodeMap(witness.nodes, layout)
  const witnessState = new WitnessState(map, layout, witness.preStateRoot, witness.codes)
  const executor = await createSequentialExecutor({ common })
  const execution = await executor.executeBlock({
    header: block.header,
    transactions,
    state: new FlatState(witnessState),
    blockHash: (n) => {
      const hash = hashes.get(n)
      if (hash === undefined && n < number && n + 256n >= number) {
        witnessState.failure ??= new VerificationError('witness.ancestor-header', `the witness lacks the header of block ${n}, which BLOCKHASH reads`)
        throw witnessState.failure
      }
      return hash
    },
  })
  // A read the witness cannot answer surfaces as a transaction failing: the witness is at fault.
  if (witnessState.failure !== undefined) throw witnessState.failure
  const refused = execution.rejected[0]
  if (refused !== undefined) fail('block.invalid-transaction', `transaction ${bytesToHex(refused.tx.hash())} is invalid at its position: ${refused.reason}`)
  if (execution.gasUsed !== block.header.gasUsed) fail('block.gas-used', `gas used ${execution.gasUsed}, the header says ${block.header.gasUsed}`)
  const receiptsRoot = orderedTrieRoot(execution.executed.map(({ tx, receipt }) => encodeReceipt(receipt, tx.type)))
  if (!equalsBytes(receiptsRoot, block.header.receiptTrie)) fail('block.receipts-root', `receipts root ${bytesToHex(receiptsRoot)}, the header says ${bytesToHex(block.header.receiptTrie)}`)
  const transactionsRoot = orderedTrieRoot(block.transactions.map((tx) => serializedTx(tx)))
  if (!equalsBytes(transactionsRoot, block.header.transactionsTrie)) fail('block.transactions-root', 'the transactions root does not match the transactions')
  const bloom = new Bloom(undefined, common)
  for (const { receipt } of execution.executed) bloom.or(new Bloom(receipt.bitvector, common))
  if (!equalsBytes(bloom.bitvector, block.header.logsBloom)) fail('block.logs-bloom', 'the logs bloom does not match the receipts')
  // The witness's keys must be exactly the accounts and slots the block reads and writes.
  const keys = createWitness({ ...witness, keys: touchedKeys(accountUpdates(execution.delta, execution.reads)) }).keys.map(bytesToHex)
  const claimedKeys = createWitness(witness).keys.map(bytesToHex)
  if (keys.join() !== claimedKeys.join()) {
    const extra = claimedKeys.find((k) => !keys.includes(k))
    const missing = keys.find((k) => !claimedKeys.includes(k))
    fail('witness.keys', `the witness keys are not the ones the block touches (${extra !== undefined ? `${extra} is not touched` : `${missing} is missing`})`)
  }

  const root = witnessState.postStateRoot(execution.delta)
  if (witnessState.failure !== undefined) throw witnessState.failure
  // Every node the block used was reached from the pre-state root through hashes; any other node
  // must still hang off that root (a changed byte makes a node hang off nothing).
  if (witness.nodes.some((node) => !witnessState.used.has(node))) checkReachable(map, witness.nodes, layout, witness.preStateRoot)
  const verdict = { blockNumber: number, postStateRoot: root, gasUsed: execution.gasUsed, transactions: block.transactions.length, witnessNodes: map.size, delta: execution.delta }
  checkClaims(verdict, { postStateRoot, delta })
  return verdict
}
