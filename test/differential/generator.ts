/**
 * Seeded workload generator for the differential tests (CONVENTIONS.md, habit 10): from a seed,
 * a pre-state and a chain of blocks of 20–120 signed transactions that exercise what a parallel
 * executor can get wrong — shared storage (an AMM pool, ERC-20 holders, a shared counter), the
 * fee recipient's balance, CREATE/CREATE2 (with collisions), SELFDESTRUCT under EIP-6780,
 * BLOCKHASH and the EIP-2935 history contract, precompiles, logs, reverts, out-of-gas,
 * several transactions per sender, and deliberately invalid transactions.
 *
 * Everything is drawn from one mulberry32 stream, so a seed names a chain exactly. The pre-state
 * is written directly (runtime code from `contracts/out`, storage slots per the layouts documented
 * in `contracts/*.sol`), so block 1 already runs the full mix.
 *
 * Nonces are tracked per sender as transactions are drawn. Every transaction is valid at its
 * position in candidate order and stays valid in any order that keeps each sender's transactions
 * in nonce order (balances are far above anything spent), except the deliberately invalid ones
 * (nonce too high, nonce too low, value beyond any balance); their sender gets no further
 * transactions in that block, so they stay invalid whatever the order.
 */
import { type BlockHeader, createBlockHeader } from '@ethereumjs/block'
import { type Common, createCustomCommon, type CustomCrypto, Mainnet } from '@ethereumjs/common'
import { type AccessList, createAccessList2930Tx, createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx'
import {
  Address,
  bigIntToAddressBytes,
  bigIntToBytes,
  bigIntToUnpaddedBytes,
  bytesToHex,
  bytesToUnprefixedHex,
  concatBytes,
  hexToBytes,
  KECCAK256_NULL,
  setLengthLeft,
  utf8ToBytes,
} from '@ethereumjs/util'
import { paramsVM } from '@ethereumjs/vm'
import secp256k1 from 'secp256k1'
import { encodeDeployData, encodeFunctionData, type Hex } from 'viem'
import { loadArtifact } from '../../contracts/artifacts.ts'
import { customCrypto, keccak256 } from '../../src/crypto/crypto.ts'
import { decodeTransaction } from '../../src/chain/transaction.ts'
import { createStateDelta, type StateDelta } from '../../src/state/types.ts'
import { createRandom } from '../../src/utils/random.ts'

export { createRandom }

export type Random = ReturnType<typeof createRandom>

/** Every kind of transaction the generator draws. */
export const TX_KINDS = [
  'eth-transfer',
  'eth-to-new-account',
  'eth-to-coinbase',
  'eth-to-contract-reverts',
  'eth-legacy',
  'eth-access-list',
  'eth-with-data',
  'eth-self',
  'eth-to-storage-account',
  'erc20-transfer',
  'erc20-transfer-reverts',
  'pool-swap',
  'pool-deposit',
  'counter-increment',
  'chaos-bump',
  'chaos-create2',
  'chaos-create',
  'chaos-create-contract',
  'chaos-create-and-destroy',
  'chaos-destroy-existing',
  'chaos-blockhash',
  'chaos-history',
  'chaos-coinbase-balance',
  'chaos-precompiles',
  'precompile-direct',
  'chaos-logs',
  'chaos-fail',
  'chaos-burn',
  'chaos-out-of-gas',
  'chaos-tip',
  'deploy-counter',
  'deploy-token',
  'deploy-mortal',
  'deploy-reverts',
  'deploy-out-of-gas',
  'invalid-nonce-high',
  'invalid-nonce-low',
  'invalid-funds',
  'invalid-intrinsic',
] as const

export type TxKind = (typeof TX_KINDS)[number]

/**
 * - `mixed`: every kind, with the share of plain transfers varying from block to block so that
 *   some blocks run in parallel and some are contended enough to fall back.
 * - `conflicts`: AMM swaps and ERC-20 transfers among a few shared holders, bumps of the shared
 *   counter — nearly every transaction touches state another one writes.
 * - `transfers`: mostly value transfers of every shape (legacy, access list, calldata, to
 *   itself, to the fee recipient, to new and to storage-only accounts, value 0), between calls
 *   that read or pay the fee recipient and transfers that fail or are invalid.
 */
export type WorkloadProfile = 'mixed' | 'conflicts' | 'transfers'

const WEIGHTS: Record<WorkloadProfile, Partial<Record<TxKind, number>>> = {
  mixed: {
    'eth-transfer': 12,
    'eth-to-new-account': 3,
    'eth-to-coinbase': 3,
    'eth-to-contract-reverts': 1,
    'eth-legacy': 1,
    'eth-access-list': 1,
    'eth-with-data': 1,
    'eth-self': 1,
    'eth-to-storage-account': 1,
    'erc20-transfer': 12,
    'erc20-transfer-reverts': 2,
    'pool-swap': 6,
    'pool-deposit': 2,
    'counter-increment': 2,
    'chaos-bump': 3,
    'chaos-create2': 2,
    'chaos-create': 2,
    'chaos-create-contract': 1,
    'chaos-create-and-destroy': 2,
    'chaos-destroy-existing': 2,
    'chaos-blockhash': 2,
    'chaos-history': 1,
    'chaos-coinbase-balance': 2,
    'chaos-precompiles': 2,
    'precompile-direct': 1,
    'chaos-logs': 2,
    'chaos-fail': 2,
    'chaos-burn': 1,
    'chaos-out-of-gas': 2,
    'chaos-tip': 2,
    'deploy-counter': 1,
    'deploy-token': 1,
    'deploy-mortal': 1,
    'deploy-reverts': 1,
    'deploy-out-of-gas': 1,
    'invalid-nonce-high': 1,
    'invalid-nonce-low': 1,
    'invalid-funds': 1,
    'invalid-intrinsic': 1,
  },
  conflicts: {
    'pool-swap': 40,
    'erc20-transfer': 35,
    'chaos-bump': 6,
    'counter-increment': 4,
    'eth-transfer': 10,
    'eth-to-coinbase': 2,
  },
  transfers: {
    'eth-transfer': 10,
    'eth-to-new-account': 6,
    'eth-to-coinbase': 3,
    'eth-legacy': 5,
    'eth-access-list': 5,
    'eth-with-data': 5,
    'eth-self': 3,
    'eth-to-storage-account': 4,
    'eth-to-contract-reverts': 2,
    'precompile-direct': 2,
    'erc20-transfer': 4,
    'chaos-coinbase-balance': 2,
    'chaos-tip': 2,
    'invalid-nonce-high': 1,
    'invalid-nonce-low': 1,
    'invalid-funds': 1,
    'invalid-intrinsic': 1,
  },
}

/**
 * Kinds whose weight the `mixed` profile scales per block (×1, ×4 or ×8): plain ETH transfers,
 * the only kind that never calls into a contract the parallel executor learns to be "hot". Blocks
 * where most transactions call hot contracts run on its sequential fallback, so the scale decides
 * which path a block takes.
 */
const PLAIN_KINDS: ReadonlySet<TxKind> = new Set(['eth-transfer', 'eth-to-new-account', 'eth-to-coinbase'])

/** Kinds that must be rejected by every executor. */
export const INVALID_KINDS: ReadonlySet<TxKind> = new Set(['invalid-nonce-high', 'invalid-nonce-low', 'invalid-funds', 'invalid-intrinsic'])

/** Kinds that always end in status 0 (revert or out of gas). */
export const FAILING_KINDS: ReadonlySet<TxKind> = new Set([
  'eth-to-contract-reverts',
  'erc20-transfer-reverts',
  'chaos-fail',
  'chaos-out-of-gas',
  'deploy-reverts',
  'deploy-out-of-gas',
])

export const CHAIN_ID = 901
export const BLOCK_GAS_LIMIT = 100_000_000n
/** Every funded EOA starts with 1,000,000 ETH: no valid transaction ever runs out of funds. */
export const INITIAL_BALANCE = 10n ** 24n
export const INITIAL_TOKENS = 10n ** 27n
const INITIAL_RESERVE = 10n ** 24n
const INITIAL_POOL_BALANCE = 10n ** 22n
/** More than the total supply of ETH and of every token here: transfers of it always fail. */
const UNAFFORDABLE = 1n << 200n
const MAX_FEE_PER_GAS = 10_000n
const GENESIS_TIMESTAMP = 1_700_000_000n

/** EIP-2935's history contract, as deployed on mainnet. */
const EIP2935_HISTORY = new Address(hexToBytes('0x0000f90827f1c53a10cb7a02335b175320002935'))

/** Fee recipient of every block: an existing account (it starts with 1 ETH). */
export const COINBASE = new Address(hexToBytes('0x00000000000000000000000000000000000c0ffe'))

function fixedAddress(label: string): Address {
  return new Address(keccak256(utf8ToBytes(`mosaic-differential/${label}`)).subarray(12))
}

export const TOKEN = fixedAddress('token')
export const POOL = fixedAddress('pool')
export const CHAOS = fixedAddress('chaos')
export const COUNTER = fixedAddress('counter')

/** Raw init code of Chaos's "mortal" child (see contracts/Chaos.sol, `MORTAL_INIT`). */
const MORTAL_INIT = hexToBytes('0x6936600557005b600035ff600052600a6016f3')
const MORTAL_RUNTIME = hexToBytes('0x36600557005b600035ff')
/** Init code that reverts at once. */
const REVERTING_INIT = hexToBytes('0x60006000fd')

/**
 * Deterministic stand-in for block `number`'s hash, used as parent hash and for BLOCKHASH by both
 * executors.
 */
export function fakeBlockHash(number: bigint): Uint8Array {
  return keccak256(concatBytes(utf8ToBytes('mosaic-differential/block'), setLengthLeft(bigIntToBytes(number), 32)))
}

function word(value: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(value), 32)
}

