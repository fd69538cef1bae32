/**
 * The `eth_*`, `net_*` and `web3_*` methods as geth answers them: chain reads, state at any block
 * in the history window, calls, fees, transactions, logs and proofs. Filters and subscriptions
 * are in `filters.ts` and `subscriptions.ts`.
 */
import { type Address, bigIntToBytes, bigIntToHex, bytesToBigInt, intToHex, KECCAK256_NULL, setLengthLeft } from '@ethereumjs/util'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'
import type { ChainBlock } from '../chain/chain.ts'
import { nextBaseFee } from '../chain/base-fee.ts'
import { proveAccount, proveStorage } from '../commitment/proof.ts'
import { EMPTY_ROOT, MissingNodeError } from '../commitment/trie.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { MosaicError } from '../errors.ts'
import type { Config } from '../config/config.ts'
import { type CallRequest, overriddenHeader, type SimulationContext, throwFailure } from '../execution/simulate.ts'
import type { MosaicNode } from '../node/node.ts'
import { type BlockResolver, isPending, notFound } from './blocks.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import { effectiveGasPrice, firstLogIndexes, formatBlock, formatReceipt, formatTransaction } from './format.ts'
import type { LogReader } from './logs.ts'
import type { Handler } from './methods.ts'
import * as p from './params.ts'

export const CLIENT_VERSION = 'mosaic/v0.1.0'
/** The tip we suggest: ordering is first come, first served, so a tip buys nothing but is accepted. */
export const SUGGESTED_TIP = 1_000_000n

/** A replica takes no transactions: they go to the sequencer it follows. */
export function requireWritable(config: Pick<Config, 'mode' | 'sequencerRpcUrl'>): void {
  if (config.mode === 'replica') {
    throw new RpcError(rpcErrorCodes.serverError, `this node is a read-only replica of ${config.sequencerRpcUrl}: send transactions to the sequencer`)
  }
}

/**
 * eth_getLogs over a parsed filter: its range resolved and within RPC_GETLOGS_MAX_RANGE (also
 * `eth_getFilterLogs`). A range ending at `pending` takes in the open block's preconfirmed logs
 * after the head's (Base's flashblocks `eth_getLogs`; their `blockHash` is zero, as in
 * preconfirmed receipts); from `pending` to `pending` is the open block alone. With nothing
 * preconfirmed, `pending` is the head.
 */
export function createGetLogs({ chain, blocks, config, logs }: { readonly chain: MosaicNode['chain']; readonly blocks: BlockResolver; readonly config: Pick<Config, 'rpcGetLogsMaxRange'>; readonly logs: Pick<LogReader, 'range'> }) {
  const { resolveNumber } = blocks
  return function getLogs(filter: p.LogFilter) {
    let from: bigint
    let to: bigint
    const open = filter.blockHash === undefined && isPending(filter.toBlock) ? blocks.preconfirmedBlock() : undefined
    if (filter.blockHash !== undefined) {
      const block = chain.getBlockByHash(filter.blockHash) ?? notFound('unknown block')
      from = to = block.block.header.number
    } else {
      from = open !== undefined && isPending(filter.fromBlock) ? open.block.header.number : (resolveNumber(filter.fromBlock) ?? notFound('fromBlock not found'))
      to = open !== undefined ? open.block.header.number : (resolveNumber(filter.toBlock) ?? notFound('toBlock not found'))
      if (to > chain.head && open === undefined) to = chain.head
      if (from > to) throw invalidParams(`invalid block range: fromBlock ${from} is after toBlock ${to}`)
      if (to - from + 1n > BigInt(config.rpcGetLogsMaxRange)) {
        throw new RpcError(rpcErrorCodes.limitExceeded, `query exceeds max block range ${config.rpcGetLogsMaxRange}: ${from}..${to}`)
      }
    }
    return open === undefined ? logs.range(filter, from, to) : logs.range(filter, from, chain.head, open)
  }
}

export type EthDeps = Pick<MosaicNode, 'chain' | 'mempool' | 'sequencer' | 'simulator' | 'config' | 'stateLock' | 'writer' | 'common' | 'commitment' | 'store' | 'layout' | 'preconfirmations'> & {
  readonly blocks: BlockResolver
  readonly getLogs: ReturnType<typeof createGetLogs>
}

