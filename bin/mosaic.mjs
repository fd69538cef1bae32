#!/usr/bin/env node
// Entry point of the `mosaic` command: runs mosaic compiled to JavaScript, or its TypeScript sources
// through tsx (a dependency, so no global install is needed).
import { setFlagsFromString } from 'node:v8'
import { importEntry } from '../src/utils/typescript-module.mjs'

// V8 grows a heap under a high allocation rate by up to 4x what survived its last full GC, and
// keeps those pages. Capping the growth at 2x (every isolate: the main thread and the workers)
// keeps ~40 MB less resident under bench:e2e's transfer loads at the same CPU per transaction
// and tx/s; 1.5x saves ~75 MB but costs ~10% more CPU per transaction. Read at each GC, so
// setting it here, before any of mosaic is loaded, applies it to the whole process; a value given
// on node's command line wins (the devnet starts its verifier with its own).
if (!process.execArgv.some((flag) => flag.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=100')
// Compiled from dist/ where `npm run build` (run by `npm ci` and `npm install`) is newer than every
// source, else the TypeScript sources through tsx (`src/utils/typescript-module.mjs`).
await importEntry('src/cli/main.ts')
