/**
 * The catalogue of lies (issue 12), used by `lies.test.ts`: an honest chain is produced by a real node; each lie changes
 * one thing a sequencer serves — a header field, a transaction, the witness, a claim — and the
 * verifier, checking from its own configuration and genesis, must fail the block it concerns
 * with the named reason (`VerdictReason`). The honest chain, verified the same way, is the
 * negative control: every lie is a change to data that verifies.
 *
 * The README's table of lies is this list (`lies.test.ts` checks that it matches).
 */
import { brotliCompressSync, deflateRawSync } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToHex, hexToBytes } from '@ethereumjs/util'
import { parseGwei } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { ChainRules } from '../../src/verifier/rules.ts'
import type { RawBlockData } from '../../src/rpc/client.ts'
import { decodeWitness, encodeWitness, type BlockWitness } from '../../src/witness/witness.ts'
import { DEV_KEYS, type TestNode } from '../integration/harness.ts'

/** Header fields by their index in the header's RLP list. */
const H = { parentHash: 0, ommersHash: 1, coinbase: 2, stateRoot: 3, transactionsRoot: 4, receiptsRoot: 5, logsBloom: 6, difficulty: 7, number: 8, gasLimit: 9, gasUsed: 10, timestamp: 11, extraData: 12, mixHash: 13, nonce: 14, baseFee: 15, withdrawalsRoot: 16, blobGasUsed: 17, excessBlobGas: 18, beaconRoot: 19, requestsHash: 20 } as const

export type Chain = readonly RawBlockData[]
type Lie = {
  /** What the sequencer lies about. */
  readonly name: string
  /** The block the verifier must fail, and why. */
  readonly caught: number
  readonly reason: string | readonly string[]
  readonly apply: (chain: Chain, context: LieContext) => Chain | Promise<Chain>
  /** Verify from this block (headers below it checked, not executed). */
  readonly from?: number
  /** The lie makes this block fail first; the one checked is the failure after it. */
  readonly after?: number
}
type LieContext = { readonly rules: ChainRules; readonly node: TestNode }

export const LIED = 4 // the block most lies are about: it has three transactions, one a token call

const quantity = (value: bigint) => bigIntToUnpaddedBytes(value)
const int = (bytes: Uint8Array) => (bytes.length === 0 ? 0n : BigInt(bytesToHex(bytes)))

/** Replace block `n` of the chain. */
function at(chain: Chain, n: number, change: (item: RawBlockData) => RawBlockData): Chain {
  return chain.map((item) => (item.number === BigInt(n) ? change(item) : item))
}

/** Block `n` with its RLP's parts changed: [header fields, transactions, ommers, withdrawals]. */
function editBlock(chain: Chain, n: number, edit: (parts: { header: Uint8Array[]; txs: Uint8Array[]; rest: unknown[] }) => void): Chain {
  return at(chain, n, (item) => {
    const [header, txs, ...rest] = RLP.decode(item.block) as unknown as [Uint8Array[], Uint8Array[], ...unknown[]]
    const parts = { header: [...header], txs: [...txs], rest }
    edit(parts)
    return { ...item, block: RLP.encode([parts.header, parts.txs, ...parts.rest] as never) }
  })
}

const header = (n: number, field: keyof typeof H, value: (old: Uint8Array) => Uint8Array) =>
  (chain: Chain) =>
    editBlock(chain, n, (p) => {
      p.header[H[field]] = value(p.header[H[field]]!)
    })

export function editWitness(chain: Chain, n: number, edit: (w: BlockWitness) => BlockWitness): Chain {
  return at(chain, n, (item) => ({ ...item, witness: encodeWitness(edit(decodeWitness(item.witness))) }))
}

const flip = (bytes: Uint8Array, i = bytes.length - 1) => Uint8Array.from(bytes, (b, j) => (j === i ? b ^ 1 : b))

