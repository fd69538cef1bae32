/**
 * The namespace modules take only what they need: their handlers run here against small fakes,
 * without a node.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ChainBlock } from '../chain/chain.ts'
import { createAdminMethods } from './admin.ts'
import { createDebugMethods } from './debug.ts'
import { RpcError } from './errors.ts'

const admin = { admin: true }
const anyone = { admin: false }

describe('rpc namespaces without a node', () => {
  it('behavior: admin_sealBlock needs the admin token, is refused on a replica, and answers the sealed block\'s number', async () => {
    let sealed = 0
    const sequencer = { seal: async () => ({ block: { header: { number: BigInt(40 + ++sealed) } } }) as unknown as ChainBlock }
    const methods = createAdminMethods({ sequencer, config: { mode: 'sequencer', sequencerRpcUrl: undefined } })
    await assert.rejects(async () => methods.admin_sealBlock!([], anyone), (e: RpcError) => e.code === -32001)
    assert.equal(sealed, 0)
    assert.equal(await methods.admin_sealBlock!([], admin), '0x29')
    const replica = createAdminMethods({ sequencer, config: { mode: 'replica', sequencerRpcUrl: 'http://sequencer:8545' } })
    await assert.rejects(async () => replica.admin_sealBlock!([], admin), /read-only replica of http:\/\/sequencer:8545/)
    assert.equal(sealed, 1)
  })

  it('behavior: debug_getRawBlock and debug_executionWitness resolve the block and say what is missing', async () => {
    const rlp = Uint8Array.of(0xc1, 0x80)
    const methods = createDebugMethods({
      chain: { getBlock: (n: bigint) => (n === 3n ? ({ block: { serialize: () => rlp } } as unknown as ChainBlock) : undefined) },
      commitment: { witnessOf: async () => undefined },
      blocks: { existingBlockNumber: (value: unknown) => BigInt(value as string) },
    })
    assert.equal(await methods.debug_getRawBlock!(['0x3'], anyone), '0xc180')
    await assert.rejects(async () => methods.debug_executionWitness!(['0x3'], anyone), /no witness recorded for block 3/)
    await assert.rejects(async () => methods.debug_executionWitness!(['0x0'], anyone), /genesis\) has no witness/)
  })
})
