// Entry of a parallel-execution worker thread: its module compiled where it runs from `dist/`, else
// the TypeScript source through tsx, which Node 20 does not hand to worker threads
// (`utils/typescript-module.mjs`).
import { nameThread } from '../../utils/thread-name.mjs'
import { importSibling } from '../../utils/typescript-module.mjs'

nameThread('mosaic-exec')

const worker = await importSibling(new URL('./worker.ts', import.meta.url))
export default worker.default
export const recoverSenders = worker.recoverSenders
/** `READY_TASK` (`utils/worker-pool.ts`): answered once this module, LMDB and libsecp256k1 included, is loaded. */
export const ready = () => true
