/**
 * geth's `prestateTracer` (eth/tracers/native/prestate.go): every account and slot the
 * transaction touched, as it was before the transaction; with `diffMode`, `{ pre, post }` of only
 * what changed (geth's `processDiffState`). Touched means: the sender, the recipient, the fee
 * recipient, SLOAD/SSTORE slots, the targets of BALANCE, EXTCODE*, the CALL family and
 * SELFDESTRUCT, and the addresses CREATE/CREATE2 make.
 */
import type { EVMResult, InterpreterStep } from '@ethereumjs/evm'
import type { RunTxResult } from '@ethereumjs/vm'
import { bigIntToBytes, bigIntToHex, bytesToBigInt, equalsBytes, generateAddress, generateAddress2, setLengthLeft } from '@ethereumjs/util'
import type { EnterFrame, PrestateTracerOptions, Tracer, TxTraceContext } from './types.ts'
import { bytesToHex, bytesToUnprefixedHex } from '../utils/hex.ts'

export type PrestateAccount = { balance?: string; nonce?: number; code?: string; storage?: Record<string, string> }
export type PrestateResult = Record<string, PrestateAccount> | { pre: Record<string, PrestateAccount>; post: Record<string, PrestateAccount> }

type Snapshot = { balance: bigint; nonce: bigint; code: Uint8Array; exists: boolean; storage: Map<string, Uint8Array> }

const ADDRESS_OPS = new Set(['BALANCE', 'EXTCODESIZE', 'EXTCODECOPY', 'EXTCODEHASH', 'SELFDESTRUCT'])
const CALL_OPS = new Set(['CALL', 'CALLCODE', 'DELEGATECALL', 'STATICCALL'])

export class PrestateTracer implements Tracer {
  private context!: TxTraceContext
  /** By lowercase hex address without 0x. */
  private readonly pre = new Map<string, Snapshot>()
  private readonly created = new Set<string>()
  private result_: PrestateResult | undefined

  constructor(private readonly options: PrestateTracerOptions) {}

  onTxStart(context: TxTraceContext): void {
    this.context = context
    this.lookupAccount(bytesToUnprefixedHex(context.from))
    this.lookupAccount(bytesToUnprefixedHex(context.coinbase))
    if (context.to !== undefined) {
      this.lookupAccount(bytesToUnprefixedHex(context.to))
    } else {
      const nonce = context.state.account(bytesToUnprefixedHex(context.from))?.nonce ?? 0n
      const address = bytesToUnprefixedHex(generateAddress(context.from, bigIntToBytes(nonce)))
      this.created.add(address)
      this.lookupAccount(address)
    }
  }

  onEnter(_frame: EnterFrame): void {}

  onStep(step: InterpreterStep): void {
    const name = step.opcode.name
    const stack = step.stack
    const top = stack[stack.length - 1]
    if (top === undefined) return
    const self = bytesToUnprefixedHex(step.address.bytes)
    if (name === 'SLOAD' || name === 'SSTORE') {
      this.lookupStorage(self, bytesToUnprefixedHex(setLengthLeft(bigIntToBytes(top), 32)))
    } else if (ADDRESS_OPS.has(name)) {
      this.lookupAccount(addressOf(top))
    } else if (CALL_OPS.has(name) && stack.length >= 2) {
      this.lookupAccount(addressOf(stack[stack.length - 2]!))
    } else if (name === 'CREATE') {
      const nonce = this.context.state.account(self)?.nonce ?? 0n
      const address = bytesToUnprefixedHex(generateAddress(step.address.bytes, bigIntToBytes(nonce)))
      this.created.add(address)
      this.lookupAccount(address)
    } else if (name === 'CREATE2' && stack.length >= 4) {
      const offset = Number(stack[stack.length - 2])
      const size = Number(stack[stack.length - 3])
      const salt = setLengthLeft(bigIntToBytes(stack[stack.length - 4]!), 32)
      const init = new Uint8Array(size)
      if (offset < step.memory.length) init.set(step.memory.subarray(offset, Math.min(offset + size, step.memory.length)))
      const address = bytesToUnprefixedHex(generateAddress2(step.address.bytes, salt, init))
      this.created.add(address)
      this.lookupAccount(address)
    }
  }

