import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { deserialize, serialize } from 'node:v8'
import { MessageChannel } from 'node:worker_threads'
import { KECCAK256_NULL } from '@ethereumjs/util'
import { createStateDelta } from '../../state/types.ts'
import { packDeltaForWorkers, packForWorkers, packOutcomes, packTxInputs, type TxOutcome, unpackDelta, unpackFromCoordinator, unpackOutcomes, unpackTxInputs } from './protocol.ts'

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

/** Outcomes of every shape: a token transfer's, a creation's, a reverted one's, a refused one's, an empty one's. */
function sampleOutcomes(): TxOutcome[] {
  const bytes = (length: number, fill: number) => new Uint8Array(length).fill(fill)
  return [
    {
      id: 3,
      ok: true,
      reads: new Set([`a${'11'.repeat(20)}`, `s${'33'.repeat(20)}${'44'.repeat(32)}`]),
      writes: sampleDelta(),
      feeDelta: 21_000n * 10n ** 9n,
      status: 1,
      gasUsed: 51_234n,
      logs: [
        [bytes(20, 0x33), [bytes(32, 1), bytes(32, 2), bytes(32, 3)], bytes(32, 9)],
        [bytes(20, 0x34), [], new Uint8Array()],
      ],
      logsBloom: bytes(256, 0).fill(0xa5, 17, 40),
      createdAddress: undefined,
    },
    { id: 0, ok: true, reads: new Set(), writes: createStateDelta(), feeDelta: 0n, status: 0, gasUsed: 2n ** 64n - 1n, logs: [], logsBloom: bytes(256, 0), createdAddress: bytes(20, 0x77) },
    { id: 4_000_000, ok: false, reads: new Set([`a${'55'.repeat(20)}`]), error: 'nonce too low — «übergeben» 🙂' },
    { id: 1, ok: true, reads: new Set([`a${'66'.repeat(20)}`]), writes: sampleDelta(), feeDelta: 2n ** 256n - 1n, status: 1, gasUsed: 21_000n, logs: [], logsBloom: bytes(256, 0), createdAddress: undefined },
  ]
}

