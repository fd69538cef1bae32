// A sender-recovery worker thread that runs nothing but libsecp256k1 (`createSenderRecovery` in
// `parallel/sender-recovery.ts`): the main thread takes each transaction's signing hash and
// signature from its RLP (`signatureFromRlp`), and this thread does the one costly step, the
// recovery (~50 µs a transaction). Plain JavaScript: no TypeScript loader and no ethereumjs are
// loaded here, so the thread adds ~3 MB to the process instead of the ~50 MB of one that
// decodes transactions itself. The layout of the bytes comes from the main thread (`workerData`).
import { workerData } from 'node:worker_threads'
import secp256k1 from 'secp256k1'
import { nameThread } from '../utils/thread-name.mjs'

nameThread('mosaic-recover')

const { requestBytes, answerBytes } = workerData

/** `READY_TASK` (`utils/worker-pool.ts`): answered once this module, libsecp256k1 included, is loaded. */
export function ready() {
  return true
}

/**
 * `requests`: per transaction, hash (32) ‖ r ‖ s (64) ‖ recovery id (1). Answers, in the same
 * order: 1 ‖ the 64-byte public key, or 0 ‖ 64 zero bytes where the signature names no key.
 */
export function recoverKeys(requests) {
  const count = requests.length / requestBytes
  const answers = new Uint8Array(count * answerBytes)
  for (let i = 0; i < count; i++) {
    const at = i * requestBytes
    try {
      const key = secp256k1.ecdsaRecover(requests.subarray(at + 32, at + 96), requests[at + 96], requests.subarray(at, at + 32), false)
      answers[i * answerBytes] = 1
      answers.set(key.subarray(1), i * answerBytes + 1)
    } catch {
      // answers[i * answerBytes] stays 0: no key.
    }
  }
  return answers
}
