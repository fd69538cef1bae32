import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'
import { createChainCommon } from '../../chain/common.ts'
import { conflictHints, partitionBatch } from './batch.ts'

const common = createChainCommon({ chainId: 901, hardfork: 'prague' })
const A = 'aa'.repeat(20)
const B = 'bb'.repeat(20)
const TOKEN = 'cc'.repeat(20)

function call(to: string, data: string) {
  return createFeeMarket1559Tx({ to: `0x${to}`, data: hexToBytes(data as `0x${string}`), gasLimit: 100000n, chainId: 901n }, { common })
}

describe('conflict hints and partitioning', () => {
  it('default: a plain transfer is linked to its sender and recipient', () => {
    const tx = createLegacyTx({ to: `0x${B}`, value: 1n, gasLimit: 21000n }, { common })
    assert.deepEqual(conflictHints(tx, A, new Set()), [A, B])
  })

  it('behavior: an ERC-20 transfer is linked to the token recipient, not the token', () => {
    const data = `0xa9059cbb${B.padStart(64, '0')}${'01'.padStart(64, '0')}`
    assert.deepEqual(conflictHints(call(TOKEN, data), A, new Set()), [A, B])
    // once the token is known to conflict, calls into it are linked to it too
    assert.deepEqual(conflictHints(call(TOKEN, data), A, new Set([TOKEN])), [A, TOKEN, B])
    assert.equal(bytesToHex(call(TOKEN, '0x12345678').data), '0x12345678')
    assert.deepEqual(conflictHints(call(TOKEN, '0x12345678'), A, new Set()), [A])
  })

  it('behavior: linked transactions share a chunk in arrival order; chunks are balanced', () => {
    const hints: Record<number, string[]> = { 0: ['s1', 'r1'], 1: ['s2', 'r2'], 2: ['s1', 'r3'], 3: ['s4', 'r2'], 4: ['s5', 'r5'], 5: ['s6', 'r6'] }
    const chunks = partitionBatch([0, 1, 2, 3, 4, 5], (id) => hints[id]!, 2)
    assert.equal(chunks.length, 2)
    const chunkOf = (id: number) => chunks.findIndex((c) => c.includes(id))
    assert.equal(chunkOf(0), chunkOf(2)) // same sender
    assert.equal(chunkOf(1), chunkOf(3)) // same recipient
    for (const chunk of chunks) assert.deepEqual(chunk, [...chunk].sort((a, b) => a - b))
    assert.deepEqual(chunks.map((c) => c.length).sort(), [3, 3])
    assert.deepEqual(partitionBatch([3, 1], (id) => hints[id]!, 1), [[3, 1]])
  })
})
