import { setFlagsFromString, getHeapStatistics } from 'node:v8'
import { runInNewContext } from 'node:vm'
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc') as () => void
import { bytesToHex, KECCAK256_NULL } from '@ethereumjs/util'
import { keccak256 } from './src/crypto/crypto.ts'
import { accountUpdates, SubtrieEngine } from './src/commitment/engine.ts'
import { createStateDelta } from './src/state/types.ts'
const n = Number(process.argv[2])
const budget = Number(process.argv[3]) * 2 ** 20
const store = new Map<string, Uint8Array>()
let engine: SubtrieEngine | undefined = new SubtrieEngine(1, new Map(), { loadNode: (h) => store.get(bytesToHex(h)) }, false)
let m
for (let from = 0; from < n; from += 10000) {
  const d = createStateDelta()
  for (let i = from; i < from + 10000; i++) d.accounts.set(bytesToHex(keccak256(new Uint8Array(new Uint32Array([i, 7]).buffer)).subarray(12)).slice(2), { nonce: 1n, balance: 10n ** 18n + BigInt(i), codeHash: KECCAK256_NULL })
  engine.apply(accountUpdates(d), (h, e) => store.set(bytesToHex(h), e.slice()))
  m = engine.trim(budget)
}
gc(); const h1 = getHeapStatistics().used_heap_size
engine = undefined
gc(); const h2 = getHeapStatistics().used_heap_size
console.log('engine heap MB', (h1 - h2) / 2 ** 20, 'per account', (h1 - h2) / n, 'estimate MB', m.bytes / 2 ** 20, m)
