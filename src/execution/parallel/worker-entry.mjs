// Entry of a parallel-execution worker thread. Node 20 does not hand tsx's loader to worker
// threads, so the worker registers it before importing the TypeScript module.
import { register } from 'tsx/esm/api'
import { nameThread } from '../../utils/thread-name.mjs'

nameThread('mosaic-exec')

register()
const worker = await import('./worker.ts')
export default worker.default
export const recoverSenders = worker.recoverSenders
/** `READY_TASK` (`utils/worker-pool.ts`): answered once this module, LMDB and libsecp256k1 included, is loaded. */
export const ready = () => true
