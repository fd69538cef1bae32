#!/usr/bin/env node
// `npm run build` (and `prepare`, which `npm ci` and `npm install` run): compiles mosaic's
// TypeScript to JavaScript in `dist/`, file by file, the tree mirrored, so that `bin/mosaic.mjs`
// and its worker threads run without tsx's loader (`src/utils/typescript-module.mjs` says why and
// how the tree is chosen). The same transpiler as the tests' (esbuild, through tsx), with the
// repository's tsconfig; no bundling, so every module keeps its own `import.meta.url` and the
// files it finds beside it (worker entries, contract artifacts).
//
// Usage: node scripts/build.mjs [OUT_DIR]   (default: dist/)
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { BUILD_INFO, REPO_ROOT } from '../src/utils/typescript-module.mjs'

/** A relative import or re-export of a `.ts` module: `from "./x.ts"`, `import("./x.ts")`, `import "./x.ts"`. */
const TS_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]*?)\.ts\2/g

/** Files under `dir` (relative to the root) whose names satisfy `keep`. */
function filesUnder(dir, keep) {
  const out = []
  for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(path, keep))
    else if (entry.isFile() && keep(entry.name)) out.push(path)
  }
  return out
}

/** Builds into `out` (replaced whole once the build succeeded). Returns the number of modules compiled. */
export async function buildDist(out = join(REPO_ROOT, 'dist')) {
  // Taken before reading any source: a file changed while the build runs makes the build stale.
  const startedAt = Date.now()
  const staging = `${out}.building-${process.pid}`
  rmSync(staging, { recursive: true, force: true })
  const sources = [...filesUnder('src', (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')), 'contracts/artifacts.ts']
  await build({
    entryPoints: sources.map((path) => join(REPO_ROOT, path)),
    outdir: staging,
    outbase: REPO_ROOT,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: join(REPO_ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  })
  // esbuild leaves import specifiers as written; the compiled tree has `.js` where the sources say `.ts`.
  for (const path of sources) {
    const file = join(staging, path.replace(/\.ts$/, '.js'))
    const code = readFileSync(file, 'utf8').replace(TS_SPECIFIER, (_, lead, quote, stem) => `${lead}${quote}${stem}.js${quote}`)
    const left = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']\.\.?\/[^"'\n]*\.ts["']/.exec(code)
    if (left !== null) throw new Error(`${path}: an import of a .ts module was left: ${left[0]}`)
    writeFileSync(file, code)
  }
  // The plain JavaScript beside the sources (worker entries, the thread and module helpers) and the artifacts the inbox reads.
  for (const path of filesUnder('src', (name) => name.endsWith('.mjs'))) {
    mkdirSync(dirname(join(staging, path)), { recursive: true })
    cpSync(join(REPO_ROOT, path), join(staging, path))
  }
  cpSync(join(REPO_ROOT, 'contracts/out'), join(staging, 'contracts/out'), { recursive: true })
  // `cli/devnet-verifier.ts` starts `../../bin/mosaic.mjs` beside itself: from dist/, the command itself.
  mkdirSync(join(staging, 'bin'), { recursive: true })
  writeFileSync(join(staging, 'bin/mosaic.mjs'), `// Written by scripts/build.mjs: the mosaic command, for what dist/ starts by a path relative to itself.\nimport '${relative(join(staging, 'bin'), join(REPO_ROOT, 'bin/mosaic.mjs'))}'\n`)
  writeFileSync(join(staging, BUILD_INFO), `${JSON.stringify({ startedAt, modules: sources.length }, null, 2)}\n`)
  rmSync(out, { recursive: true, force: true })
  renameSync(staging, out)
  return sources.length
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] === undefined ? join(REPO_ROOT, 'dist') : join(process.cwd(), process.argv[2])
  const started = performance.now()
  try {
    const modules = await buildDist(out)
    console.log(`mosaic: compiled ${modules} modules to ${relative(process.cwd(), out) || '.'} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  } catch (error) {
    console.error(`mosaic build failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
