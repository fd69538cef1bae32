// Entry of a sender-recovery worker thread. Node 20 does not hand tsx's loader to worker threads,
// so the worker registers it before importing the TypeScript module.
import { register } from 'tsx/esm/api'

register()
const worker = await import('./recovery-worker.ts')
export const recoverSenders = worker.recoverSenders
