/**
 * The JSON-RPC methods: `eth_*`, `net_*`, `web3_*` as geth answers them, `mosaic_*` for what
 * is ours, `admin_*` behind the admin token. Each handler gets parsed-on-demand params and
 * returns JSON-ready values; errors are thrown and mapped in `errors.ts`.
 */
import { type Address, bigIntToBytes, bigIntToHex, bytesToBigInt, bytesToHex, bytesToUnprefixedHex, intToHex, KECCAK256_NULL, setLengthLeft } from '@ethereumjs/util'
import type { ChainBlock } from '../chain/chain.ts'
import { nextBaseFee } from '../chain/base-fee.ts'
import { proveAccount, proveStorage } from '../commitment/proof.ts'
import { EMPTY_ROOT } from '../commitment/trie.ts'
import { encodeStateDelta } from '../state/delta-codec.ts'
import { HistoricalState } from '../state/historical-state.ts'
import type { StateDelta, StateReader } from '../state/types.ts'
import { historyWindow } from '../config/config.ts'
import { decodeWitness, witnessHash, witnessToJSON } from '../witness/witness.ts'
import { MosaicError } from '../errors.ts'
import { type CallRequest, type SimulationContext, throwFailure } from '../execution/simulate.ts'
import type { MosaicNode } from '../node/node.ts'
import { memoryStatus } from '../node/memory.ts'
import type { Sequencer } from '../sequencer/sequencer.ts'
import { invalidParams, RpcError, rpcErrorCodes } from './errors.ts'
import { createFilterMethods } from './filters.ts'
import { effectiveGasPrice, firstLogIndexes, formatBlock, formatReceipt, formatTransaction } from './format.ts'
import { createLogReader } from './logs.ts'
import * as p from './params.ts'
import { createSubscriptionMethods, type SubscriptionSink } from './subscriptions.ts'

export const CLIENT_VERSION = 'mosaic/v0.1.0'
/** The tip we suggest: ordering is first come, first served, so a tip buys nothing but is accepted. */
export const SUGGESTED_TIP = 1_000_000n

/** `subscriptions`: the connection's, over WebSocket only (`websocket.ts`); eth_subscribe needs it. */
export type RpcContext = { readonly admin: boolean; readonly subscriptions?: SubscriptionSink }
export type Handler = (params: readonly unknown[], context: RpcContext) => unknown | Promise<unknown>

/** A JSON view of a state delta: accounts (null = deleted), storage, wiped storage, new code. */
function deltaToJSON(delta: StateDelta) {
  const hex = (key: string) => `0x${key}`
  return {
    accounts: Object.fromEntries(
      [...delta.accounts].map(([address, record]) => [
        hex(address),
        record === null ? null : { nonce: bigIntToHex(record.nonce), balance: bigIntToHex(record.balance), codeHash: bytesToHex(record.codeHash) },
      ]),
    ),
    storage: Object.fromEntries([...delta.storage].map(([address, slots]) => [hex(address), Object.fromEntries([...slots].map(([slot, value]) => [hex(slot), bytesToHex(value)]))])),
    storageCleared: [...delta.storageCleared].map(hex),
    code: Object.fromEntries([...delta.code].map(([hash, code]) => [hex(hash), bytesToHex(code)])),
  }
}

function nullableHex(value: bigint | undefined): string | null {
  return value === undefined ? null : bigIntToHex(value)
}

function notFound(what: string): never {
  throw new MosaicError('NOT_FOUND', what)
}

