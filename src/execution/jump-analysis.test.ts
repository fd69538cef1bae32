import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createBlockHeader } from '@ethereumjs/block'
import { createFeeMarket1559Tx } from '@ethereumjs/tx'
import { bytesToHex, bytesToUnprefixedHex, concatBytes, hexToBytes, KECCAK256_NULL, privateToAddress } from '@ethereumjs/util'
import { createChainCommon } from '../chain/common.ts'
import { decodeTransaction } from '../chain/transaction.ts'
import { keccak256 } from '../crypto/crypto.ts'
import { FlatState } from '../state/flat-state.ts'
import type { AccountRecord } from '../state/types.ts'
import { ANALYSED_CODE_BYTES, jumpAnalysisStats } from './jump-analysis.ts'
import { createSequentialExecutor } from './sequential-executor.ts'

const KEY = keccak256(Uint8Array.of(7))
const SENDER = bytesToUnprefixedHex(privateToAddress(KEY))
const CONTRACT = 'c0de00000000000000000000000000000000c0de'
const STORED = `0x${'11'.repeat(32)}` as const
/**
 * Jumps to the offset in calldata's first byte:
 * - 0x0a, a JUMPDEST: PUSH32 STORED, stored at slot 0 (the cached PUSH operand);
 * - 0x08, a 0x5b byte inside PUSH1's data: not a JUMPDEST, the call fails;
 * - 0x30, a JUMPDEST followed by PUSH0 (Shanghai): stores 7 at slot 0, or fails where PUSH0 is
 *   not an opcode yet (London).
 */
const CODE = hexToBytes(
  `0x${[
    '6000', // 0: PUSH1 0
    '35', // 2: CALLDATALOAD
    '60f8', // 3: PUSH1 248
    '1c', // 5: SHR
    '56', // 6: JUMP
    '605b', // 7: PUSH1 0x5b (offset 8 is push data)
    '00', // 9: STOP
    '5b', // 10: JUMPDEST
    `7f${STORED.slice(2)}`, // 11: PUSH32 STORED
    '6000', // 44: PUSH1 0
    '55', // 46: SSTORE
    '00', // 47: STOP
    '5b', // 48: JUMPDEST
    '6007', // 49: PUSH1 7
    '5f', // 51: PUSH0
    '55', // 52: SSTORE
    '00', // 53: STOP
  ].join('')}`,
)
const CODE_HASH = keccak256(CODE)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Calls the contract once per target, in one block, on `hardfork`; the code object is `code`. */
async function callTargets(hardfork: string, targets: readonly number[], code: Uint8Array) {
  const common = createChainCommon({ chainId: 901, hardfork })
  const accounts = new Map<string, AccountRecord>([
    [SENDER, { nonce: 0n, balance: 10n ** 20n, codeHash: KECCAK256_NULL }],
    [CONTRACT, { nonce: 1n, balance: 0n, codeHash: CODE_HASH }],
  ])
  const codeHash = bytesToUnprefixedHex(CODE_HASH)
  const state = new FlatState({ readAccount: (a) => accounts.get(a), readStorage: () => undefined, readCode: (h) => (h === codeHash ? code : undefined) })
  const txs = targets.map((target, nonce) =>
    decodeTransaction(
      createFeeMarket1559Tx({ nonce: BigInt(nonce), gasLimit: 100_000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, to: `0x${CONTRACT}`, data: Uint8Array.of(target), chainId: 901n }, { common }).sign(KEY).serialize(),
      common,
    ),
  )
  const header = createBlockHeader({ number: 1n, gasLimit: 30_000_000n, baseFeePerGas: 7n, timestamp: 1_700_000_000n }, { common, setHardfork: false })
  const executor = await createSequentialExecutor({ common })
  const before = jumpAnalysisStats().computed
  const result = await executor.executeBlock({ header, transactions: txs, state, blockHash: () => undefined })
  assert.equal(result.rejected.length, 0)
  const slot = result.delta.storage.get(CONTRACT)?.get('00'.repeat(32))
  return {
    statuses: result.executed.map((e) => ('status' in e.receipt ? e.receipt.status : 1)),
    slot: slot === undefined ? undefined : bytesToHex(slot),
    analyses: jumpAnalysisStats().computed - before,
  }
}

describe('jump analysis cache', () => {
  it('behavior: calls into the same code share one analysis, and jumps, PUSH operands and invalid destinations behave as without it', async () => {
    const run = await callTargets('prague', [0x0a, 0x08, 0x0a, 0x08, 0x30], CODE)
    assert.deepEqual(run.statuses, [1, 0, 1, 0, 1])
    assert.equal(run.slot, '0x07', 'the last successful call (PUSH0 path) stored 7')
    const stored = await callTargets('prague', [0x08, 0x0a], CODE)
    assert.deepEqual(stored.statuses, [0, 1])
    assert.equal(stored.slot, STORED, 'the PUSH32 operand read from the shared analysis')
    // Five calls, one analysis; the second executor has a table of its own: one more. Without
    // the cache, each call that reaches the JUMP analyses the code again (5, then 2).
    assert.equal(run.analyses, 1)
    assert.equal(stored.analyses, 1)
  })

  it('behavior: the analysis is kept per opcode table: the same code object under London, where PUSH0 is not an opcode, fails where Prague succeeds', async () => {
    // Prague first, so a cache keyed by the code alone would hand London Prague's opcode entries.
    const prague = await callTargets('prague', [0x30], CODE)
    const london = await callTargets('london', [0x30, 0x0a], CODE)
    assert.deepEqual(prague.statuses, [1])
    assert.deepEqual(london.statuses, [0, 1])
    assert.equal(london.slot, STORED)
    assert.equal(london.analyses, 1)
  })

  it('limits: analyses are kept for at most ANALYSED_CODE_BYTES of code; past it calls analyse each time, and released ones free their bytes', async () => {
    const kept = jumpAnalysisStats().keptBytes
    // Fill the budget with copies of the code, 16 KB of STOPs after it (each copy its own object,
    // so its own analysis; the state serves it whatever its hash).
    const big = concatBytes(CODE, new Uint8Array(16 * 1024))
    const copies = Math.ceil((ANALYSED_CODE_BYTES - kept) / big.length) + 1
    let last: Awaited<ReturnType<typeof callTargets>> | undefined
    const filler: Uint8Array[] = []
    for (let i = 0; i < copies; i++) {
      const copy = big.slice()
      filler.push(copy)
      last = await callTargets('prague', [0x0a], copy)
    }
    assert.ok(jumpAnalysisStats().keptBytes <= ANALYSED_CODE_BYTES, `kept ${jumpAnalysisStats().keptBytes} bytes`)
    // The budget is full: three calls into new code analyse three times, and still run right.
    const over = await callTargets('prague', [0x0a, 0x08, 0x0a], big.slice())
    assert.deepEqual(over.statuses, [1, 0, 1])
    assert.equal(over.analyses, 3)
    assert.equal(last!.analyses, 1)
    // Once the code and its executors are gone, their bytes are released.
    filler.length = 0
    last = undefined
    const full = jumpAnalysisStats().keptBytes
    for (let i = 0; i < 50 && jumpAnalysisStats().keptBytes >= full; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.ok(jumpAnalysisStats().keptBytes < full, 'released analyses freed their bytes')
  })
})