  onExit(_result: EVMResult): void {}

  onTxEnd(_result: RunTxResult): void {
    if (this.options.diffMode) {
      this.result_ = this.diff()
    } else {
      const out: Record<string, PrestateAccount> = {}
      for (const [address, snapshot] of this.pre) {
        out[`0x${address}`] = this.format(snapshot)
      }
      this.result_ = out
    }
    this.context.budget.charge(JSON.stringify(this.result_).length)
  }

  result(): PrestateResult {
    if (this.result_ === undefined) throw new Error('PrestateTracer.result() before the transaction ended')
    return this.result_
  }

  /** geth's `processDiffState`: pre and post of what changed; unchanged accounts and slots left out. */
  private diff(): PrestateResult {
    const { state } = this.context
    const pre: Record<string, PrestateAccount> = {}
    const post: Record<string, PrestateAccount> = {}
    for (const [address, snapshot] of this.pre) {
      const now = state.account(address)
      if (now === undefined && snapshot.exists) {
        // Deleted (self-destructed): in pre, not in post.
        pre[`0x${address}`] = this.format(snapshot)
        continue
      }
      const after: PrestateAccount = {}
      let modified = false
      const balance = now?.balance ?? 0n
      const nonce = now?.nonce ?? 0n
      const code = state.code(address)
      if (balance !== snapshot.balance) {
        modified = true
        after.balance = bigIntToHex(balance)
      }
      if (nonce !== snapshot.nonce) {
        modified = true
        after.nonce = Number(nonce)
      }
      if (!this.options.disableCode && !equalsBytes(code, snapshot.code)) {
        modified = true
        after.code = bytesToHex(code)
      }
      const kept = new Map<string, Uint8Array>()
      const storageAfter: Record<string, string> = {}
      if (!this.options.disableStorage) {
        for (const [slot, value] of snapshot.storage) {
          const current = state.storage(address, slot)
          if (bytesToBigInt(current) === bytesToBigInt(value)) continue
          modified = true
          if (bytesToBigInt(value) !== 0n) kept.set(slot, value)
          if (bytesToBigInt(current) !== 0n) storageAfter[`0x${slot}`] = word(current)
        }
      }
      if (!modified) continue
      if (Object.keys(storageAfter).length > 0) after.storage = storageAfter
      post[`0x${address}`] = after
      if (this.created.has(address) && !snapshot.exists) continue
      pre[`0x${address}`] = this.format({ ...snapshot, storage: kept })
    }
    return { pre, post }
  }

  private format(snapshot: Snapshot): PrestateAccount {
    const account: PrestateAccount = {}
    account.balance = bigIntToHex(snapshot.balance)
    if (snapshot.nonce !== 0n) account.nonce = Number(snapshot.nonce)
    if (!this.options.disableCode && snapshot.code.length > 0) account.code = bytesToHex(snapshot.code)
    if (!this.options.disableStorage && snapshot.storage.size > 0) {
      const storage: Record<string, string> = {}
      for (const [slot, value] of snapshot.storage) storage[`0x${slot}`] = word(value)
      account.storage = storage
    }
    return account
  }

  private lookupAccount(address: string): Snapshot {
    let snapshot = this.pre.get(address)
    if (snapshot !== undefined) return snapshot
    const { state } = this.context
    const account = state.account(address)
    snapshot = {
      balance: account?.balance ?? 0n,
      nonce: account?.nonce ?? 0n,
      code: state.code(address),
      exists: account !== undefined,
      storage: new Map(),
    }
    this.pre.set(address, snapshot)
    this.context.budget.charge(snapshot.code.length * 2 + 120)
    return snapshot
  }

  private lookupStorage(address: string, slot: string): void {
    const snapshot = this.lookupAccount(address)
    if (snapshot.storage.has(slot)) return
    snapshot.storage.set(slot, this.context.state.storage(address, slot))
    this.context.budget.charge(140)
  }
}

function addressOf(value: bigint): string {
  return bytesToUnprefixedHex(setLengthLeft(bigIntToBytes(value), 32).subarray(12))
}

function word(value: Uint8Array): string {
  return bytesToHex(setLengthLeft(value, 32))
}
