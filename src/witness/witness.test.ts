import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { brotliCompressSync, deflateRawSync } from 'node:zlib'
import { RLP } from '@ethereumjs/rlp'
import { bigIntToUnpaddedBytes, bytesToHex, KECCAK256_NULL, KECCAK256_RLP } from '@ethereumjs/util'
import { MosaicError } from '../errors.ts'
import { createRandom } from '../utils/random.ts'
import { type BlockWitness, createWitness, decodeWitness, encodeWitness, encodeWitnessAsync, WITNESS_VERSIONS, witnessBody } from './witness.ts'

/**
 * A witness shaped like a block of transfers': branch nodes of 16 child hashes, account leaves
 * (a path and an RLP account), the keys they prove, an ancestor header.
 */
function transferWitness(seed: number, accounts: number): BlockWitness {
  const random = createRandom(seed)
  const nodes: Uint8Array[] = []
  for (let i = 0; i < accounts * 3; i++) {
    const children = Array.from({ length: 16 }, () => (random.chance(0.9) ? random.bytes(32) : new Uint8Array()))
    nodes.push(RLP.encode([...children, new Uint8Array()]))
  }
  const keys = Array.from({ length: accounts }, () => random.bytes(20))
  for (const _ of keys) {
    // Accounts without code or storage, as transfers touch: the same two roots in every leaf.
    const account = RLP.encode([bigIntToUnpaddedBytes(random.bigint(8)), bigIntToUnpaddedBytes(random.bigint(80)), KECCAK256_RLP, KECCAK256_NULL])
    nodes.push(RLP.encode([random.bytes(28), account]))
  }
  return { blockNumber: 7n, preStateRoot: random.bytes(32), nodes, codes: [], headers: [random.bytes(540)], keys }
}

function sameWitness(a: BlockWitness, b: BlockWitness): boolean {
  return bytesToHex(witnessBody(a)) === bytesToHex(witnessBody(b))
}

function refusedAs(code: string): (error: unknown) => boolean {
  return (error) => error instanceof MosaicError && error.code === code
}

describe('the binary witness', () => {
  const witness = transferWitness(1, 400)

  it('is written brotli-compressed (version 2) and reads back to the same witness, on and off the thread', async () => {
    const encoded = encodeWitness(witness)
    assert.equal(encoded[0], WITNESS_VERSIONS.brotli)
    assert.ok(sameWitness(decodeWitness(encoded), witness))
    // The sequencer's path (libuv's pool) writes the same bytes: one witness, one encoding, one hash.
    assert.equal(bytesToHex(await encodeWitnessAsync(witness)), bytesToHex(encoded))
  })

  it('written by an older node (version 1, deflate-raw) still reads back to the same witness', () => {
    const encoded = encodeWitness(witness, 'deflate')
    assert.equal(encoded[0], WITNESS_VERSIONS.deflate)
    assert.ok(sameWitness(decodeWitness(encoded), witness))
    // Negative control: the version byte is what picks the decompressor.
    const mislabelled = Uint8Array.from(encoded)
    mislabelled[0] = WITNESS_VERSIONS.brotli
    assert.throws(() => decodeWitness(mislabelled), refusedAs('WITNESS_INVALID'))
  })

  it('brotli at quality 1 stays within 5% of what deflate at level 6 made of a witness of trie nodes', () => {
    const brotli = encodeWitness(witness).length
    const deflate = encodeWitness(witness, 'deflate').length
    assert.ok(brotli <= deflate * 1.05, `brotli ${brotli} bytes against deflate ${deflate}`)
    // Negative control: a format that did not compress at all would fail this bound here.
    assert.ok(witnessBody(witness).length > deflate * 1.05, 'the body compresses by more than the 5% allowed')
  })

  for (const format of ['deflate', 'brotli'] as const) {
    it(`refuses a ${format} decompression bomb once its output passes the limit, before inflating the rest`, () => {
      const zeros = new Uint8Array(64 * 1024 * 1024)
      const compressed = format === 'deflate' ? deflateRawSync(zeros, { level: 9 }) : brotliCompressSync(zeros)
      const bomb = Uint8Array.of(WITNESS_VERSIONS[format], ...compressed)
      assert.ok(bomb.length < 100_000, `the bomb is small: ${bomb.length} bytes`)
      assert.throws(() => decodeWitness(bomb, 1024 * 1024), refusedAs('LIMIT_EXCEEDED'))
      // Negative control: under a limit it fits in, it inflates, and fails only as a witness.
      assert.throws(() => decodeWitness(bomb, 128 * 1024 * 1024), refusedAs('WITNESS_INVALID'))
    })
  }

  it('refuses an unknown version, naming the versions it reads', () => {
    const encoded = encodeWitness(witness)
    const unknown = Uint8Array.from(encoded)
    unknown[0] = 3
    assert.throws(() => decodeWitness(unknown), (error) => refusedAs('WITNESS_INVALID')(error) && /unknown version 3 .*versions 1 and 2/.test((error as Error).message))
  })
})

describe('createWitness', () => {
  /** The canonical order by definition: every byte compared, duplicates dropped. */
  const withoutRepeats = (sorted: readonly Uint8Array[]) => sorted.filter((item, i) => i === 0 || Buffer.compare(sorted[i - 1]!, item) !== 0)
  const reference = (items: readonly Uint8Array[]) => withoutRepeats([...items].sort(Buffer.compare))
  /** Items that tie on their first six bytes, prefixes of one another, short, empty, repeated. */
  function awkwardItems(seed: number): Uint8Array[] {
    const random = createRandom(seed)
    const items: Uint8Array[] = [new Uint8Array(), Uint8Array.of(0), Uint8Array.of(0, 0), Uint8Array.of(1), Uint8Array.of(0, 0xff)]
    const branchHead = Uint8Array.of(0xf9, 0x02, 0x11, 0xa0, 0x12, 0x34)
    for (let i = 0; i < 300; i++) {
      const tail = random.bytes(random.range(0, 40))
      items.push(random.chance(0.5) ? Uint8Array.from([...branchHead, ...tail]) : random.bytes(random.range(1, 12)))
    }
    for (let i = 0; i < 40; i++) items.push(Uint8Array.from(items[random.range(0, items.length - 1)]!))
    return items
  }

  it('sorts nodes, codes and keys by their bytes and drops repeats, where six bytes tie too', () => {
    for (const seed of [1, 2, 3]) {
      const items = awkwardItems(seed)
      const witness = createWitness({ blockNumber: 1n, preStateRoot: new Uint8Array(32), nodes: items, codes: items.slice(0, 50), headers: [], keys: items.slice(100) })
      assert.deepEqual(witness.nodes.map(bytesToHex), reference(items).map(bytesToHex))
      assert.deepEqual(witness.codes.map(bytesToHex), reference(items.slice(0, 50)).map(bytesToHex))
      assert.deepEqual(witness.keys.map(bytesToHex), reference(items.slice(100)).map(bytesToHex))
    }
    // Negative control: ranked by the first six bytes alone, items that tie there come out in another order.
    const items = awkwardItems(1)
    const six = (item: Uint8Array) => Array.from({ length: 6 }, (_, b) => item[b] ?? 0).reduce((rank, byte) => rank * 256 + byte, 0)
    const bySix = [...items].sort((a, b) => six(a) - six(b))
    assert.notDeepEqual(withoutRepeats(bySix).map(bytesToHex), reference(items).map(bytesToHex))
  })
})