export function createMethods(node: MosaicNode): Record<string, Handler> {
  const { chain, state, mempool, sequencer, simulator, config, stateLock } = node

  const headBlock = (): ChainBlock => chain.getBlock(chain.head) ?? notFound('head block missing')

  function resolveNumber(ref: p.BlockRef): bigint | undefined {
    if ('tag' in ref) {
      if (ref.tag === 'earliest') return 0n
      // OP Stack semantics: safe = in a batch on the L1, finalized = in a batch the L1 finalized.
      // Without an L1 every block is as final as it gets: the head.
      if (ref.tag === 'safe' && node.poster !== undefined) return node.poster.safeBlock
      if (ref.tag === 'finalized' && node.poster !== undefined) return node.poster.finalizedBlock
      return chain.head
    }
    if ('number' in ref) return ref.number
    const block = chain.getBlockByHash(ref.hash)
    return block?.block.header.number
  }

  function blockAt(ref: p.BlockRef): ChainBlock | undefined {
    const number = resolveNumber(ref)
    return number === undefined ? undefined : chain.getBlock(number)
  }

  /**
   * The state a read at `ref` sees: the head's flat state in memory, or an earlier block's from
   * its change sets (`state/historical-state.ts`) within the history window; anything else is
   * refused with what the window holds.
   */
  function stateAt(ref: p.BlockRef): { state: StateReader; number: bigint } {
    const number = resolveNumber(ref)
    if (number === undefined) throw new RpcError(rpcErrorCodes.serverError, 'hash' in ref ? `header for hash ${bytesToHex(ref.hash)} not found` : 'header not found')
    if (number > chain.head) throw new RpcError(rpcErrorCodes.serverError, `header not found: block ${number} is past the head ${chain.head}`)
    if (number === chain.head) return { state, number }
    const oldest = node.store.historyFrom ?? chain.head
    if (number < oldest) {
      const window = historyWindow(config)
      throw new MosaicError(
        'HISTORY_UNAVAILABLE',
        window === 0
          ? `state at block ${number} is not available: this node serves the head's state only (HISTORY_BLOCKS=0)`
          : `state at block ${number} is not available: this node keeps the state of the last ${window} blocks (HISTORY_BLOCKS), blocks ${oldest} to ${chain.head}`,
      )
    }
    return { state: new HistoricalState(node.store, number), number }
  }

  /** A block by number, tag, EIP-1898 object or plain 32-byte hash; must exist. */
  function existingBlockNumber(value: unknown): bigint {
    const ref = typeof value === 'string' && /^0x[0-9a-fA-F]{64}$/.test(value) ? { hash: p.hash(value, 'block hash'), requireCanonical: false } : p.blockRef(value)
    const number = resolveNumber(ref)
    if (number === undefined || number > chain.head) throw new RpcError(rpcErrorCodes.serverError, 'header not found')
    return number
  }

  async function witnessBytes(number: bigint): Promise<Uint8Array> {
    if (number === 0n) throw invalidParams('block 0 (genesis) has no witness: it executes nothing')
    const encoded = await node.commitment.witnessOf(number)
    // Blocks whose commitment was recomputed after a crash have no read set to rebuild a witness from.
    return encoded ?? notFound(`no witness recorded for block ${number}`)
  }

  /** EIP-1186, in either commitment mode (`commitment/proof.ts` has the sharded format). */
  async function getProof(params: readonly unknown[]) {
    const address = p.address(params[0], 'address')
    const keys = params[1]
    if (!Array.isArray(keys)) throw invalidParams('invalid storageKeys: expected an array of storage slots')
    if (keys.length > 1024) throw invalidParams(`too many storageKeys: ${keys.length}, limit 1024`)
    const slots = keys.map((key, i) => setLengthLeft(bigIntToBytes(p.storageSlot(key, `storageKeys[${i}]`)), 32))
    const number = existingBlockNumber(params[2])
    const root = await node.commitment.durableRootOf(number)
    const account = proveAccount(node.store, node.layout, root, address)
    const leaf = account.account
    const storageRoot = leaf?.storageRoot ?? EMPTY_ROOT
    return {
      address: bytesToHex(address),
      accountProof: account.proof.map(bytesToHex),
      balance: bigIntToHex(leaf?.balance ?? 0n),
      codeHash: bytesToHex(leaf?.codeHash ?? KECCAK256_NULL),
      nonce: bigIntToHex(leaf?.nonce ?? 0n),
      storageHash: bytesToHex(storageRoot),
      storageProof: slots.map((slot, i) => {
        const { proof, value } = proveStorage(node.store, storageRoot, slot)
        // The key as the client sent it, as geth echoes it.
        return { key: keys[i] as string, value: bigIntToHex(bytesToBigInt(value)), proof: proof.map(bytesToHex) }
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
   * What eth_call and eth_estimateGas run against: at the head, its state under the next block's
   * header (as a transaction sent now would run); at an earlier block N, N's state under N's
   * header (geth's `DoCall`).
   */
  function callArgs(params: readonly unknown[]): { request: CallRequest; context: () => SimulationContext } {
    if (params[0] === undefined) throw invalidParams('missing value for required argument 0 (transaction)')
    const request = p.callRequest(params[0])
    const ref = p.blockRef(params[1])
    stateAt(ref)
    if (params[2] !== undefined && params[2] !== null) throw invalidParams('state overrides are not supported')
    // Resolved again under the state lock: the head may have moved while the call waited for it.
    const context = (): SimulationContext => {
      const at = stateAt(ref)
      const header = at.number === chain.head ? sequencer.nextHeader() : (chain.getBlock(at.number) ?? notFound(`block ${at.number} missing`)).block.header
      return { state: at.state, header, blockHash: (n) => chain.getBlockHash(n) }
    }
    return { request, context }
  }

  function receiptOf(hash: Uint8Array): unknown {
    const found = chain.getTransaction(hash)
    if (found === undefined) return null
    return formatReceipt(found.chainBlock, found.index, firstLogIndexes(found.chainBlock)[found.index]!)
  }

  /** A replica takes no transactions: they go to the sequencer it follows. */
  function requireWritable(): void {
    if (config.mode === 'replica') {
      throw new RpcError(rpcErrorCodes.serverError, `this node is a read-only replica of ${config.sequencerRpcUrl}: send transactions to the sequencer`)
    }
  }

  async function addRaw(params: readonly unknown[]): Promise<Uint8Array> {
    requireWritable()
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

  const logs = createLogReader({ chain, common: node.common, config })

  /** eth_getLogs over a parsed filter: its range resolved and within RPC_GETLOGS_MAX_RANGE. */
  function getLogs(filter: p.LogFilter) {
    let from: bigint
    let to: bigint
    if (filter.blockHash !== undefined) {
      const block = chain.getBlockByHash(filter.blockHash) ?? notFound('unknown block')
      from = to = block.block.header.number
    } else {
      from = resolveNumber(filter.fromBlock) ?? notFound('fromBlock not found')
      to = resolveNumber(filter.toBlock) ?? notFound('toBlock not found')
      if (to > chain.head) to = chain.head
      if (from > to) throw invalidParams(`invalid block range: fromBlock ${from} is after toBlock ${to}`)
      if (to - from + 1n > BigInt(config.rpcGetLogsMaxRange)) {
        throw new RpcError(rpcErrorCodes.limitExceeded, `query exceeds max block range ${config.rpcGetLogsMaxRange}: ${from}..${to}`)
      }
    }
    return logs.range(filter, from, to)
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
    eth_accounts: () => [],
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

    eth_sendRawTransaction: async (params) => bytesToHex(await addRaw(params)),
    // EIP-7966: an invalid timeout falls back to the node's default; code 5 when the tx cannot
    // be processed (nonce gap, dropped at execution), code 4 on timeout, both with the hash.
    eth_sendRawTransactionSync: async (params) => {
      let timeout = config.rpcSyncTimeoutMs
      const requested = typeof params[1] === 'number' ? params[1] : typeof params[1] === 'string' && /^0x[0-9a-fA-F]+$/.test(params[1]) ? Number(params[1]) : undefined
      if (requested !== undefined && Number.isSafeInteger(requested) && requested > 0 && requested <= config.rpcSyncTimeoutMs) timeout = requested
      requireWritable()
      const raw = p.data(params[0], 'raw transaction')
      const { hash, entry } = await mempool.add(raw)
      const hashHex = bytesToHex(hash)
      if (mempool.pendingNonce(entry.senderKey) <= entry.tx.nonce) {
        throw new RpcError(rpcErrorCodes.syncNotReady, `The transaction was added to the mempool but wasn't processed due to a missing nonce: next nonce ${mempool.pendingNonce(entry.senderKey)}, tx nonce ${entry.tx.nonce}`, hashHex)
      }
      const waiting = node.writer.waitForInclusion(hash, timeout)
      sequencer.notifyPooled()
      const outcome = await waiting
      if (outcome.status === 'included') return receiptOf(hash)
      if (outcome.status === 'dropped') {
        throw new RpcError(rpcErrorCodes.syncNotReady, `The transaction was added to the mempool but wasn't processed: ${outcome.reason}`, hashHex)
      }
      throw new RpcError(rpcErrorCodes.syncTimeout, `The transaction was added to the mempool but wasn't processed in ${timeout}ms`, hashHex)
    },
    eth_getTransactionByHash: (params) => {
      const hash = p.hash(params[0], 'transaction hash')
      const found = chain.getTransaction(hash)
      if (found === undefined) return pendingTx(hash)
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
    ...createFilterMethods({ chain, logs, getLogs, pool: mempool, config }),
    ...createSubscriptionMethods(),

    // The L1 poster: inbox position, planned batches, queue counts, failures, fee bumps, reorgs.
    mosaic_posterStatus: async () => {
      if (node.poster === undefined) notFound('this node posts no batches: it has no L1 (L1_RPC_URL)')
      return node.poster.status()
    },
    mosaic_status: () => {
      const head = headBlock()
      return {
        head: bigIntToHex(chain.head),
        headHash: bytesToHex(head.hash),
        mempool: { pending: mempool.size, pooledGas: bigIntToHex(mempool.pooledGas) },
        executor: node.executor.mode,
        lastExecution: executionStatus(sequencer.lastExecution),
        stateRoot: {
          mode: node.layout.mode,
          ...(node.layout.mode === 'sharded' ? { shardNibbles: node.layout.splitNibbles } : {}),
          lag: config.stateRootLag,
          computed: nullableHex(node.commitment.stats().computed),
          durable: nullableHex(node.commitment.stats().durable),
        },
        blockTimeMs: config.blockTimeMs,
        memory: memoryStatus(node),
      }
    },

    // The exact post-state root of a block, once computed (waits at most for the pipeline to
    // catch up); `final` once it is durable; `inHeaderOf`: the block whose header carries it.
    mosaic_getStateRoot: async (params) => {
      const number = existingBlockNumber(params[0])
      const root = await node.commitment.rootOf(number)
      const carrier = number + BigInt(config.stateRootLag)
      return {
        blockNumber: bigIntToHex(number),
        stateRoot: bytesToHex(root),
        final: node.commitment.isDurable(number),
        inHeaderOf: carrier <= chain.head ? bigIntToHex(carrier) : null,
      }
    },
    eth_getProof: getProof,

    // The block's state delta (`state/delta-codec.ts`): the binary form and a JSON view.
    mosaic_getStateDelta: (params) => {
      const number = existingBlockNumber(params[0])
      const delta = node.store.getStateDelta(number) ?? notFound(`no state delta stored for block ${number}`)
      return { blockNumber: bigIntToHex(number), encoding: bytesToHex(encodeStateDelta(delta)), ...deltaToJSON(delta) }
    },
    // The block's witness in its compact binary form (`witness/witness.ts`) and its hash.
    mosaic_getWitness: async (params) => {
      const number = existingBlockNumber(params[0])
      const encoded = await witnessBytes(number)
      const witness = decodeWitness(encoded)
      return {
        blockNumber: bigIntToHex(number),
        preStateRoot: bytesToHex(witness.preStateRoot),
        hash: bytesToHex(witnessHash(encoded)),
        size: encoded.length,
        witness: bytesToHex(encoded),
      }
    },
    // geth/reth's shape: { state, codes, keys, headers }.
    debug_executionWitness: async (params) => witnessToJSON(decodeWitness(await witnessBytes(existingBlockNumber(params[0])))),
    // geth: the block's RLP.
    debug_getRawBlock: (params) => {
      const number = existingBlockNumber(params[0])
      return bytesToHex(chain.getBlock(number)!.block.serialize())
    },

    admin_sealBlock: async (_params, context) => {
      requireWritable()
      if (!context.admin) throw new RpcError(rpcErrorCodes.unauthorized, 'admin method: requires Authorization: Bearer <ADMIN_TOKEN>')
      const block = await sequencer.seal()
      return block === undefined ? null : bigIntToHex(block.block.header.number)
    },
  }
}


/** The last block's execution as `mosaic_status` shows it: conflicts and the keys behind them. */
function executionStatus(stats: Sequencer['lastExecution']) {
  if (stats === undefined) return null
  const { block, mode, rounds, aborts, conflicts, hotKeys } = stats
  return {
    block: bigIntToHex(block),
    mode,
    rounds,
    reexecutions: aborts,
    conflicts: conflicts ?? 0,
    hotKeys: (hotKeys ?? []).map(({ key, conflicts }) => ({ kind: key[0] === 's' ? 'storage' : 'account', address: `0x${key.slice(1, 41)}`, ...(key[0] === 's' ? { slot: `0x${key.slice(41)}` } : {}), conflicts })),
  }
}