/** A legacy transfer signed without a chain id (pre-EIP-155), which the mempool refuses. */
async function unprotectedTransfer(nonce: number): Promise<Uint8Array> {
  const account = privateKeyToAccount(DEV_KEYS[2])
  return hexToBytes(await account.signTransaction({ type: 'legacy', nonce, gasPrice: parseGwei('2'), gas: 21_000n, to: `0x${'12'.repeat(20)}`, value: 1n }))
}

async function transferOnChain(chainId: number, nonce: number): Promise<Uint8Array> {
  const account = privateKeyToAccount(DEV_KEYS[2])
  return hexToBytes(await account.signTransaction({ type: 'eip1559', chainId, nonce, maxFeePerGas: parseGwei('2'), maxPriorityFeePerGas: 1n, gas: 21_000n, to: `0x${'12'.repeat(20)}`, value: 1n }))
}

/** Every lie, in the order of the README's table. */
export const LIES: readonly Lie[] = [
  // The header against its parent and the chain's rules.
  { name: 'timestamp 1 s later (within the rules)', caught: LIED + 1, reason: 'header.parent-hash', apply: header(LIED, 'timestamp', (t) => quantity(int(t) + 1n)) },
  { name: 'timestamp far in the future', caught: LIED, reason: 'header.timestamp-future', apply: header(LIED, 'timestamp', (t) => quantity(int(t) + 10n ** 9n)) },
  { name: 'timestamp before the parent’s', caught: LIED, reason: 'header.timestamp', apply: header(LIED, 'timestamp', () => quantity(1n)) },
  { name: 'extraData set', caught: LIED, reason: 'header.extra-data', apply: header(LIED, 'extraData', () => new TextEncoder().encode('lie')) },
  { name: 'mixHash (PREVRANDAO) chosen', caught: LIED, reason: 'header.mix-hash', apply: header(LIED, 'mixHash', (m) => flip(m)) },
  { name: 'gasLimit raised', caught: LIED, reason: 'header.gas-limit', apply: header(LIED, 'gasLimit', (g) => quantity(int(g) + 1n)) },
  {
    name: 'gasLimit 2^62 with base fee 0 (an endless loop)',
    caught: LIED,
    reason: 'header.gas-limit',
    apply: (chain) =>
      editBlock(chain, LIED, (p) => {
        p.header[H.gasLimit] = quantity(2n ** 62n)
        p.header[H.baseFee] = quantity(0n)
      }),
  },
  { name: 'base fee not per EIP-1559', caught: LIED, reason: 'header.base-fee', apply: header(LIED, 'baseFee', (b) => quantity(int(b) + 1n)) },
  { name: 'coinbase not the fee recipient', caught: LIED, reason: 'header.coinbase', apply: header(LIED, 'coinbase', (c) => flip(c)) },
  { name: 'lagged stateRoot in the header', caught: LIED, reason: 'header.lagged-root', apply: header(LIED, 'stateRoot', (r) => flip(r)) },
  { name: 'parentHash not the verified parent', caught: LIED, reason: 'header.parent-hash', apply: header(LIED, 'parentHash', (h) => flip(h)) },
  { name: 'number skips one', caught: LIED, reason: 'header.number', apply: header(LIED, 'number', (n) => quantity(int(n) + 1n)) },
  { name: 'difficulty set', caught: LIED, reason: ['header.difficulty', 'block.undecodable'], apply: header(LIED, 'difficulty', () => quantity(1n)) },
  { name: 'nonce set', caught: LIED, reason: ['header.nonce', 'block.undecodable'], apply: header(LIED, 'nonce', (n) => flip(n)) },
  { name: 'ommersHash not the empty list’s', caught: LIED, reason: ['header.ommers', 'block.undecodable'], apply: header(LIED, 'ommersHash', (h) => flip(h)) },
  { name: 'withdrawalsRoot not the empty trie’s', caught: LIED, reason: ['header.withdrawals', 'block.undecodable'], apply: header(LIED, 'withdrawalsRoot', (h) => flip(h)) },
  { name: 'blobGasUsed set', caught: LIED, reason: 'header.blob-gas', apply: header(LIED, 'blobGasUsed', () => quantity(131_072n)) },
  { name: 'excessBlobGas set', caught: LIED, reason: 'header.blob-gas', apply: header(LIED, 'excessBlobGas', () => quantity(131_072n)) },
  { name: 'parentBeaconBlockRoot set', caught: LIED, reason: 'header.beacon-root', apply: header(LIED, 'beaconRoot', (h) => flip(h)) },
  { name: 'requestsHash changed', caught: LIED, reason: 'header.requests', apply: header(LIED, 'requestsHash', (h) => flip(h)) },
  // The block against its re-execution.
  { name: 'gasUsed understated', caught: LIED, reason: 'block.gas-used', apply: header(LIED, 'gasUsed', (g) => quantity(int(g) - 1n)) },
  { name: 'receiptsRoot changed', caught: LIED, reason: 'block.receipts-root', apply: header(LIED, 'receiptsRoot', (r) => flip(r)) },
  { name: 'transactionsRoot changed', caught: LIED, reason: ['block.transactions-root', 'block.undecodable'], apply: header(LIED, 'transactionsRoot', (r) => flip(r)) },
  { name: 'logsBloom changed', caught: LIED, reason: 'block.logs-bloom', apply: header(LIED, 'logsBloom', (b) => flip(b, 0)) },
  { name: 'a transaction dropped', caught: LIED, reason: ['block.gas-used', 'block.transactions-root', 'block.undecodable', 'witness.keys'], apply: (c) => editBlock(c, LIED, (p) => void p.txs.pop()) },
  { name: 'transactions reordered', caught: LIED, reason: ['block.transactions-root', 'block.undecodable', 'block.receipts-root', 'block.invalid-transaction'], apply: (c) => editBlock(c, LIED, (p) => void p.txs.reverse()) },
  { name: 'a signature altered', caught: LIED, reason: ['block.signature', 'block.undecodable', 'block.invalid-transaction'], apply: (c) => editBlock(c, LIED, (p) => (p.txs[0] = flip(p.txs[0]!))) },
  { name: 'a transaction without replay protection (refused type)', caught: LIED, reason: 'block.transaction-type', apply: async (c) => { const tx = await unprotectedTransfer(0); return editBlock(c, LIED, (p) => p.txs.push(tx)) } },
  { name: 'a transaction signed for another chain', caught: LIED, reason: ['block.transaction-type', 'block.undecodable'], apply: async (c) => { const tx = await transferOnChain(1, 0); return editBlock(c, LIED, (p) => p.txs.push(tx)) } },
  { name: 'a withdrawal in the body', caught: LIED, reason: ['block.body', 'block.undecodable'], apply: (c) => editBlock(c, LIED, (p) => (p.rest[1] = [[quantity(0n), quantity(0n), new Uint8Array(20).fill(1), quantity(1n)]])) },
  { name: 'an undecodable block', caught: LIED, reason: 'block.undecodable', apply: (c) => at(c, LIED, (item) => ({ ...item, block: item.block.subarray(0, item.block.length - 3) })) },
  // The witness.
  { name: 'a forged ancestor header (BLOCKHASH, TIMESTAMP)', caught: LIED, reason: 'witness.ancestor-header', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, headers: [forgedHeader(w.headers[0]!), ...w.headers.slice(1)] })) },
  { name: 'an ancestor header out of order', caught: LIED, reason: 'witness.ancestor-header', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, headers: [w.headers[0]!, w.headers[0]!] })) },
  { name: 'another block’s witness', caught: LIED, reason: ['witness.block-number', 'witness.pre-state-root'], apply: (c) => at(c, LIED, (item) => ({ ...item, witness: c[LIED]!.witness })) },
  { name: 'a witness from another pre-state', caught: LIED, reason: 'witness.pre-state-root', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, preStateRoot: flip(w.preStateRoot) })) },
  { name: 'a witness node altered', caught: LIED, reason: ['witness.unreachable-node', 'witness.unprovable'], apply: (c) => editWitness(c, LIED, (w) => ({ ...w, nodes: w.nodes.map((node, i) => (i === 0 ? flip(node) : node)) })) },
  { name: 'a witness node withheld', caught: LIED, reason: 'witness.unprovable', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, nodes: w.nodes.slice(1) })) },
  { name: 'a contract’s code withheld', caught: LIED, reason: 'witness.missing-code', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, codes: [] })) },
  { name: 'a key the block does not touch', caught: LIED, reason: 'witness.keys', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, keys: [...w.keys, new Uint8Array(20).fill(0x77)] })) },
  { name: 'a key the block touches left out', caught: LIED, reason: 'witness.keys', apply: (c) => editWitness(c, LIED, (w) => ({ ...w, keys: w.keys.slice(1) })) },
  { name: 'a decompression bomb as the witness (brotli, version 2)', caught: LIED, reason: 'witness.too-large', apply: (c) => at(c, LIED, (item) => ({ ...item, witness: Uint8Array.of(2, ...brotliCompressSync(new Uint8Array(4 * 1024 * 1024))) })) },
  { name: 'a decompression bomb as the witness (deflate, version 1)', caught: LIED, reason: 'witness.too-large', apply: (c) => at(c, LIED, (item) => ({ ...item, witness: Uint8Array.of(1, ...deflateRawSync(new Uint8Array(4 * 1024 * 1024))) })) },
  { name: 'an undecodable witness', caught: LIED, reason: 'witness.undecodable', apply: (c) => at(c, LIED, (item) => ({ ...item, witness: item.witness.subarray(0, 10) })) },
  // Claims beside the chain, and what follows a failure.
  { name: 'a wrong post-state root claimed over RPC', caught: LIED, reason: 'block.post-state-root', apply: (c) => at(c, LIED, (item) => ({ ...item, postStateRoot: flip(item.postStateRoot!) })) },
  { name: 'a published state delta that differs', caught: LIED, reason: 'block.delta', apply: (c) => at(c, LIED, (item) => ({ ...item, delta: flip(item.delta!) })) },
  {
    name: 'a block after a failed one, forged to fit (never verified from an unchained pre-state)',
    caught: LIED + 1,
    after: LIED,
    reason: 'block.unverified-parent',
    // Block 4 withholds a node (a FAILED verdict); block 5 is served as it is.
    apply: (c) => editWitness(c, LIED, (w) => ({ ...w, nodes: w.nodes.slice(1) })),
  },
  { name: 'an unchained --from: the lagged root contradicts the anchored pre-state', from: LIED, caught: LIED + 1, reason: 'header.lagged-root', apply: header(LIED + 1, 'stateRoot', (r) => flip(r)) },
  { name: 'a header below --from breaking the rules', from: LIED, caught: LIED - 1, reason: 'header.mix-hash', apply: header(LIED - 1, 'mixHash', (m) => flip(m)) },
]

/** A parent header with another timestamp: BLOCKHASH, TIMESTAMP and the base fee would follow it. */
function forgedHeader(rlp: Uint8Array): Uint8Array {
  const fields = [...(RLP.decode(rlp) as Uint8Array[])]
  fields[H.timestamp] = quantity(int(fields[H.timestamp]!) + 5n)
  return RLP.encode(fields)
}



/** The README's table: each lie, the block it is caught at, and the reason. */
export function liesTable(): string {
  const rows = LIES.map((lie) => {
    const reasons = typeof lie.reason === 'string' ? [lie.reason] : lie.reason
    const where = lie.caught === LIED ? `the lied block (${LIED})` : lie.caught > LIED ? `its child (${lie.caught})` : `below --from (${lie.caught})`
    return `| ${lie.name}${lie.from === undefined ? '' : ` (--from ${lie.from})`} | ${where} | ${reasons.map((r) => `\`${r}\``).join(' or ')} |`
  })
  return ['| lie | caught at block | reason |', '|---|---|---|', ...rows].join('\n')
}
