// Loads mosaic's TypeScript modules compiled to JavaScript (`dist/`, written by `npm run build`,
// which `npm ci` and `npm install` run as `prepare`) or, where there is no up-to-date build, from
// the sources through tsx. Plain JavaScript: `bin/mosaic.mjs` and every worker entry load it before
// any TypeScript.
//
// Why compiled: tsx's loader runs on a thread of its own in every thread that registers it (Node 20
// hands it to no worker), and a worker that loads the commitment engine through it is ~30 MB more
// resident than one that loads the same code compiled (measured with a worker importing
// `commitment/engine.ts` either way: +62–64 MB of RSS against +32–35 MB). The sequencer registered it
// in its main thread and in each commitment worker (one on 2 cores), with EXECUTOR=parallel in each
// executor worker too, and the devnet's verifier process once more.
//
// The tree is chosen once, by `bin/mosaic.mjs` (`importEntry`): `dist/` where it is newer than
// every source it was built from, the sources otherwise (an edited file, a checkout, no build).
// Workers then load their module next to their entry (`importSibling`): compiled JavaScript where
// it is there, that is under `dist/`, the TypeScript source otherwise.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The repository's root (this file is `src/utils/typescript-module.mjs` there). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Where `scripts/build.mjs` writes, and the record of when it started. */
export const DIST_DIR = join(REPO_ROOT, 'dist')
export const BUILD_INFO = 'build-info.json'
/** What `dist/` is compiled from, relative to the root (directories walked whole, tests left out). */
export const BUILD_INPUTS = ['src', 'contracts/artifacts.ts', 'contracts/out', 'tsconfig.json']

/** The latest modification time (ms) among the build's inputs under `root`, directories included (a deleted or renamed file changes its directory's). */
export function newestInput(root = REPO_ROOT) {
  let newest = 0
  const visit = (path) => {
    const stats = statSync(path, { throwIfNoEntry: false })
    if (stats === undefined) return
    newest = Math.max(newest, stats.mtimeMs)
    if (!stats.isDirectory()) return
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.test.ts')) continue
      visit(join(path, entry.name))
    }
  }
  for (const input of BUILD_INPUTS) visit(join(root, input))
  return newest
}

/** Whether `dist` holds a build of `root`'s sources as they are now: started after the last change to any of them. */
export function buildIsFresh(root = REPO_ROOT, dist = join(root, 'dist')) {
  let info
  try {
    info = JSON.parse(readFileSync(join(dist, BUILD_INFO), 'utf8'))
  } catch {
    return false
  }
  return typeof info?.startedAt === 'number' && newestInput(root) < info.startedAt
}

let registered = false
/** tsx's loader for this thread, once. */
async function registerTsx() {
  if (registered) return
  const { register } = await import('tsx/esm/api')
  register()
  registered = true
}

/** Imports `path` (a `.ts` file relative to the repository's root): compiled from `dist/` where that build is fresh, else the source through tsx. */
export async function importEntry(path) {
  if (buildIsFresh()) return import(pathToFileURL(join(DIST_DIR, path.replace(/\.ts$/, '.js'))).href)
  await registerTsx()
  return import(pathToFileURL(join(REPO_ROOT, path)).href)
}

/** Imports the `.ts` module at `url` (a worker's own module, beside its entry): its compiled `.js` beside it where there is one (under `dist/`), else the source through tsx. */
export async function importSibling(url) {
  const compiled = new URL(url.href.replace(/\.ts$/, '.js'))
  if (existsSync(fileURLToPath(compiled))) return import(compiled.href)
  await registerTsx()
  return import(url.href)
}
