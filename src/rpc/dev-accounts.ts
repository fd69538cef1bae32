/**
 * The devnet's unlocked dev accounts, as anvil serves them: `eth_accounts` lists them, and
 * `eth_sendTransaction`, `eth_sign`, `personal_sign` and `eth_signTypedData_v4` sign with their
 * keys (`chain/dev-accounts.ts`: anvil's mnemonic, so the same addresses and signatures). On a
 * sequencer or replica `eth_accounts` is `[]` (geth without a keystore) and the signing methods
 * are refused: a key held by a public node would sign for anyone who can reach its port.
 *
 * A transaction is filled as geth's `TransactionArgs.setDefaults` fills it — nonce from the pool,
 * gas estimated, EIP-1559 fees (tip: the node's suggested tip, fee cap: 2 × base fee + tip) unless
 * `gasPrice` asks for a legacy (or, with an access list, EIP-2930) transaction — then signed and
 * handed to `eth_sendRawTransaction`, so it is admitted exactly as a raw one is.
 */
import type { Common } from '@ethereumjs/common'
import { createTx } from '@ethereumjs/tx'
import { bigIntToBytes, bigIntToHex, concatBytes, hashPersonalMessage, hexToBytes, intToHex, setLengthLeft } from '@ethereumjs/util'
import { bytesToHex } from '../utils/hex.ts'
import { secp256k1 } from 'ethereum-cryptography/secp256k1.js'
import type { DevAccount } from '../chain/dev-accounts.ts'
import type { Config } from '../config/config.ts'
import type { Mempool } from '../mempool/mempool.ts'
import type { Sequencer } from '../sequencer/sequencer.ts'
import { Mutex } from '../utils/mutex.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import type { Handler, RpcContext } from './methods.ts'
import * as p from './params.ts'

export type DevAccountDeps = {
  readonly config: Pick<Config, 'mode' | 'genesisFile'>
  readonly devAccounts: readonly DevAccount[]
  readonly common: Common
  readonly mempool: Pick<Mempool, 'pendingNonce'>
  readonly sequencer: Pick<Sequencer, 'nextHeader'>
  /** The tip the node suggests (`eth_maxPriorityFeePerGas`). */
  readonly suggestedTip: bigint
  /** `eth_sendRawTransaction` as the eth namespace answers it: a signed transaction takes the same path as a raw one. */
  readonly sendRawTransaction: Handler
  /** `eth_estimateGas` as the eth namespace answers it. */
  readonly estimateGas: Handler
}

type Hex = `0x${string}`

/** A recoverable signature as `eth_sign` returns it: r ‖ s ‖ v, with v 27 or 28 (geth, anvil). */
function signHash(hash: Uint8Array, privateKey: Hex): Hex {
  const signature = secp256k1.sign(hash, hexToBytes(privateKey))
  return bytesToHex(concatBytes(setLengthLeft(bigIntToBytes(signature.r), 32), setLengthLeft(bigIntToBytes(signature.s), 32), Uint8Array.of(27 + signature.recovery))) as Hex
}


/** The transaction type a request asks for, by geth's rules: `gasPrice` → legacy (EIP-2930 with an access list), otherwise EIP-1559. */
function requestedType(o: Record<string, unknown>): 0 | 1 | 2 {
  const has = (field: string) => o[field] !== undefined && o[field] !== null
  const feeMarket = has('maxFeePerGas') || has('maxPriorityFeePerGas')
  if (has('gasPrice') && feeMarket) throw invalidParams('both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified')
  if (has('blobVersionedHashes') || has('blobs')) throw invalidParams('blob transactions are not supported: this sequencer takes no EIP-4844 transactions')
  if (has('authorizationList')) throw invalidParams('eth_sendTransaction does not sign EIP-7702 transactions: sign it locally and use eth_sendRawTransaction')
  if (has('type')) {
    const type = Number(p.quantity(o.type, 'transaction.type'))
    if (type !== 0 && type !== 1 && type !== 2) throw invalidParams(`unsupported transaction.type ${intToHex(type)}: eth_sendTransaction signs types 0x0, 0x1 and 0x2`)
    if (type !== 2 && feeMarket) throw invalidParams(`transaction.type ${intToHex(type)} takes gasPrice, not maxFeePerGas or maxPriorityFeePerGas`)
    if (type === 2 && has('gasPrice')) throw invalidParams('transaction.type 0x2 takes maxFeePerGas and maxPriorityFeePerGas, not gasPrice')
    if (type === 0 && has('accessList')) throw invalidParams('transaction.type 0x0 has no access list')
    return type
  }
  if (has('gasPrice')) return has('accessList') ? 1 : 0
  return 2
}