function slotKey(slot: bigint): string {
  return bytesToUnprefixedHex(word(slot))
}

/** Solidity's slot of `mapping(address => …)` at `slot`: keccak(pad(key) ‖ pad(slot)). */
function mappingSlot(key: Address, slot: bigint): string {
  return bytesToUnprefixedHex(keccak256(concatBytes(setLengthLeft(key.bytes, 32), word(slot))))
}

/** A Solidity `string` shorter than 32 bytes, as stored in its slot. */
function shortString(value: string): bigint {
  const bytes = utf8ToBytes(value)
  const out = new Uint8Array(32)
  out.set(bytes)
  out[31] = bytes.length * 2
  return BigInt(bytesToHex(out))
}

/** EIP-1014: keccak(0xff ‖ deployer ‖ salt ‖ keccak(init))[12:]. */
function create2Address(deployer: Address, salt: Uint8Array, init: Uint8Array): Address {
  return new Address(keccak256(concatBytes(new Uint8Array([0xff]), deployer.bytes, salt, keccak256(init))).subarray(12))
}

type Eoa = { readonly privateKey: Uint8Array; readonly address: Address }

function deriveEoa(seed: number, index: number): Eoa {
  let privateKey = keccak256(concatBytes(utf8ToBytes('mosaic-differential/key'), word(BigInt(seed >>> 0)), word(BigInt(index))))
  while (!secp256k1.privateKeyVerify(privateKey)) privateKey = keccak256(privateKey)
  const publicKey = secp256k1.publicKeyCreate(privateKey, false)
  return { privateKey, address: new Address(keccak256(publicKey.subarray(1)).subarray(12)) }
}