export function createEthMethods(node: EthDeps): Record<string, Handler> {
  const { chain, mempool, sequencer, simulator, config, stateLock, blocks, getLogs } = node
  const { resolveNumber, blockAt, stateAt, existingBlockNumber } = blocks

  /** EIP-1186, in either commitment mode (`commitment/proof.ts` has the sharded format). */
  async function getProof(params: readonly unknown[]) {
    const address = p.address(params[0], 'address')
    const keys = params[1]
    if (!Array.isArray(keys)) throw invalidParams('invalid storageKeys: expected an array of storage slots')
    if (keys.length > 1024) throw invalidParams(`too many storageKeys: ${keys.length}, limit 1024`)
    const slots = keys.map((key, i) => setLengthLeft(bigIntToBytes(p.storageSlot(key, `storageKeys[${i}]`)), 32))
    const number = existingBlockNumber(params[2])
    const root = await node.commitment.durableRootOf(number)
    const pruned = () => {
      const oldest = node.commitment.oldestWholeTrie()
      return new MosaicError(
        'HISTORY_UNAVAILABLE',
        `no proof at block ${number}: its state trie is pruned (this node keeps the tries of the blocks from ${oldest} on, TRIE_HISTORY_BLOCKS behind its commitment head)`,
      )
    }
    if (number < node.commitment.oldestWholeTrie()) throw pruned()
    try {
      return proofOf(root, address, slots, keys as string[])
    } catch (error) {
      // Pruned while being read (the workers prune as the commitment head moves on).
      if (error instanceof MissingNodeError && number < node.commitment.oldestWholeTrie()) throw pruned()
      throw error
    }
  }

  function proofOf(root: Uint8Array, address: Uint8Array, slots: readonly Uint8Array[], keys: readonly string[]) {
    const account = proveAccount(node.store, node.layout, root, address)
    const leaf = account.account
    const storageRoot = leaf?.storageRoot ?? EMPTY_ROOT
    const owner = keccak256(address)
    return {
      address: bytesToHex(address),
      accountProof: account.proof.map(bytesToHex),
      balance: bigIntToHex(leaf?.balance ?? 0n),
      codeHash: bytesToHex(leaf?.codeHash ?? KECCAK256_NULL),
      nonce: bigIntToHex(leaf?.nonce ?? 0n),
      storageHash: bytesToHex(storageRoot),
      storageProof: slots.map((slot, i) => {
        const { proof, value } = proveStorage(node.store, storageRoot, slot, owner)
        // The key as the client sent it, as geth echoes it.
        return { key: keys[i]!, value: bigIntToHex(bytesToBigInt(value)), proof: proof.map(bytesToHex) }
      }),
      ...(account.shardProof === undefined
        ? {}
        : {
            shardProof: {
              shard: intToHex(account.shardProof.shard),
              shardRoot: bytesToHex(account.shardProof.shardRoot),
              siblings: account.shardProof.siblings.map(bytesToHex),
            },
          }),
    }
  }

  /**
   * What eth_call, eth_estimateGas and eth_createAccessList run against: block N's state under
   * N's header (geth's `DoCall`; `pending`: the head's state under the next block's header), with
   * the call's state overrides (3rd parameter) and block overrides (4th, eth_call and
   * eth_estimateGas).
   */
  function callArgs(params: readonly unknown[], withBlockOverrides = true): { request: CallRequest; context: () => SimulationContext } {
    if (params[0] === undefined) throw invalidParams('missing value for required argument 0 (transaction)')
    const request = p.callRequest(params[0])
    const ref = p.blockRef(params[1])
    stateAt(ref)
    const stateOverrides = p.stateOverrides(params[2])
    const blockOverrides = withBlockOverrides ? p.blockOverrides(params[3]) : undefined
    if (blockOverrides?.blobBaseFee !== undefined) throw invalidParams('invalid block overrides.blobBaseFee: this rollup has no blobs, so BLOBBASEFEE cannot be overridden')
    // Resolved again under the state lock: the head may have moved while the call waited for it.
    const context = (): SimulationContext => {
      const at = stateAt(ref)
      return { state: at.state, header: overriddenHeader(node.common, blocks.callHeader(ref, at.number), blockOverrides), blockHash: (n) => chain.getBlockHash(n), stateOverrides }
    }
    return { request, context }
  }

  /**
   * A sealed transaction's receipt, or a preconfirmed one's: the open block's number, the
   * transaction's position, status, gas and logs are final; the block hash (zero until sealed,
   * as Base's flashblocks) and the block's roots are not.
   */
  function receiptOf(hash: Uint8Array): unknown {
    const found = chain.getTransaction(hash)
    if (found !== undefined) return formatReceipt(found.chainBlock, found.index, firstLogIndexes(found.chainBlock)[found.index]!)
    const open = node.preconfirmations.block
    const index = open?.indexOf(hash)
    if (open === undefined || index === undefined) return null
    return formatReceipt(open.chainBlock(), index, open.firstLogIndexes()[index]!)
  }

  async function addRaw(params: readonly unknown[]): Promise<Uint8Array> {
    requireWritable(config)
    const raw = p.data(params[0], 'raw transaction')
    const { hash } = await mempool.add(raw)
    sequencer.notifyPooled()
    return hash
  }

  async function feeHistory(params: readonly unknown[]) {
    // viem and ethers send a hex quantity; some clients send a plain number.
    const count = typeof params[0] === 'number' ? params[0] : Number(p.quantity(params[0], 'blockCount'))
    if (!Number.isSafeInteger(count) || count < 1 || count > 1024) throw invalidParams('invalid blockCount: must be an integer between 1 and 1024')
    const newest = resolveNumber(p.blockRef(params[1], 'newestBlock'))
    if (newest === undefined || newest > chain.head) throw new RpcError(rpcErrorCodes.serverError, 'newestBlock not found')
    const percentiles = params[2] === undefined || params[2] === null ? undefined : (params[2] as unknown[])
    if (percentiles !== undefined) {
      if (!Array.isArray(percentiles) || percentiles.some((x, i) => typeof x !== 'number' || x < 0 || x > 100 || (i > 0 && x < (percentiles[i - 1] as number)))) {
        throw invalidParams('invalid rewardPercentiles: expected increasing numbers between 0 and 100')
      }
    }
    const oldest = newest - BigInt(count) + 1n < 0n ? 0n : newest - BigInt(count) + 1n
    const baseFees: string[] = []
    const ratios: number[] = []
    const rewards: string[][] = []
    for (let n = oldest; n <= newest; n++) {
      const { block, receipts } = chain.getBlock(n)!
      const h = block.header
      baseFees.push(bigIntToHex(h.baseFeePerGas ?? 0n))
      ratios.push(Number(h.gasUsed) / Number(h.gasLimit))
      if (percentiles !== undefined) {
        const tips = block.transactions
          .map((tx, i) => ({
            tip: effectiveGasPrice(tx, h.baseFeePerGas ?? 0n) - (h.baseFeePerGas ?? 0n),
            gas: receipts[i]!.cumulativeGasUsed - (i === 0 ? 0n : receipts[i - 1]!.cumulativeGasUsed),
          }))
          .sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0))
        rewards.push(
          (percentiles as number[]).map((pct) => {
            if (tips.length === 0) return '0x0'
            const threshold = (Number(h.gasUsed) * pct) / 100
            let sum = 0
            for (const t of tips) {
              sum += Number(t.gas)
              if (sum >= threshold) return bigIntToHex(t.tip)
            }
            return bigIntToHex(tips[tips.length - 1]!.tip)
          }),
        )
      }
    }
    const last = chain.getBlock(newest)!.block.header
    baseFees.push(bigIntToHex(nextBaseFee({ gasLimit: last.gasLimit, gasUsed: last.gasUsed, baseFeePerGas: last.baseFeePerGas ?? 0n }, config.baseFeeFloor)))
    return {
      oldestBlock: bigIntToHex(oldest),
      baseFeePerGas: baseFees,
      gasUsedRatio: ratios,
      ...(percentiles === undefined ? {} : { reward: rewards }),
    }
  }

  function txByBlockAndIndex(block: ChainBlock | undefined, indexParam: unknown) {
    if (block === undefined) return null
    const index = Number(p.quantity(indexParam, 'index'))
    const tx = block.block.transactions[index]
    return tx === undefined ? null : formatTransaction(tx, block.senders[index]!, { chainBlock: block, index })
  }

  const pendingTx = (hash: Uint8Array) => {
    const entry = mempool.get(hash)
    return entry === undefined ? null : formatTransaction(entry.tx, entry.sender as Address, undefined)
  }

  return {
    web3_clientVersion: () => CLIENT_VERSION,
    web3_sha3: (params) => bytesToHex(node.common.customCrypto.keccak256!(p.data(params[0], 'data'))),
    net_version: () => String(node.common.chainId()),
    net_listening: () => true,
    net_peerCount: () => '0x0',
    eth_chainId: () => bigIntToHex(node.common.chainId()),
    eth_syncing: () => false,
    eth_coinbase: () => config.feeRecipient,
    eth_mining: () => true,
    eth_blockNumber: () => bigIntToHex(chain.head),
    eth_gasPrice: () => bigIntToHex((sequencer.nextHeader().baseFeePerGas ?? 0n) + SUGGESTED_TIP),
    eth_maxPriorityFeePerGas: () => bigIntToHex(SUGGESTED_TIP),
    eth_blobBaseFee: () => '0x1',
    eth_feeHistory: feeHistory,

    eth_getBlockByNumber: (params) => {
      const ref = p.blockRef(params[0], 'block')
      const full = params[1] === undefined ? false : p.bool(params[1], 'hydrated')
      const block = blockAt(ref)
      return block === undefined ? null : formatBlock(block, full)
    },
    eth_getBlockByHash: (params) => {
      const block = chain.getBlockByHash(p.hash(params[0], 'block hash'))
      const full = params[1] === undefined ? false : p.bool(params[1], 'hydrated')
      return block === undefined ? null : formatBlock(block, full)
    },
    eth_getBlockTransactionCountByNumber: (params) => {
      const block = blockAt(p.blockRef(params[0]))
      return block === undefined ? null : intToHex(block.block.transactions.length)
    },
    eth_getBlockTransactionCountByHash: (params) => {
      const block = chain.getBlockByHash(p.hash(params[0], 'block hash'))
      return block === undefined ? null : intToHex(block.block.transactions.length)
    },
    eth_getUncleCountByBlockNumber: () => '0x0',
    eth_getUncleCountByBlockHash: () => '0x0',
    eth_getTransactionByBlockNumberAndIndex: (params) => txByBlockAndIndex(blockAt(p.blockRef(params[0])), params[1]),
    eth_getTransactionByBlockHashAndIndex: (params) => txByBlockAndIndex(chain.getBlockByHash(p.hash(params[0], 'block hash')), params[1]),

    eth_getBalance: (params) => {
      const address = p.address(params[0], 'address')
      return bigIntToHex(stateAt(p.blockRef(params[1])).state.getAccount(bytesToUnprefixedHex(address))?.balance ?? 0n)
    },
    eth_getTransactionCount: (params) => {
      const key = bytesToUnprefixedHex(p.address(params[0], 'address'))
      const ref = p.blockRef(params[1])
      if ('tag' in ref && ref.tag === 'pending') return bigIntToHex(mempool.pendingNonce(key))
      return bigIntToHex(stateAt(ref).state.getAccount(key)?.nonce ?? 0n)
    },
    eth_getCode: (params) => {
      const key = bytesToUnprefixedHex(p.address(params[0], 'address'))
      const { state } = stateAt(p.blockRef(params[1]))
      const account = state.getAccount(key)
      return bytesToHex(account === undefined ? new Uint8Array() : (state.getCode(bytesToUnprefixedHex(account.codeHash)) ?? new Uint8Array()))
    },
    eth_getStorageAt: (params) => {
      const key = bytesToUnprefixedHex(p.address(params[0], 'address'))
      const slot = p.storageSlot(params[1], 'storage slot')
      const value = stateAt(p.blockRef(params[2])).state.getStorage(key, slot.toString(16).padStart(64, '0'))
      const padded = new Uint8Array(32)
      padded.set(value, 32 - value.length)
      return bytesToHex(padded)
    },
    eth_call: async (params) => {
      const { request, context } = callArgs(params)
      const result = await stateLock.run(() => simulator.call(request, context()))
      if (result.error !== undefined) throwFailure(result, request.gas ?? config.rpcGasCap)
      return bytesToHex(result.returnValue)
    },
    eth_estimateGas: async (params) => {
      const { request, context } = callArgs(params)
      return bigIntToHex(await stateLock.run(() => simulator.estimateGas(request, context())))
    },
    eth_createAccessList: async (params) => {
      const { request, context } = callArgs(params, false)
      const { accessList, gasUsed, error } = await stateLock.run(() => simulator.createAccessList(request, context()))
      return { accessList, gasUsed: bigIntToHex(gasUsed), ...(error === undefined ? {} : { error }) }
    },

    eth_sendRawTransaction: async (params) => bytesToHex(await addRaw(params)),
    // EIP-7966: an invalid timeout falls back to the node's default; code 5 when the tx cannot
    // be processed (nonce gap, dropped at execution), code 4 on timeout, both with the hash.
    eth_sendRawTransactionSync: async (params) => {
      let timeout = config.rpcSyncTimeoutMs
      const requested = typeof params[1] === 'number' ? params[1] : typeof params[1] === 'string' && /^0x[0-9a-fA-F]+$/.test(params[1]) ? Number(params[1]) : undefined
      if (requested !== undefined && Number.isSafeInteger(requested) && requested > 0 && requested <= config.rpcSyncTimeoutMs) timeout = requested
      requireWritable(config)
      const raw = p.data(params[0], 'raw transaction')
      const { hash, entry } = await mempool.add(raw)
      const hashHex = bytesToHex(hash)
      if (mempool.pendingNonce(entry.senderKey) <= entry.tx.nonce) {
        throw new RpcError(rpcErrorCodes.syncNotReady, `The transaction was added to the mempool but wasn't processed due to a missing nonce: next nonce ${mempool.pendingNonce(entry.senderKey)}, tx nonce ${entry.tx.nonce}`, hashHex)
      }
      const waiting = node.writer.waitForInclusion(hash, timeout)
      sequencer.notifyPooled()
      const outcome = await waiting
      // Preconfirmed: its mini-batch is durable, so it lands at this position with this receipt.
      if (outcome.status === 'included' || outcome.status === 'preconfirmed') return receiptOf(hash)
      if (outcome.status === 'dropped') {
        throw new RpcError(rpcErrorCodes.syncNotReady, `The transaction was added to the mempool but wasn't processed: ${outcome.reason}`, hashHex)
      }
      throw new RpcError(rpcErrorCodes.syncTimeout, `The transaction was added to the mempool but wasn't processed in ${timeout}ms`, hashHex)
    },
    eth_getTransactionByHash: (params) => {
      const hash = p.hash(params[0], 'transaction hash')
      const found = chain.getTransaction(hash)
      if (found === undefined) {
        const open = node.preconfirmations.block
        const index = open?.indexOf(hash)
        if (open === undefined || index === undefined) return pendingTx(hash)
        const chainBlock = open.chainBlock()
        return formatTransaction(chainBlock.block.transactions[index]!, chainBlock.senders[index]!, { chainBlock, index })
      }
      return formatTransaction(found.tx, found.chainBlock.senders[found.index]!, { chainBlock: found.chainBlock, index: found.index })
    },
    eth_getTransactionReceipt: (params) => receiptOf(p.hash(params[0], 'transaction hash')),
    eth_getBlockReceipts: (params) => {
      const block = blockAt(p.blockRef(params[0]))
      if (block === undefined) return null
      const first = firstLogIndexes(block)
      return block.block.transactions.map((_, i) => formatReceipt(block, i, first[i]!))
    },
    eth_getLogs: (params) => getLogs(p.logFilter(params[0] ?? {})),
    eth_getProof: getProof,
  }
}
