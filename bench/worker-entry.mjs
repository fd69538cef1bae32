// Starts a TypeScript benchmark worker: Node 20 does not hand tsx's loader (registered by
// `tsx` in the main thread) to worker threads, so each worker registers it itself and then
// imports its entry module, `workerData.entry` (a file URL).
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.entry)