/** Native secp256k1 signing in the format ethereumjs expects (`recovery ‖ r ‖ s`). */
const ecsign = ((message: Uint8Array, privateKey: Uint8Array): Uint8Array => {
  const { signature, recid } = secp256k1.ecdsaSign(message, privateKey)
  return concatBytes(new Uint8Array([recid]), signature)
}) as unknown as NonNullable<CustomCrypto['ecsign']>

export type GeneratedTx = {
  /** Decoded as the mempool leaves it (`decodeTransaction`), sender pinned. */
  readonly tx: TypedTransaction
  readonly kind: TxKind
  /** Drawn to be invalid: every executor must reject it. */
  readonly invalid: boolean
}

export type GeneratedBlock = {
  readonly number: bigint
  readonly header: BlockHeader
  readonly hash: Uint8Array
  /** Candidates, in the order they are handed to the executor. */
  readonly txs: readonly GeneratedTx[]
}

export type ChainWorkload = {
  readonly seed: number
  readonly profile: WorkloadProfile
  /** Pre-state of block 1, in flat-state form (it is also the parallel workers' snapshot). */
  readonly preState: StateDelta
  /** Blocks 1, 2, … drawn lazily, one at a time. */
  blocks(): Generator<GeneratedBlock, void, undefined>
}

