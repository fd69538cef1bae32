/**
 * Deterministic benchmark workloads (BENCHMARKS.md, "Workloads"): from a seed, M funded accounts
 * with their private keys, the pre-state, and N signed EIP-1559 transactions in blocks, every
 * sender used at most once per block.
 *
 * - `transfers`: plain ETH transfers to random accounts (conflicts only on the fee recipient).
 * - `erc20`: `MosaicToken.transfer(to, amount)` calls between random holders; the token's runtime
 *   code and every holder's balance slot are written straight into the pre-state.
 */
import type { Common } from '@ethereumjs/common'
import { createFeeMarket1559Tx, type FeeMarket1559Tx } from '@ethereumjs/tx'
import {
  Address,
  bigIntToBytes,
  bigIntToUnpaddedBytes,
  bytesToUnprefixedHex,
  concatBytes,
  hexToBytes,
  KECCAK256_NULL,
  setLengthLeft,
  utf8ToBytes,
} from '@ethereumjs/util'
import secp256k1 from 'secp256k1'
import { loadArtifact } from '../contracts/artifacts.ts'
import { keccak256 } from '../src/crypto/crypto.ts'
import type { AccountRecord } from '../src/state/types.ts'

export type WorkloadName = 'transfers' | 'erc20'

/** mulberry32: a tiny, fast, seedable PRNG (uniform 32-bit output). Not for anything secret. */
export function createRandom(seed: number): { next(): number; int(n: number): number } {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n: number) => Math.floor(next() * n) }
}

export type BenchAccount = {
  readonly privateKey: Uint8Array
  readonly address: Address
  /** Lowercase hex without `0x`, as flat state keys it. */
  readonly key: string
}

/** Private key `index` of `seed`: keccak256(seed ‖ index), both as 32-byte big-endian words. */
export function deriveAccount(seed: number, index: number): BenchAccount {
  let privateKey = keccak256(
    concatBytes(setLengthLeft(bigIntToBytes(BigInt(seed)), 32), setLengthLeft(bigIntToBytes(BigInt(index)), 32)),
  )
  // Out of the curve's range with probability ~2^-128; re-hash to stay deterministic anyway.
  while (!secp256k1.privateKeyVerify(privateKey)) privateKey = keccak256(privateKey)
  const publicKey = secp256k1.publicKeyCreate(privateKey, false)
  const addressBytes = keccak256(publicKey.subarray(1)).subarray(12)
  return { privateKey, address: new Address(addressBytes), key: bytesToUnprefixedHex(addressBytes) }
}

/** Pre-state in flat-state form (keys as in `src/state/types.ts`). */
export type PreState = {
  readonly accounts: Map<string, AccountRecord>
  /** Per account, slot (64 hex chars) → value with leading zeros stripped. */
  readonly storage: Map<string, Map<string, Uint8Array>>
  /** Code by code hash (64 hex chars). */
  readonly code: Map<string, Uint8Array>
}

export type Workload = {
  readonly name: WorkloadName
  readonly seed: number
  readonly accounts: readonly BenchAccount[]
  readonly preState: PreState
  /** Signed with the common given to `createWorkload`, grouped into blocks. */
  readonly blocks: readonly (readonly FeeMarket1559Tx[])[]
  readonly txCount: number
  readonly coinbase: Address
  /** The ERC-20 token (`erc20` only). */
  readonly token: Address | undefined
}

export type CreateWorkloadParameters = {
  name: WorkloadName
  seed: number
  /** M: funded accounts (all of them ERC-20 holders in `erc20`). */
  accountCount: number
  /** N: transactions. */
  txCount: number
  blockSize: number
  /** Common the transactions are created and signed with. */
  common: Common
}

/** Every account starts with 1,000,000 ETH. */
export const INITIAL_BALANCE = 10n ** 24n
/** Every holder starts with 10^9 tokens (18 decimals). */
export const INITIAL_TOKENS = 10n ** 27n
export const MAX_FEE_PER_GAS = 1_000n
export const MAX_PRIORITY_FEE_PER_GAS = 1n
const TRANSFER_GAS_LIMIT = 21_000n
const ERC20_GAS_LIMIT = 100_000n

/** MosaicToken storage layout (contracts/MosaicToken.sol): name, symbol, totalSupply, balanceOf. */
const NAME_SLOT = 0n
const SYMBOL_SLOT = 1n
const TOTAL_SUPPLY_SLOT = 2n
const BALANCE_OF_SLOT = 3n

function word(value: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(value), 32)
}

/** Solidity's slot of `mapping(address => …)` at `slot`, key `address`: keccak(pad(key) ‖ pad(slot)). */
export function mappingSlot(address: Address, slot: bigint): Uint8Array {
  return keccak256(concatBytes(setLengthLeft(address.bytes, 32), word(slot)))
}

/** The storage slot of `balanceOf[holder]` in MosaicToken. */
export function balanceSlot(holder: Address): Uint8Array {
  return mappingSlot(holder, BALANCE_OF_SLOT)
}

/** A Solidity `string` shorter than 32 bytes: the bytes left-aligned, length × 2 in the last byte. */
function shortString(value: string): Uint8Array {
  const bytes = utf8ToBytes(value)
  if (bytes.length > 31) throw new Error('shortString: longer than 31 bytes')
  const out = new Uint8Array(32)
  out.set(bytes)
  out[31] = bytes.length * 2
  return out
}

function stripZeros(value: Uint8Array): Uint8Array {
  let i = 0
  while (i < value.length && value[i] === 0) i++
  return value.slice(i)
}

const TRANSFER_SELECTOR = keccak256(utf8ToBytes('transfer(address,uint256)')).subarray(0, 4)

