/**
 * Deterministic benchmark workloads (BENCHMARKS.md, "Workloads"): from a seed, M funded accounts
 * with their private keys, the pre-state, and N signed EIP-1559 transactions in blocks, every
 * sender used at most once per block.
 *
 * - `transfers`: plain ETH transfers to random accounts (conflicts only on the fee recipient).
 * - `erc20`: `MosaicToken.transfer(to, amount)` calls between random holders; the token's runtime
 *   code and every holder's balance slot are written straight into the pre-state.
 * - `amm`: `Pool.swap(zeroForOne, amountIn)` calls on one constant-product pool
 *   (contracts/Pool.sol); every swap reads and writes both reserve slots, so every transaction
 *   conflicts with every other. The pool's runtime code, its reserves and each trader's internal
 *   balances are written straight into the pre-state.
 * - `mixed`: 70% transfers, 20% erc20, 10% amm, in a deterministically shuffled order.
 *
 * Each workload also carries a small warm-up set (`Workload.warmup`): blocks of the same kinds of
 * transaction among accounts, a pool and a fee recipient that the measured blocks never touch, so
 * an executor can warm its worker threads on them without changing what the measured blocks read
 * (nor what it learns about them, such as which contracts conflict).
 */
import type { Common } from '@ethereumjs/common'
import { createFeeMarket1559Tx, type FeeMarket1559Tx, type FeeMarketEIP1559TxData } from '@ethereumjs/tx'
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
import { createRandom } from '../src/utils/random.ts'

export const WORKLOAD_NAMES = ['transfers', 'erc20', 'amm', 'mixed'] as const
export type WorkloadName = (typeof WORKLOAD_NAMES)[number]

/** What one transaction does. */
export type TxKind = 'transfer' | 'erc20' | 'swap'

/** BENCHMARKS.md, "Workloads": the share of each kind in `mixed`. */
const MIXED_SHARES: readonly (readonly [TxKind, number])[] = [
  ['transfer', 0.7],
  ['erc20', 0.2],
  ['swap', 0.1],
]

export { createRandom }

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

/**
 * Transactions an executor may run before the measured blocks to warm up (JIT, worker threads)
 * without changing anything those blocks read: their senders, recipients, token, pool and fee
 * recipient are their own (the contracts' code is the same). Every transaction succeeds.
 */
export type Warmup = {
  readonly blocks: readonly (readonly FeeMarket1559Tx[])[]
  readonly coinbase: Address
}

export type Workload = {
  readonly name: WorkloadName
  readonly seed: number
  /** The M funded accounts of the measured blocks (the warm-up accounts come after them). */
  readonly accounts: readonly BenchAccount[]
  readonly preState: PreState
  /** Signed with the common given to `createWorkload`, grouped into blocks. */
  readonly blocks: readonly (readonly FeeMarket1559Tx[])[]
  readonly txCount: number
  /** Transactions of each kind in `blocks`. */
  readonly kinds: Readonly<Record<TxKind, number>>
  readonly coinbase: Address
  /** The ERC-20 token (`erc20` and `mixed`). */
  readonly token: Address | undefined
  /** The AMM pool (`amm` and `mixed`) and every account that swaps on it in `blocks`. */
  readonly pool: { readonly address: Address; readonly traders: readonly Address[] } | undefined
  readonly warmup: Warmup
}