export type CreateChainWorkloadParameters = {
  readonly seed: number
  /** How many blocks `blocks()` yields. */
  readonly blocks: number
  /** The chain's Common (chain id 901, Prague): transactions are decoded with it. */
  readonly common: Common
  readonly profile?: WorkloadProfile
  readonly minTxs?: number
  readonly maxTxs?: number
  readonly accounts?: number
}

type Sender = Eoa & { nonce: bigint }

export function createChainWorkload(parameters: CreateChainWorkloadParameters): ChainWorkload {
  const { seed, common } = parameters
  const profile = parameters.profile ?? 'mixed'
  const minTxs = parameters.minTxs ?? 20
  const maxTxs = parameters.maxTxs ?? 120
  const accountCount = parameters.accounts ?? 128
  if (!Number.isSafeInteger(parameters.blocks) || parameters.blocks < 0) throw new Error('blocks must be a non-negative integer')
  if (!(minTxs >= 1 && maxTxs >= minTxs)) throw new Error('minTxs/maxTxs: need 1 ≤ minTxs ≤ maxTxs')
  if (Number(common.chainId()) !== CHAIN_ID) throw new Error(`common must be chain ${CHAIN_ID}`)

  const random = createRandom(seed)
  // Same chain, hardfork and crypto as `common`, plus native signing (pure-JS signing would cost
  // ~0.7 ms per transaction, most of the test's budget).
  const signingCommon = createCustomCommon({ chainId: CHAIN_ID, name: 'mosaic' }, Mainnet, {
    hardfork: common.hardfork(),
    customCrypto: { ...customCrypto, ecsign },
  })

  const senders: Sender[] = []
  for (let i = 0; i < accountCount; i++) senders.push({ ...deriveEoa(seed, i), nonce: 0n })
  /** In the `conflicts` profile, most ERC-20 transfers go to these few holders. */
  const hotHolders = senders.slice(0, 4)
  // CREATE2 salts: `deploy` leaves a child behind (the same salt again collides); a child of
  // `createAndDestroy` is gone at the end of its transaction (EIP-6780), so its salt can be reused.
  let nextSalt = 1n
  const deployedSalts: Uint8Array[] = []
  const destroyedSalts: Uint8Array[] = []
  const freshSalt = (): Uint8Array => word(nextSalt++)
  const existingChildren = [0, 1, 2].map((i) => fixedAddress(`child-${seed}-${i}`))
  // The history contract's address is a VM parameter, not one of the chain Common's; before Prague
  // (no EIP-2935) the contract is there all the same, and no prelude writes to it.
  const vmCommon = common.copy()
  vmCommon.updateParams(paramsVM)
  const history = common.isActivatedEIP(2935) ? new Address(bigIntToAddressBytes(vmCommon.param('historyStorageAddress'))) : EIP2935_HISTORY

  // ---- pre-state ----
  const preState = createStateDelta()
  const putCode = (address: Address, code: Uint8Array, balance = 0n, storage: [string, bigint][] = []) => {
    const codeHash = keccak256(code)
    preState.code.set(bytesToUnprefixedHex(codeHash), code)
    preState.accounts.set(bytesToUnprefixedHex(address.bytes), { nonce: 1n, balance, codeHash })
    if (storage.length > 0) {
      preState.storage.set(bytesToUnprefixedHex(address.bytes), new Map(storage.map(([slot, value]) => [slot, bigIntToUnpaddedBytes(value)])))
    }
  }
  for (const sender of senders) {
    preState.accounts.set(bytesToUnprefixedHex(sender.address.bytes), { nonce: 0n, balance: INITIAL_BALANCE, codeHash: KECCAK256_NULL })
  }
  preState.accounts.set(bytesToUnprefixedHex(COINBASE.bytes), { nonce: 0n, balance: 10n ** 18n, codeHash: KECCAK256_NULL })
  // MosaicToken: name (0), symbol (1), totalSupply (2), balanceOf (3); every EOA holds tokens.
  putCode(TOKEN, hexToBytes(loadArtifact('MosaicToken').deployedBytecode), 0n, [
    [slotKey(0n), shortString('Mosaic Token')],
    [slotKey(1n), shortString('MOS')],
    [slotKey(2n), INITIAL_TOKENS * BigInt(accountCount)],
    ...senders.map((s): [string, bigint] => [mappingSlot(s.address, 3n), INITIAL_TOKENS]),
  ])
  // Pool: reserve0 (0), reserve1 (1), balance0 (2), balance1 (3).
  putCode(POOL, hexToBytes(loadArtifact('Pool').deployedBytecode), 0n, [
    [slotKey(0n), INITIAL_RESERVE],
    [slotKey(1n), INITIAL_RESERVE],
    ...senders.flatMap((s): [string, bigint][] => [
      [mappingSlot(s.address, 2n), INITIAL_POOL_BALANCE],
      [mappingSlot(s.address, 3n), INITIAL_POOL_BALANCE],
    ]),
  ])
  putCode(COUNTER, hexToBytes(loadArtifact('ChaosCounter').deployedBytecode), 0n, [[slotKey(0n), 1n]])
  // Chaos: counter (slot 0).
  putCode(CHAOS, hexToBytes(loadArtifact('Chaos').deployedBytecode), 0n, [[slotKey(0n), BigInt(COUNTER.toString())]])
  for (const child of existingChildren) putCode(child, MORTAL_RUNTIME, 10n ** 18n)
  // Accounts with storage and no code, as a genesis file can make them: one empty (EIP-161: a
  // transfer to it, even of 0, touches it and so deletes it, storage and all), one with a balance.
  const storageAccounts = [0n, 10n ** 18n].map((balance, i) => {
    const address = fixedAddress(`storage-only-${seed}-${i}`)
    const key = bytesToUnprefixedHex(address.bytes)
    preState.accounts.set(key, { nonce: 0n, balance, codeHash: KECCAK256_NULL })
    preState.storage.set(key, new Map([[slotKey(1n), bigIntToUnpaddedBytes(7n)]]))
    return address
  })
  // EIP-2935 history contract (runtime code as deployed on mainnet): with it present, every block
  // starts with the prelude writing the parent hash into its ring buffer.
  putCode(
    history,
    hexToBytes(
      '0x3373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f35600143038111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500',
    ),
  )

  const tokenAbi = loadArtifact('MosaicToken').abi
  const poolAbi = loadArtifact('Pool').abi
  const chaosAbi = loadArtifact('Chaos').abi
  const counterAbi = loadArtifact('ChaosCounter').abi
  const counterInit = hexToBytes(loadArtifact('ChaosCounter').bytecode)
  const tokenInit = loadArtifact('MosaicToken').bytecode
  const hex = (a: Address): Hex => a.toString() as Hex
  const data = (encoded: Hex): Uint8Array => hexToBytes(encoded)
  const chaosCall = (functionName: string, args: readonly unknown[] = []): Uint8Array =>
    data(encodeFunctionData({ abi: chaosAbi, functionName, args } as Parameters<typeof encodeFunctionData>[0]))


  /** `type`: 2 (EIP-1559) unless given; 0 is legacy with EIP-155, 1 an EIP-2930 access list. */
  type Draft = { to?: Address; value?: bigint; data?: Uint8Array; gasLimit: bigint; nonce?: bigint; type?: 0 | 1 | 2; accessList?: AccessList }

  /** Calldata for a transfer to an account without code, and the gas it needs: EIP-7623's floor (21000 + 10 per zero byte, 40 per other), above the intrinsic cost. */
  const transferData = (): { data: Uint8Array; gasLimit: bigint } => {
    const data = random.bytes(random.range(1, 300))
    for (let i = 0; i < data.length; i++) if (random.chance(0.3)) data[i] = 0
    const floor = data.reduce((gas, byte) => gas + (byte === 0 ? 10n : 40n), 21_000n)
    return { data, gasLimit: floor + BigInt(random.int(3)) * BigInt(random.int(20_000)) }
  }

  /** The transaction body of one kind (nonce and fees are filled in by the caller). */
  const draft = (kind: TxKind, sender: Sender): Draft => {
    const eth = () => random.bigint(60) // up to ~1.15 ETH
    const otherEoa = () => random.pick(senders).address
    switch (kind) {
      case 'eth-transfer':
        return { to: otherEoa(), value: random.chance(0.1) ? 0n : eth(), gasLimit: 21_000n }
      case 'eth-to-new-account':
        return { to: new Address(random.bytes(20)), value: random.chance(0.2) ? 0n : eth(), gasLimit: 21_000n }
      case 'eth-to-coinbase':
        return { to: COINBASE, value: eth(), gasLimit: 21_000n }
      case 'eth-legacy':
        return { type: 0, to: random.chance(0.2) ? new Address(random.bytes(20)) : otherEoa(), value: random.chance(0.1) ? 0n : eth(), gasLimit: 21_000n + BigInt(random.int(2)) * 9_000n }
      case 'eth-access-list': {
        // Warm addresses and slots cost intrinsic gas (2,400 and 1,900) and change nothing else here.
        const accessList: AccessList = []
        for (let i = random.int(3); i > 0; i--) {
          const slots = Array.from({ length: random.int(3) }, () => bytesToHex(random.bytes(32)) as Hex)
          accessList.push({ address: bytesToHex(random.chance(0.5) ? COINBASE.bytes : random.bytes(20)) as Hex, storageKeys: slots })
        }
        const listGas = accessList.reduce((gas, item) => gas + 2_400n + 1_900n * BigInt(item.storageKeys.length), 0n)
        return { type: 1, to: otherEoa(), value: eth(), gasLimit: 21_000n + listGas + BigInt(random.int(5_000)), accessList }
      }
      case 'eth-with-data':
        return { to: otherEoa(), value: random.chance(0.3) ? 0n : eth(), ...transferData() }
      case 'eth-self':
        return { to: sender.address, value: random.chance(0.2) ? 0n : eth(), gasLimit: 21_000n + BigInt(random.int(2)) * 5_000n }
      case 'eth-to-storage-account':
        return { to: random.pick(storageAccounts), value: random.chance(0.5) ? 0n : eth(), gasLimit: 21_000n }
      case 'eth-to-contract-reverts':
        // Pool has neither `receive` nor `fallback`: plain value sent to it reverts.
        return { to: POOL, value: eth(), gasLimit: 60_000n }
      case 'erc20-transfer': {
        const to = profile === 'conflicts' && random.chance(0.8) ? random.pick(hotHolders).address : otherEoa()
        const amount = random.bigint(60)
        return { to: TOKEN, data: data(encodeFunctionData({ abi: tokenAbi, functionName: 'transfer', args: [hex(to), amount] })), gasLimit: 120_000n }
      }
      case 'erc20-transfer-reverts':
        return {
          to: TOKEN,
          data: data(encodeFunctionData({ abi: tokenAbi, functionName: 'transfer', args: [hex(otherEoa()), UNAFFORDABLE] })),
          gasLimit: 120_000n,
        }
      case 'pool-swap':
        return {
          to: POOL,
          data: data(encodeFunctionData({ abi: poolAbi, functionName: 'swap', args: [random.chance(0.5), 1n + random.bigint(58)] })),
          gasLimit: 150_000n,
        }
      case 'pool-deposit':
        return {
          to: POOL,
          data: data(encodeFunctionData({ abi: poolAbi, functionName: 'deposit', args: [random.bigint(62), random.bigint(62)] })),
          gasLimit: 150_000n,
        }
      case 'counter-increment':
        return { to: COUNTER, data: data(encodeFunctionData({ abi: counterAbi, functionName: 'increment', args: [] })), gasLimit: 150_000n }
      case 'chaos-bump':
        return { to: CHAOS, data: chaosCall('bump'), gasLimit: 250_000n }
      case 'chaos-create2': {
        const reuse = deployedSalts.length > 0 && random.chance(0.3)
        const salt = reuse ? random.pick(deployedSalts) : freshSalt()
        if (!reuse) deployedSalts.push(salt)
        return { to: CHAOS, value: random.chance(0.5) ? eth() : 0n, data: chaosCall('deploy', [bytesToHex(salt)]), gasLimit: 250_000n }
      }
      case 'chaos-create':
        return { to: CHAOS, value: random.chance(0.5) ? eth() : 0n, data: chaosCall('spawn'), gasLimit: 250_000n }
      case 'chaos-create-contract':
        return { to: CHAOS, data: chaosCall('spawnCounter'), gasLimit: 600_000n }
      case 'chaos-create-and-destroy': {
        // Mostly a salt whose child was destroyed before (re-created at the same address), else a
        // fresh one, now and then one `deploy` used (a collision).
        const x = random.next()
        let salt: Uint8Array
        if (x < 0.15 && deployedSalts.length > 0) salt = random.pick(deployedSalts)
        else if (x < 0.6 && destroyedSalts.length > 0) salt = random.pick(destroyedSalts)
        else destroyedSalts.push((salt = freshSalt()))
        return { to: CHAOS, value: random.chance(0.7) ? eth() : 0n, data: chaosCall('createAndDestroy', [bytesToHex(salt)]), gasLimit: 250_000n }
      }
      case 'chaos-destroy-existing': {
        const child =
          deployedSalts.length > 0 && random.chance(0.5)
            ? create2Address(CHAOS, random.pick(deployedSalts), MORTAL_INIT)
            : random.pick(existingChildren)
        const beneficiary = random.chance(0.3) ? COINBASE : random.chance(0.3) ? new Address(random.bytes(20)) : otherEoa()
        return { to: CHAOS, data: chaosCall('destroy', [hex(child), hex(beneficiary)]), gasLimit: 250_000n }
      }
      case 'chaos-blockhash':
        return { to: CHAOS, data: chaosCall('recordBlockhash'), gasLimit: 150_000n }
      case 'chaos-history':
        return { to: CHAOS, data: chaosCall('recordHistoryHash', [hex(history)]), gasLimit: 150_000n }
      case 'chaos-coinbase-balance':
        return { to: CHAOS, data: chaosCall('recordCoinbaseBalance'), gasLimit: 150_000n }
      case 'chaos-precompiles': {
        const hash = random.bytes(32)
        let v = 27
        let r = random.bytes(32)
        let s = random.bytes(32)
        if (random.chance(0.7)) {
          // A real signature by a random EOA, so ecrecover returns an address.
          const signed = secp256k1.ecdsaSign(hash, random.pick(senders).privateKey)
          v = 27 + signed.recid
          r = signed.signature.slice(0, 32)
          s = signed.signature.slice(32)
        } else if (random.chance(0.5)) {
          v = 29 // invalid v: ecrecover returns the zero address
        }
        const payload = random.bytes(random.int(100))
        return {
          to: CHAOS,
          data: chaosCall('precompiles', [bytesToHex(hash), v, bytesToHex(r), bytesToHex(s), bytesToHex(payload)]),
          gasLimit: 250_000n,
        }
      }
      case 'precompile-direct': {
        // Straight at a precompile (0x01–0x11 under Prague: KZG point evaluation, BLS12-381 …)
        // with value and random input: mostly failed calls, never an exception out of the EVM.
        const address = new Address(setLengthLeft(Uint8Array.of(random.range(1, 0x11)), 20))
        return { to: address, value: BigInt(random.int(1000)), data: random.bytes(random.pick([0, 32, 192, 256])), gasLimit: 200_000n }
      }
      case 'chaos-logs':
        return { to: CHAOS, data: chaosCall('emitLogs', [BigInt(random.int(7))]), gasLimit: 150_000n }
      case 'chaos-fail':
        return { to: CHAOS, data: chaosCall('fail'), gasLimit: 150_000n }
      case 'chaos-burn':
        return { to: CHAOS, data: chaosCall('burn', [BigInt(random.range(1, 6))]), gasLimit: 400_000n }
      case 'chaos-out-of-gas':
        return { to: CHAOS, data: chaosCall('burn', [40n]), gasLimit: 60_000n }
      case 'chaos-tip':
        return { to: CHAOS, value: eth(), data: chaosCall('tip'), gasLimit: 150_000n }
      case 'deploy-counter':
        return { data: counterInit, gasLimit: 400_000n }
      case 'deploy-token':
        return {
          value: 0n,
          data: data(encodeDeployData({ abi: tokenAbi, bytecode: tokenInit, args: ['Chaos Token', 'CHT', random.bigint(80)] })),
          gasLimit: 1_500_000n,
        }
      case 'deploy-mortal':
        return { value: random.chance(0.5) ? eth() : 0n, data: MORTAL_INIT, gasLimit: 100_000n }
      case 'deploy-reverts':
        return { value: eth(), data: REVERTING_INIT, gasLimit: 100_000n }
      case 'deploy-out-of-gas':
        // Enough for the intrinsic cost, not for the code deposit (EIP-170: 200 gas per byte).
        return { data: counterInit, gasLimit: 80_000n }
      case 'invalid-nonce-high':
        return { to: otherEoa(), value: 1n, gasLimit: 21_000n, nonce: sender.nonce + BigInt(random.range(1, 5)) }
      case 'invalid-nonce-low':
        return { to: otherEoa(), value: 1n, gasLimit: 21_000n, nonce: sender.nonce - 1n }
      case 'invalid-funds':
        return { to: otherEoa(), value: UNAFFORDABLE, gasLimit: 21_000n }
      case 'invalid-intrinsic':
        return { to: otherEoa(), value: 1n, gasLimit: 20_999n }
    }
  }

  const sign = (sender: Sender, body: Draft, maxPriorityFeePerGas: bigint): TypedTransaction => {
    const fields = {
      nonce: body.nonce ?? sender.nonce,
      gasLimit: body.gasLimit,
      ...(body.to !== undefined ? { to: body.to } : {}),
      value: body.value ?? 0n,
      data: body.data ?? new Uint8Array(),
    }
    const options = { common: signingCommon }
    // Legacy and access-list transactions pay their whole gas price above the base fee as the tip.
    const gasPrice = MAX_FEE_PER_GAS - 1_000n * maxPriorityFeePerGas
    const unsigned =
      body.type === 0
        ? createLegacyTx({ ...fields, gasPrice }, options)
        : body.type === 1
          ? createAccessList2930Tx({ ...fields, chainId: BigInt(CHAIN_ID), gasPrice, accessList: body.accessList ?? [] }, options)
          : createFeeMarket1559Tx({ ...fields, chainId: BigInt(CHAIN_ID), maxFeePerGas: MAX_FEE_PER_GAS, maxPriorityFeePerGas, accessList: body.accessList ?? [] }, options)
    const signed = unsigned.sign(sender.privateKey)
    // As the mempool leaves it: decoded with the chain's Common, sender recovered and pinned.
    return decodeTransaction(signed.serialize(), common)
  }

  function* blocks(): Generator<GeneratedBlock, void, undefined> {
    for (let n = 1n; n <= BigInt(parameters.blocks); n++) {
      const plainScale = profile === 'mixed' ? [1, 4, 8][random.int(3)]! : 1
      const table: [TxKind, number][] = []
      let total = 0
      for (const [kind, weight] of Object.entries(WEIGHTS[profile]) as [TxKind, number][]) {
        const w = PLAIN_KINDS.has(kind) ? weight * plainScale : weight
        total += w
        table.push([kind, total])
      }
      const drawKind = (): TxKind => {
        const x = random.next() * total
        for (const [kind, upTo] of table) if (x < upTo) return kind
        return table[table.length - 1]![0]
      }

      // Block sizes from minTxs to maxTxs, skewed towards small ones (u³: mean ≈ min + span/4)
      // to keep the test's time in budget; one block in ten still has more than 95.
      const count = minTxs + Math.floor((maxTxs - minTxs + 1) * random.next() ** 3)
      const poisoned = new Set<Sender>()
      const used: Sender[] = []
      const txs: GeneratedTx[] = []
      while (txs.length < count) {
        // Now and then the same sender again (consecutive nonces within the block).
        const reuse = used.filter((s) => !poisoned.has(s))
        const sender = reuse.length > 0 && random.chance(0.25) ? random.pick(reuse) : random.pick(senders)
        if (poisoned.has(sender)) continue
        let kind = drawKind()
        if (kind === 'invalid-nonce-low' && sender.nonce === 0n) kind = 'invalid-nonce-high'
        const body = draft(kind, sender)
        const invalid = INVALID_KINDS.has(kind)
        const tip = random.chance(0.1) ? 0n : BigInt(random.range(1, 3))
        txs.push({ tx: sign(sender, body, tip), kind, invalid })
        if (invalid) poisoned.add(sender)
        else sender.nonce++
        if (!used.includes(sender)) used.push(sender)
      }

      const header = createBlockHeader(
        {
          number: n,
          parentHash: fakeBlockHash(n - 1n),
          timestamp: GENESIS_TIMESTAMP + 2n * n,
          gasLimit: BLOCK_GAS_LIMIT,
          baseFeePerGas: BigInt(random.range(1, 1_000)),
          coinbase: COINBASE,
          mixHash: random.bytes(32),
        },
        { common, setHardfork: false },
      )
      yield { number: n, header, hash: fakeBlockHash(n), txs }
    }
  }

  return { seed, profile, preState, blocks }
}