export function createDevAccountMethods(deps: DevAccountDeps): Record<string, Handler> {
  const { config, mempool, sequencer, suggestedTip } = deps
  // Only the devnet signs: a replica of a devnet derives the same accounts (for its genesis) but
  // holds no keys for anyone. Read when first asked, as every handler reads its dependencies.
  let signers: { readonly list: readonly DevAccount[]; readonly byAddress: ReadonlyMap<string, DevAccount> } | undefined
  const keys = () => {
    if (signers === undefined) {
      const list = config.mode === 'devnet' ? deps.devAccounts : []
      signers = { list, byAddress: new Map(list.map((a) => [a.address.toLowerCase(), a])) }
    }
    return signers
  }
  // One send at a time per account, from choosing the nonce to pooling the transaction (geth's
  // nonce lock): two concurrent sends would otherwise take the same pending nonce.
  const nonceLocks = new Map<string, Mutex>()

  /** Refuses every signing method where this node holds no keys, before looking at its params. */
  function requireDevAccounts(method: string): void {
    if (keys().list.length > 0) return
    if (config.mode !== 'devnet') {
      throw new RpcError(rpcErrorCodes.serverError, `${method}: this node holds no keys — dev accounts exist only on the devnet (\`npm start\`, \`mosaic devnet\`); sign locally and use eth_sendRawTransaction`)
    }
    throw new RpcError(rpcErrorCodes.serverError, `${method}: this devnet has no dev accounts — it was started with a GENESIS_FILE (${config.genesisFile}); sign locally and use eth_sendRawTransaction`)
  }

  /** The dev account `value` names; anvil's "No Signer available", geth's "unknown account" otherwise. */
  function signer(value: unknown, name: string): DevAccount {
    const address = bytesToHex(p.address(value, name))
    const account = keys().byAddress.get(address)
    if (account === undefined) throw invalidParams(`unknown account ${address}: no signer available for it — not one of this devnet's dev accounts (eth_accounts lists them)`)
    return account
  }

  async function sendTransaction(params: readonly unknown[], context: RpcContext) {
    requireDevAccounts('eth_sendTransaction')
    const request = params[0]
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      throw invalidParams(`invalid transaction: expected an object, got ${JSON.stringify(request)}`)
    }
    const o = request as Record<string, unknown>
    // As anvil: without `from`, the first dev account sends.
    const account = signer(o.from ?? keys().list[0]!.address, 'transaction.from')
    const call = p.callRequest(o)
    const type = requestedType(o)
    const chainId = deps.common.chainId()
    if (o.chainId !== undefined && o.chainId !== null) {
      const requested = p.quantity(o.chainId, 'transaction.chainId')
      if (requested !== chainId) throw invalidParams(`chainId does not match node's (have=${requested}, want=${chainId})`)
    }
    const list = call.accessList
    const nonceGiven = o.nonce === undefined || o.nonce === null ? undefined : p.quantity(o.nonce, 'transaction.nonce')

    const baseFee = sequencer.nextHeader().baseFeePerGas ?? 0n
    const fees: { gasPrice?: bigint; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint } = {}
    if (type === 2) {
      const tip = call.maxPriorityFeePerGas ?? (call.maxFeePerGas !== undefined && call.maxFeePerGas < suggestedTip ? call.maxFeePerGas : suggestedTip)
      const cap = call.maxFeePerGas ?? 2n * baseFee + tip
      if (cap < tip) throw invalidParams(`maxFeePerGas (${cap}) < maxPriorityFeePerGas (${tip})`)
      fees.maxPriorityFeePerGas = tip
      fees.maxFeePerGas = cap
    } else {
      // eth_gasPrice: the next block's base fee plus the suggested tip.
      fees.gasPrice = call.gasPrice ?? baseFee + suggestedTip
    }
    const fields = {
      from: account.address,
      ...(call.to === undefined ? {} : { to: bytesToHex(call.to) }),
      ...(call.value === undefined ? {} : { value: bigIntToHex(call.value) }),
      ...(call.data === undefined ? {} : { input: bytesToHex(call.data) }),
      ...Object.fromEntries(Object.entries(fees).map(([k, v]) => [k, bigIntToHex(v)])),
      ...(list === undefined ? {} : { accessList: list }),
    }
    // The estimate runs with the access list, so it includes what the list costs.
    // At `pending`: under the next block's header, whose base fee the fees above are drawn from.
    const gasLimit = call.gas ?? BigInt((await deps.estimateGas([fields, 'pending'], context)) as string)

    const senderKey = account.address.slice(2).toLowerCase()
    let lock = nonceLocks.get(senderKey)
    if (lock === undefined) nonceLocks.set(senderKey, (lock = new Mutex()))
    return lock.run(async () => {
      const tx = createTx(
        {
          type,
          chainId,
          nonce: nonceGiven ?? mempool.pendingNonce(senderKey),
          gasLimit,
          ...fees,
          ...(call.to === undefined ? {} : { to: call.to }),
          value: call.value ?? 0n,
          data: call.data ?? new Uint8Array(),
          ...(type === 0 ? {} : { accessList: list ?? [] }),
        },
        { common: deps.common },
      ).sign(hexToBytes(account.privateKey))
      return deps.sendRawTransaction([bytesToHex(tx.serialize())], context)
    })
  }

  /** EIP-191 version 0x45: keccak256("\x19Ethereum Signed Message:\n" + len(message) + message). */
  function signMessage(method: string, addressParam: unknown, dataParam: unknown): Hex {
    requireDevAccounts(method)
    const account = signer(addressParam, 'address')
    const message = p.data(dataParam, 'message')
    return signHash(hashPersonalMessage(message), account.privateKey)
  }

  return {
    eth_accounts: () => keys().list.map((a) => a.address.toLowerCase()),
    eth_sendTransaction: sendTransaction,
    eth_sign: (params) => signMessage('eth_sign', params[0], params[1]),
    // The reverse order of eth_sign: message first, then the account (geth, MetaMask).
    personal_sign: (params) => signMessage('personal_sign', params[1], params[0]),
    // EIP-712: the typed data as a JSON string (viem, MetaMask) or an object.
    eth_signTypedData_v4: async (params) => {
      requireDevAccounts('eth_signTypedData_v4')
      const account = signer(params[0], 'address')
      let typedData = params[1]
      if (typeof typedData === 'string') {
        try {
          typedData = JSON.parse(typedData)
        } catch {
          throw invalidParams('invalid typedData: expected EIP-712 typed data as an object or a JSON string')
        }
      }
      if (typeof typedData !== 'object' || typedData === null || Array.isArray(typedData)) {
        throw invalidParams(`invalid typedData: expected an object with types, primaryType, domain and message, got ${JSON.stringify(typedData)?.slice(0, 80)}`)
      }
      const { types, primaryType, domain, message } = typedData as Record<string, unknown>
      if (typeof types !== 'object' || types === null || typeof primaryType !== 'string' || typeof message !== 'object' || message === null) {
        throw invalidParams('invalid typedData: types, primaryType and message are required')
      }
      // viem's EIP-712 encoder, loaded when first needed: a node without an L1 loads no viem otherwise.
      const { hashTypedData } = await import('viem')
      let hash: Hex
      try {
        hash = hashTypedData({ types, primaryType, domain: domain ?? {}, message } as Parameters<typeof hashTypedData>[0])
      } catch (error) {
        throw invalidParams(`invalid typedData: ${(error as { shortMessage?: string; message: string }).shortMessage ?? (error as Error).message}`)
      }
      return signHash(hexToBytes(hash), account.privateKey)
    },
  }
}