describe('parallel executor protocol: what goes to one worker and back, packed', () => {
  it('behavior: a log entry\'s delta, packed once into shared memory, unpacks equal, its byte arrays copies of their own', () => {
    const delta = sampleDelta()
    const packed = packDeltaForWorkers(delta)
    assert.ok(packed.buffer instanceof SharedArrayBuffer)
    const unpacked = unpackDelta(packed)
    assert.deepEqual(unpacked, delta)
    assert.notEqual(unpacked.storage.get('33'.repeat(20))!.get('44'.repeat(32))!.buffer, packed.buffer)
    assert.deepEqual(unpackDelta(packDeltaForWorkers(createStateDelta())), createStateDelta())
    // Control: the comparison sees a changed value, and a cut message is refused.
    const changed = sampleDelta()
    changed.accounts.set('11'.repeat(20), { nonce: 8n, balance: 10n ** 21n, codeHash: KECCAK256_NULL })
    assert.notDeepEqual(unpackDelta(packDeltaForWorkers(changed)), delta)
    assert.throws(() => unpackDelta(packed.subarray(0, packed.length - 1)), /ends early/)
  })

  it('behavior: outcomes of every shape unpack equal to those packed (reads, writes, fee, status, gas, logs, created address, errors)', () => {
    const outcomes = sampleOutcomes()
    assert.deepEqual(unpackOutcomes(packOutcomes(outcomes)), outcomes)
    assert.deepEqual(unpackOutcomes(packOutcomes([])), [])
    // Control: the comparison sees each kind of change.
    type Editable = { reads: Set<string>; writes: ReturnType<typeof sampleDelta>; logs: [Uint8Array, Uint8Array[], Uint8Array][]; logsBloom: Uint8Array; status: number; feeDelta: bigint }
    const edit = (outcome: TxOutcome | undefined) => outcome as unknown as Editable
    const changes: ((o: TxOutcome[]) => void)[] = [
      (o) => edit(o[0]).reads.add(`a${'99'.repeat(20)}`),
      (o) => edit(o[0]).writes.storageCleared.add('99'.repeat(20)),
      (o) => (edit(o[0]).logs[0]![1][2]![0] = 0),
      (o) => (edit(o[0]).logsBloom[20] = 0),
      (o) => (edit(o[1]).status = 1),
      (o) => (edit(o[3]).feeDelta -= 1n),
    ]
    for (const change of changes) {
      const changed = sampleOutcomes()
      change(changed)
      assert.notDeepEqual(unpackOutcomes(packOutcomes(changed)), outcomes)
    }
  })

  it('behavior: unpacked outcomes hold copies of their own, never views into the message that carried them', () => {
    const packed = packOutcomes(sampleOutcomes())
    const [transfer] = unpackOutcomes(packed) as Extract<TxOutcome, { ok: true }>[]
    const arrays = [transfer!.writes.accounts.get('11'.repeat(20))!.codeHash, transfer!.writes.storage.get('33'.repeat(20))!.get('44'.repeat(32))!, transfer!.logs[0]![0], transfer!.logs[0]![2], transfer!.logsBloom]
    for (const array of arrays) assert.notEqual(array.buffer, packed.buffer)
    // Control: the packed message is one buffer of its own (not Buffer's shared pool), so it can be moved.
    assert.equal(packed.byteOffset, 0)
    assert.notEqual(packed.buffer, Buffer.allocUnsafe(1).buffer)
    assert.notEqual(packOutcomes([]).buffer, Buffer.allocUnsafe(1).buffer)
  })

  it('behavior: the transactions of a chunk unpack to the same ids, senders and bytes, in order', () => {
    const txs = [0, 7, 199].map((id) => ({ id, sender: new Uint8Array(20).fill(id), raw: new Uint8Array(100 + id).fill(id + 1) }))
    assert.deepEqual(
      unpackTxInputs(packTxInputs(txs)).map(({ id, sender, raw }) => ({ id, sender: new Uint8Array(sender), raw: new Uint8Array(raw) })),
      txs,
    )
    // Control: a different order is seen.
    assert.notDeepEqual(
      unpackTxInputs(packTxInputs([...txs].reverse())).map(({ id }) => id),
      txs.map(({ id }) => id),
    )
  })

  it('safety: a message cut short or with bytes to spare is refused, not read as something else', () => {
    const packed = packOutcomes(sampleOutcomes())
    assert.throws(() => unpackOutcomes(packed.subarray(0, packed.length - 1)), /ends early/)
    const longer = new Uint8Array(packed.length + 1)
    longer.set(packed)
    assert.throws(() => unpackOutcomes(longer), /1 bytes left unread/)
    const txs = packTxInputs([{ id: 1, sender: new Uint8Array(20), raw: new Uint8Array(10) }])
    assert.throws(() => unpackTxInputs(txs.subarray(0, txs.length - 3)), /ends early/)
    // Control: the whole message reads.
    assert.equal(unpackOutcomes(packed).length, 4)
  })

  it('safety: what the layout cannot carry is refused when packed (a negative bigint, an overlong key)', () => {
    const [transfer] = sampleOutcomes()
    assert.throws(() => packOutcomes([{ ...transfer!, feeDelta: -1n } as TxOutcome]), /negative bigint/)
    assert.throws(() => packOutcomes([{ ...transfer!, reads: new Set(['a'.repeat(256)]) } as TxOutcome]), /256 characters/)
    // Control: the longest key a read set holds (a slot's: 105 characters) packs.
    assert.equal(unpackOutcomes(packOutcomes([{ ...transfer!, reads: new Set([`s${'ab'.repeat(52)}`]) } as TxOutcome])).length, 1)
  })
})
