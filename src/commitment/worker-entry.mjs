// Entry of a commitment worker thread. Node 20 does not hand tsx's loader to worker threads, so
// the worker registers it before importing the TypeScript module.
import { register } from 'tsx/esm/api'
import { nameThread } from '../utils/thread-name.mjs'

nameThread('mosaic-commit')

register()
await import('./worker.ts')