export type CreateWorkloadParameters = {
  name: WorkloadName
  seed: number
  /** M: funded accounts (all of them ERC-20 holders in `erc20` and `mixed`). */
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
/** Each pool reserve starts at 10^12 tokens: a swap (at most 10^-6 token here) barely moves the price. */
export const INITIAL_RESERVE = 10n ** 30n
/** Every trader starts with 10^6 of each pool token inside the pool: no swap here can run short. */
export const INITIAL_POOL_BALANCE = 10n ** 24n
const TRANSFER_GAS_LIMIT = 21_000n
const ERC20_GAS_LIMIT = 100_000n
/** A swap uses ~50k gas (four warm-after-cold SSTOREs of nonzero slots, two events). */
const SWAP_GAS_LIMIT = 150_000n

/** MosaicToken storage layout (contracts/MosaicToken.sol): name, symbol, totalSupply, balanceOf. */
const NAME_SLOT = 0n
const SYMBOL_SLOT = 1n
const TOTAL_SUPPLY_SLOT = 2n
const BALANCE_OF_SLOT = 3n

/** Pool storage layout (contracts/Pool.sol): reserve0, reserve1, balance0, balance1. */
export const RESERVE0_SLOT = 0n
export const RESERVE1_SLOT = 1n
const POOL_BALANCE0_SLOT = 2n
const POOL_BALANCE1_SLOT = 3n

export function word(value: bigint): Uint8Array {
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

/** The storage slots of `balance0[trader]` and `balance1[trader]` in Pool. */
export function poolBalanceSlots(trader: Address): readonly [Uint8Array, Uint8Array] {
  return [mappingSlot(trader, POOL_BALANCE0_SLOT), mappingSlot(trader, POOL_BALANCE1_SLOT)]
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

const SWAP_SELECTOR = keccak256(utf8ToBytes('swap(bool,uint256)')).subarray(0, 4)

function swapCalldata(zeroForOne: boolean, amountIn: bigint): Uint8Array {
  return concatBytes(SWAP_SELECTOR, word(zeroForOne ? 1n : 0n), word(amountIn))
}

/** The fee recipient of every block (not a funded account: it only receives priority fees). */
export const COINBASE = new Address(hexToBytes('0x00000000000000000000000000000000000c0ffe'))
/** The fee recipient of the warm-up blocks: apart from `COINBASE`, so warming up pays it nothing. */
export const WARMUP_COINBASE = new Address(hexToBytes('0x00000000000000000000000000000000000c0ff0'))

/** Where a workload's contract lives (any fixed address will do: it is put in pre-state). */
function contractAddress(label: string, seed: number): Address {
  return new Address(keccak256(utf8ToBytes(`mosaic-bench-${label}-${seed}`)).subarray(12))
}

/** Where the `erc20` workload's token lives. */
export function tokenAddress(seed: number): Address {
  return contractAddress('token', seed)
}

/** Where the `amm` workload's pool lives. */
export function poolAddress(seed: number): Address {
  return contractAddress('pool', seed)
}

/** The kind of every transaction of workload `name`, in block order. */
function txKinds(name: WorkloadName, txCount: number, random: ReturnType<typeof createRandom>): TxKind[] {
  if (name === 'transfers') return new Array<TxKind>(txCount).fill('transfer')
  if (name === 'erc20') return new Array<TxKind>(txCount).fill('erc20')
  if (name === 'amm') return new Array<TxKind>(txCount).fill('swap')
  // mixed: exact shares (the last kind takes the rounding), then a Fisher–Yates shuffle.
  const kinds: TxKind[] = []
  MIXED_SHARES.forEach(([kind, share], i) => {
    const count = i === MIXED_SHARES.length - 1 ? txCount - kinds.length : Math.round(txCount * share)
    for (let k = 0; k < count; k++) kinds.push(kind)
  })
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = random.int(i + 1)
    const kind = kinds[j]!
    kinds[j] = kinds[i]!
    kinds[i] = kind
  }
  return kinds
}

/**
 * `createFeeMarket1559Tx(data).sign(key)` with native secp256k1 instead of ethereumjs' pure-JS
 * signer: the same deterministic (RFC 6979, low-s) signature, ~0.08 ms instead of ~0.6–0.9 ms.
 */
function signTransaction(data: FeeMarketEIP1559TxData, privateKey: Uint8Array, common: Common): FeeMarket1559Tx {
  const unsigned = createFeeMarket1559Tx(data, { common })
  const { signature, recid } = secp256k1.ecdsaSign(unsigned.getHashedMessageToSign(), privateKey)
  return createFeeMarket1559Tx({ ...data, v: BigInt(recid), r: signature.slice(0, 32), s: signature.slice(32) }, { common })
}

type GenerateBlocksParameters = {
  readonly accounts: readonly BenchAccount[]
  readonly kinds: readonly TxKind[]
  readonly blockSize: number
  readonly random: ReturnType<typeof createRandom>
  readonly token: Address | undefined
  readonly pool: Address | undefined
  readonly common: Common
}

/**
 * Signed transactions of the given kinds among `accounts`, in blocks of `blockSize`. Senders of a
 * block: the first `blockSize` entries of a partial Fisher–Yates shuffle, so they are distinct
 * within the block. Returns the blocks and every sender of a swap.
 */
function generateBlocks({ accounts, kinds, blockSize, random, token, pool, common }: GenerateBlocksParameters) {
  const accountCount = accounts.length
  const order = accounts.map((_, i) => i)
  const nonces = new Array<bigint>(accountCount).fill(0n)
  const chainId = common.chainId()
  const traders = new Set<number>()
  const blocks: FeeMarket1559Tx[][] = []
  for (let made = 0; made < kinds.length; ) {
    const size = Math.min(blockSize, kinds.length - made)
    const block: FeeMarket1559Tx[] = []
    for (let i = 0; i < size; i++) {
      const j = i + random.int(accountCount - i)
      const picked = order[j]!
      order[j] = order[i]!
      order[i] = picked
      const sender = accounts[picked]!
      const nonce = nonces[picked]!
      nonces[picked] = nonce + 1n
      const fees = { chainId, nonce, maxFeePerGas: MAX_FEE_PER_GAS, maxPriorityFeePerGas: MAX_PRIORITY_FEE_PER_GAS }
      const kind = kinds[made + i]!
      let txData: FeeMarketEIP1559TxData
      if (kind === 'swap') {
        traders.add(picked)
        const zeroForOne = random.next() < 0.5
        const amountIn = BigInt(1 + random.int(1_000_000)) * 10n ** 12n
        txData = { ...fees, gasLimit: SWAP_GAS_LIMIT, to: pool!, value: 0n, data: swapCalldata(zeroForOne, amountIn) }
      } else {
        let receiverIndex = random.int(accountCount - 1)
        if (receiverIndex >= picked) receiverIndex++ // anyone but the sender
        const receiver = accounts[receiverIndex]!
        txData =
          kind === 'transfer'
            ? { ...fees, gasLimit: TRANSFER_GAS_LIMIT, to: receiver.address, value: BigInt(1 + random.int(1_000_000)) * 10n ** 9n }
            : {
                ...fees,
                gasLimit: ERC20_GAS_LIMIT,
                to: token!,
                value: 0n,
                data: transferCalldata(receiver.address, BigInt(1 + random.int(1_000_000)) * 10n ** 12n),
              }
      }
      block.push(signTransaction(txData, sender.privateKey, common))
    }
    blocks.push(block)
    made += size
  }
  const traderAddresses = [...traders].sort((a, b) => a - b).map((i) => accounts[i]!.address)
  return { blocks, traders: traderAddresses }
}

/** Runtime code at `address` in pre-state, with the given slots (values stripped of leading zeros). */
function putContract(preState: PreState, address: Address, code: Uint8Array, slots: Map<string, Uint8Array>): void {
  const codeHash = keccak256(code)
  preState.code.set(bytesToUnprefixedHex(codeHash), code)
  preState.accounts.set(bytesToUnprefixedHex(address.bytes), { nonce: 1n, balance: 0n, codeHash })
  preState.storage.set(bytesToUnprefixedHex(address.bytes), slots)
}

/** Pool slots: both reserves, and both internal balances of every trader. */
function poolSlots(traders: readonly Address[]): Map<string, Uint8Array> {
  const slots = new Map<string, Uint8Array>()
  slots.set(bytesToUnprefixedHex(word(RESERVE0_SLOT)), bigIntToUnpaddedBytes(INITIAL_RESERVE))
  slots.set(bytesToUnprefixedHex(word(RESERVE1_SLOT)), bigIntToUnpaddedBytes(INITIAL_RESERVE))
  const balance = bigIntToUnpaddedBytes(INITIAL_POOL_BALANCE)
  for (const trader of traders) {
    for (const slot of poolBalanceSlots(trader)) slots.set(bytesToUnprefixedHex(slot), balance)
  }
  return slots
}

/** Token slots: name, symbol, total supply, and every holder's balance. */
function tokenSlots(holders: readonly BenchAccount[]): Map<string, Uint8Array> {
  const slots = new Map<string, Uint8Array>()
  slots.set(bytesToUnprefixedHex(word(NAME_SLOT)), stripZeros(shortString('Mosaic Token')))
  slots.set(bytesToUnprefixedHex(word(SYMBOL_SLOT)), stripZeros(shortString('MOS')))
  slots.set(bytesToUnprefixedHex(word(TOTAL_SUPPLY_SLOT)), bigIntToUnpaddedBytes(INITIAL_TOKENS * BigInt(holders.length)))
  const balance = bigIntToUnpaddedBytes(INITIAL_TOKENS)
  for (const holder of holders) slots.set(bytesToUnprefixedHex(balanceSlot(holder.address)), balance)
  return slots
}

/**
 * Warm-up blocks per workload, each of `blockSize` transactions among `blockSize` accounts of their
 * own. A parallel run's worker threads are new, and these are all they execute before the timer
 * (the sequential executor warms up on a whole untimed run). With 2, they were not warm yet: on
 * `erc20` the first measured block took 274–496 ms against a median of 102–112 ms for the rest,
 * and that median itself was 76–82 ms after 8 (parallel-2 1,626 → 2,327 tx/s in one A/B pair).
 * After 8, their code was still being optimized through the timed run, and the coordinator's too
 * (its unpacking and validation run only as often as blocks do): with 24, `erc20` alternating
 * 24, 8, 24, 8 gave parallel-2 5,071 / 4,744 / 6,874 / 4,284 tx/s and the coordinator's CPU per
 * transaction 36 / 51 / 30 / 57 µs; 50 gave no more than 24 (6,713 and 5,350 against 7,206).
 */
const WARMUP_BLOCKS = 24

export function createWorkload({ name, seed, accountCount, txCount, blockSize, common }: CreateWorkloadParameters): Workload {
  if (!Number.isSafeInteger(accountCount) || accountCount < 2) throw new Error('accountCount must be an integer ≥ 2')
  if (!Number.isSafeInteger(blockSize) || blockSize < 2 || blockSize > accountCount) {
    throw new Error('blockSize must be an integer between 2 and accountCount (each sender once per block)')
  }
  const random = createRandom(seed)
  const accounts: BenchAccount[] = []
  for (let i = 0; i < accountCount; i++) accounts.push(deriveAccount(seed, i))
  // The warm-up accounts come after the measured ones: keys no measured transaction touches.
  const warmupAccounts: BenchAccount[] = []
  for (let i = 0; i < blockSize; i++) warmupAccounts.push(deriveAccount(seed, accountCount + i))

  const kinds = txKinds(name, txCount, createRandom(seed ^ 0x6d697864)) // "mixd"
  const hasToken = kinds.includes('erc20')
  const hasPool = kinds.includes('swap')
  const token = hasToken ? tokenAddress(seed) : undefined
  const pool = hasPool ? poolAddress(seed) : undefined
  // The warm-up's own contracts: the same code at other addresses.
  const warmupToken = hasToken ? contractAddress('warmup-token', seed) : undefined
  const warmupPool = hasPool ? contractAddress('warmup-pool', seed) : undefined

  const measured = generateBlocks({ accounts, kinds, blockSize, random, token, pool, common })
  const warmupRandom = createRandom(seed ^ 0x7761726d) // "warm"
  const warmupKinds = Array.from({ length: WARMUP_BLOCKS * blockSize }, () =>
    name === 'mixed' ? kinds[warmupRandom.int(kinds.length)]! : kinds[0]!,
  )
  const warmup = generateBlocks({
    accounts: warmupAccounts,
    kinds: warmupKinds,
    blockSize,
    random: warmupRandom,
    token: warmupToken,
    pool: warmupPool,
    common,
  })

  const preState: PreState = { accounts: new Map(), storage: new Map(), code: new Map() }
  for (const account of [...accounts, ...warmupAccounts]) {
    preState.accounts.set(account.key, { nonce: 0n, balance: INITIAL_BALANCE, codeHash: KECCAK256_NULL })
  }
  if (token !== undefined && warmupToken !== undefined) {
    const code = hexToBytes(loadArtifact('MosaicToken').deployedBytecode)
    putContract(preState, token, code, tokenSlots(accounts))
    putContract(preState, warmupToken, code, tokenSlots(warmupAccounts))
  }
  if (pool !== undefined && warmupPool !== undefined) {
    // Only accounts that swap hold pool balances: nobody else reads them.
    const code = hexToBytes(loadArtifact('Pool').deployedBytecode)
    putContract(preState, pool, code, poolSlots(measured.traders))
    putContract(preState, warmupPool, code, poolSlots(warmup.traders))
  }

  const counts: Record<TxKind, number> = { transfer: 0, erc20: 0, swap: 0 }
  for (const kind of kinds) counts[kind]++
  return {
    name,
    seed,
    accounts,
    preState,
    blocks: measured.blocks,
    txCount,
    kinds: counts,
    coinbase: COINBASE,
    token,
    pool: pool === undefined ? undefined : { address: pool, traders: measured.traders },
    warmup: { blocks: warmup.blocks, coinbase: WARMUP_COINBASE },
  }
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