function transferCalldata(to: Address, amount: bigint): Uint8Array {
  return concatBytes(TRANSFER_SELECTOR, setLengthLeft(to.bytes, 32), word(amount))
}

/** The fee recipient of every block (not a funded account: it only receives priority fees). */
export const COINBASE = new Address(hexToBytes('0x00000000000000000000000000000000000c0ffe'))

/** Where the `erc20` workload's token lives (any fixed address will do: it is put in pre-state). */
export function tokenAddress(seed: number): Address {
  return new Address(keccak256(utf8ToBytes(`mosaic-bench-token-${seed}`)).subarray(12))
}

export function createWorkload({ name, seed, accountCount, txCount, blockSize, common }: CreateWorkloadParameters): Workload {
  if (!Number.isSafeInteger(accountCount) || accountCount < 2) throw new Error('accountCount must be an integer ≥ 2')
  if (!Number.isSafeInteger(blockSize) || blockSize < 1 || blockSize > accountCount) {
    throw new Error('blockSize must be an integer between 1 and accountCount (each sender once per block)')
  }
  const random = createRandom(seed)
  const accounts: BenchAccount[] = []
  for (let i = 0; i < accountCount; i++) accounts.push(deriveAccount(seed, i))

  const preState: PreState = { accounts: new Map(), storage: new Map(), code: new Map() }
  for (const account of accounts) {
    preState.accounts.set(account.key, { nonce: 0n, balance: INITIAL_BALANCE, codeHash: KECCAK256_NULL })
  }

  let token: Address | undefined
  if (name === 'erc20') {
    token = tokenAddress(seed)
    const code = hexToBytes(loadArtifact('MosaicToken').deployedBytecode)
    const codeHash = keccak256(code)
    preState.code.set(bytesToUnprefixedHex(codeHash), code)
    preState.accounts.set(bytesToUnprefixedHex(token.bytes), { nonce: 1n, balance: 0n, codeHash })
    const slots = new Map<string, Uint8Array>()
    slots.set(bytesToUnprefixedHex(word(NAME_SLOT)), stripZeros(shortString('Mosaic Token')))
    slots.set(bytesToUnprefixedHex(word(SYMBOL_SLOT)), stripZeros(shortString('MOS')))
    slots.set(bytesToUnprefixedHex(word(TOTAL_SUPPLY_SLOT)), bigIntToUnpaddedBytes(INITIAL_TOKENS * BigInt(accountCount)))
    const balance = bigIntToUnpaddedBytes(INITIAL_TOKENS)
    for (const account of accounts) slots.set(bytesToUnprefixedHex(balanceSlot(account.address)), balance)
    preState.storage.set(bytesToUnprefixedHex(token.bytes), slots)
  }

  // Senders of a block: the first `blockSize` entries of a partial Fisher–Yates shuffle, so
  // they are distinct within the block.
  const order = accounts.map((_, i) => i)
  const nonces = new Array<bigint>(accountCount).fill(0n)
  const chainId = common.chainId()
  const blocks: FeeMarket1559Tx[][] = []
  for (let made = 0; made < txCount; ) {
    const size = Math.min(blockSize, txCount - made)
    const block: FeeMarket1559Tx[] = []
    for (let i = 0; i < size; i++) {
      const j = i + random.int(accountCount - i)
      const picked = order[j]!
      order[j] = order[i]!
      order[i] = picked
      const sender = accounts[picked]!
      let receiverIndex = random.int(accountCount - 1)
      if (receiverIndex >= picked) receiverIndex++ // anyone but the sender
      const receiver = accounts[receiverIndex]!
      const nonce = nonces[picked]!
      nonces[picked] = nonce + 1n
      const fees = { chainId, nonce, maxFeePerGas: MAX_FEE_PER_GAS, maxPriorityFeePerGas: MAX_PRIORITY_FEE_PER_GAS }
      const txData =
        name === 'transfers'
          ? { ...fees, gasLimit: TRANSFER_GAS_LIMIT, to: receiver.address, value: BigInt(1 + random.int(1_000_000)) * 10n ** 9n }
          : {
              ...fees,
              gasLimit: ERC20_GAS_LIMIT,
              to: token!,
              value: 0n,
              data: transferCalldata(receiver.address, BigInt(1 + random.int(1_000_000)) * 10n ** 12n),
            }
      block.push(createFeeMarket1559Tx(txData, { common }).sign(sender.privateKey))
    }
    blocks.push(block)
    made += size
  }
  return { name, seed, accounts, preState, blocks, txCount, coinbase: COINBASE, token }
}

/**
 * The same signed transaction under another `Common` (same fields, same signature), e.g. the
 * stock one without mosaic's crypto. With `reuseSender`, the sender public key already recovered
 * on `tx` is carried over instead of being recovered again with pure-JS secp256k1 (~3 ms each):
 * recovery is not what the execution benchmark measures, and the key is the same bytes.
 */
export function copyTransaction(tx: FeeMarket1559Tx, common: Common, reuseSender: boolean): FeeMarket1559Tx {
  const copy = createFeeMarket1559Tx(
    {
      chainId: tx.chainId,
      nonce: tx.nonce,
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
      gasLimit: tx.gasLimit,
      ...(tx.to === undefined ? {} : { to: tx.to }),
      value: tx.value,
      data: tx.data,
      accessList: tx.accessList,
      ...(tx.v === undefined ? {} : { v: tx.v }),
      ...(tx.r === undefined ? {} : { r: tx.r }),
      ...(tx.s === undefined ? {} : { s: tx.s }),
    },
    { common },
  )
  if (reuseSender) copy.cache.senderPubKey = tx.getSenderPublicKey()
  return copy
}
