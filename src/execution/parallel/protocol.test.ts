import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { deserialize, serialize } from 'node:v8'
import { MessageChannel } from 'node:worker_threads'
import { KECCAK256_NULL } from '@ethereumjs/util'
import { createStateDelta } from '../../state/types.ts'
import { packForWorkers, unpackFromCoordinator } from './protocol.ts'

function sampleDelta() {
  const delta = createStateDelta()
  delta.accounts.set('11'.repeat(20), { nonce: 7n, balance: 10n ** 21n, codeHash: KECCAK256_NULL })
  delta.accounts.set('22'.repeat(20), null)
  delta.storage.set('33'.repeat(20), new Map([['44'.repeat(32), new Uint8Array([1, 2, 3])], ['55'.repeat(32), new Uint8Array()]]))
  delta.storageCleared.add('22'.repeat(20))
  delta.code.set('66'.repeat(32), new Uint8Array([0x60, 0x00]))
  return delta
}

describe('parallel executor protocol: what is packed once for every worker', () => {
  it('behavior: a state delta unpacks equal to the one packed (Maps, Sets, bigints, null, byte arrays)', () => {
    const delta = sampleDelta()
    assert.deepEqual(unpackFromCoordinator(packForWorkers(delta)), delta)
    // Control: the comparison sees a changed value.
    const changed = sampleDelta()
    changed.storage.get('33'.repeat(20))!.set('44'.repeat(32), new Uint8Array([1, 2, 4]))
    assert.notDeepEqual(unpackFromCoordinator(packForWorkers(changed)), delta)
  })

  it('behavior: packed bytes are shared memory, so a message to each worker carries them without a copy', async () => {
    const packed = packForWorkers(sampleDelta())
    assert.ok(packed.buffer instanceof SharedArrayBuffer)
    // What a worker receives is the same memory: a byte written here is seen there.
    const { port1, port2 } = new MessageChannel()
    const received = new Promise<Uint8Array>((resolve) => port2.once('message', resolve))
    port1.postMessage(packed)
    const there = await received
    packed[0] = packed[0]! ^ 0xff
    assert.equal(there[0], packed[0])
    // Control: bytes not in shared memory arrive as a copy.
    const copy = serialize(sampleDelta())
    const receivedCopy = new Promise<Uint8Array>((resolve) => port2.once('message', resolve))
    port1.postMessage(copy)
    const copied = await receivedCopy
    copy[0] = copy[0]! ^ 0xff
    assert.notEqual(copied[0], copy[0])
    port1.close()
  })

  it('behavior: unpacked byte arrays are copies of their own, so a cached value does not keep the whole packed block alive', () => {
    const packed = packForWorkers(sampleDelta())
    const value = unpackFromCoordinator<ReturnType<typeof sampleDelta>>(packed).storage.get('33'.repeat(20))!.get('44'.repeat(32))!
    assert.deepEqual(value, new Uint8Array([1, 2, 3]))
    assert.notEqual(value.buffer, packed.buffer)
    assert.equal(value.buffer.byteLength, 3)
    // Control: V8's own deserializer returns a view into the packed bytes.
    const view = (deserialize(packed) as ReturnType<typeof sampleDelta>).storage.get('33'.repeat(20))!.get('44'.repeat(32))!
    assert.equal(view.buffer, packed.buffer)
  })
})
