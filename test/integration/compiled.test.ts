/**
 * The compiled tree (`scripts/build.mjs`, `src/utils/typescript-module.mjs`): mosaic runs from
 * `dist/` without tsx's loader in any thread, and falls back to the TypeScript sources where the
 * build is not newer than every source.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
// @ts-expect-error: plain JavaScript modules without declarations
import { buildDist } from '../../scripts/build.mjs'
// @ts-expect-error: plain JavaScript modules without declarations
import { BUILD_INFO, REPO_ROOT, buildIsFresh } from '../../src/utils/typescript-module.mjs'
import { deriveDevAccounts } from '../../src/chain/dev-accounts.ts'
import type { MemoryStatus } from '../../src/node/memory.ts'

/** Loaded with --import into a child (and, through execArgv, its workers): says so on stderr whenever tsx's loader is registered. */
const WATCH_REGISTER = `import module, { syncBuiltinESMExports } from 'node:module'
const register = module.register
module.register = function (...args) {
  process.stderr.write('tsx loader registered\\n')
  return register.apply(this, args)
}
syncBuiltinESMExports()
`
const REGISTERED = /tsx loader registered/

/** Relative import specifiers of a compiled module: static, re-exports and dynamic with a literal. */
function relativeImports(code: string): string[] {
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.\.?\/[^"'\n]+)["']/g)].map((m) => m[1]!)
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]))
}

describe('the compiled tree (npm run build)', () => {
  // Inside the repository, so that the compiled modules find node_modules as dist/'s do.
  const out = join(REPO_ROOT, '.scratch', `dist-test-${process.pid}`)
  const scratch = mkdtempSync(join(tmpdir(), 'mosaic-compiled-'))
  const watch = join(scratch, 'watch-register.mjs')
  let modules = 0

  before(async () => {
    writeFileSync(watch, WATCH_REGISTER)
    modules = await buildDist(out)
  })
  after(() => {
    rmSync(out, { recursive: true, force: true })
    rmSync(scratch, { recursive: true, force: true })
  })

  it('behavior: every module is compiled and every relative import in the tree names a file that is there', () => {
    assert.ok(modules >= 100, `only ${modules} modules compiled`)
    const files = filesUnder(out).filter((f) => /\.(m?js)$/.test(f))
    let checked = 0
    for (const file of files) {
      for (const specifier of relativeImports(readFileSync(file, 'utf8'))) {
        assert.ok(!specifier.endsWith('.ts'), `${file} still imports ${specifier}`)
        assert.ok(statSync(join(dirname(file), specifier), { throwIfNoEntry: false })?.isFile(), `${file} imports ${specifier}, which is not there`)
        checked++
      }
    }
    assert.ok(checked > 300, `only ${checked} imports seen: the pattern finds nothing`)
    // Negative control: the same check on the sources finds their .ts imports.
    assert.ok(relativeImports(readFileSync(join(REPO_ROOT, 'src/node/node.ts'), 'utf8')).some((s) => s.endsWith('.ts')))
  })

  it('behavior: a sequencer started from the compiled tree serves requests and registers tsx in no thread', async () => {
    const data = join(scratch, 'data')
    const genesis = join(scratch, 'genesis.json')
    const alloc = Object.fromEntries(deriveDevAccounts().map((a) => [a.address, { balance: '0xde0b6b3a7640000' }]))
    writeFileSync(genesis, JSON.stringify({ config: { chainId: 901 }, gasLimit: '0x1c9c380', alloc }))
    const args = ['--import', pathToFileURL(watch).href, join(out, 'src/cli/main.js'), 'sequencer', '--rpc-port', '0', '--data-dir', data, '--genesis-file', genesis]
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', FEE_RECIPIENT: '0x00000000000000000000000000000000000000fe' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${output}`)), 30_000)
        const poll = setInterval(() => {
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
          if (match === null) return
          clearInterval(poll)
          clearTimeout(timer)
          resolve(match[1]!)
        }, 50)
      })
      const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) })
      assert.deepEqual(await answer.json(), { jsonrpc: '2.0', id: 1, result: '0x385' })
      // The commitment workers and the sender-recovery thread have loaded by now: the status shows them.
      const status = (await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'mosaic_status', params: [] }) })).json()) as { result: { head: string; memory: MemoryStatus } }
      assert.equal(status.result.head, '0x0')
      assert.equal(status.result.memory.process.compiled, true, 'mosaic_status does not say the node runs compiled')
    } finally {
      child.kill('SIGINT')
      await exited
    }
    assert.doesNotMatch(output, REGISTERED, output)
    assert.doesNotMatch(output, /Error/, output)
  })

  it("negative control: the same watch sees tsx registered where a worker's module has only its TypeScript source", () => {
    const script = `import { importSibling } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/utils/typescript-module.mjs')).href)}
const module = await importSibling(new URL(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/utils/thread-name.mjs')).href.replace(/thread-name\.mjs$/, 'hex.ts'))}))
if (typeof module !== 'object') process.exit(3)`
    const loader = join(scratch, 'load-source.mjs')
    writeFileSync(loader, script)
    const source = spawnSync(process.execPath, ['--import', pathToFileURL(watch).href, loader], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(source.status, 0, source.stderr)
    assert.match(source.stderr, REGISTERED)
    // And beside a compiled module, the compiled one is taken: no tsx.
    writeFileSync(loader, script.replaceAll(pathToFileURL(join(REPO_ROOT, 'src/utils/')).href, pathToFileURL(join(out, 'src/utils/')).href))
    const compiled = spawnSync(process.execPath, ['--import', pathToFileURL(watch).href, loader], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(compiled.status, 0, compiled.stderr)
    assert.doesNotMatch(compiled.stderr, REGISTERED)
  })

  it('behavior: the build is fresh until a source, a directory of sources or the tsconfig changes; a test file does not count', () => {
    const root = join(scratch, 'root')
    const dist = join(root, 'dist')
    for (const dir of ['src/chain', 'contracts/out', 'dist']) mkdirSync(join(root, dir), { recursive: true })
    for (const file of ['src/chain/a.ts', 'src/chain/a.test.ts', 'contracts/artifacts.ts', 'contracts/out/Inbox.json', 'tsconfig.json']) writeFileSync(join(root, file), '')
    const past = (seconds: number) => new Date(Date.now() - seconds * 1000)
    const settle = () => {
      for (const path of ['src', 'src/chain', 'src/chain/a.ts', 'src/chain/a.test.ts', 'contracts/artifacts.ts', 'contracts/out', 'contracts/out/Inbox.json', 'tsconfig.json']) utimesSync(join(root, path), past(60), past(60))
      writeFileSync(join(dist, BUILD_INFO), JSON.stringify({ startedAt: past(30).getTime() }))
    }
    settle()
    assert.equal(buildIsFresh(root, dist), true)
    utimesSync(join(root, 'src/chain/a.test.ts'), new Date(), new Date())
    assert.equal(buildIsFresh(root, dist), true, 'an edited test file made the build stale')
    for (const touched of ['src/chain/a.ts', 'src/chain', 'contracts/out/Inbox.json', 'tsconfig.json']) {
      settle()
      utimesSync(join(root, touched), new Date(), new Date())
      assert.equal(buildIsFresh(root, dist), false, `${touched} changed after the build, yet it reads fresh`)
    }
    settle()
    rmSync(join(dist, BUILD_INFO))
    assert.equal(buildIsFresh(root, dist), false, 'no build record, yet fresh')
  })
})
