// Entry of a commitment worker thread: its module compiled where it runs from `dist/`, else the
// TypeScript source through tsx, which Node 20 does not hand to worker threads
// (`utils/typescript-module.mjs`).
import { nameThread } from '../utils/thread-name.mjs'
import { importSibling } from '../utils/typescript-module.mjs'

nameThread('mosaic-commit')

await importSibling(new URL('./worker.ts', import.meta.url))
