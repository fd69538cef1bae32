/** Deterministic randomness for generated workloads (benchmarks, differential tests). */

/** mulberry32: a tiny seedable PRNG (uniform 32-bit output). Not for anything secret. */
export function createRandom(seed: number) {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    /** Uniform in [lo, hi]. */
    range: (lo: number, hi: number): number => lo + int(hi - lo + 1),
    chance: (p: number): boolean => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick: empty list')
      return items[int(items.length)]!
    },
    bytes: (n: number): Uint8Array => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = int(256)
      return out
    },
    /** Uniform in [0, 2^bits). */
    bigint: (bits: number): bigint => {
      let v = 0n
      for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(int(0x10000))
      return v & ((1n << BigInt(bits)) - 1n)
    },
  }
}
