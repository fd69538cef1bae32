#!/usr/bin/env node
// Runs every test file (`*.test.ts` under src/, contracts/ and test/) with Node's own test runner through
// tsx. Node 20's `--test` has no glob support, so the files are listed here.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function testFiles(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...testFiles(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const filter = process.argv.slice(2)
let files = [...testFiles('src'), ...testFiles('contracts'), ...testFiles('test')].sort()
if (filter.length > 0) files = files.filter((f) => filter.some((pattern) => f.includes(pattern)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
// A test that hangs fails after 10 minutes, and a file whose tests are done exits even when a failed
// test left a handle open (a timer, a socket): a hang must show up as a failure, never as a stalled run.
// The whole run is bounded too, well inside CI's 90 minutes, so that what hung is printed.
const RUN_LIMIT_MS = 60 * 60_000
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit', ...files],
  { stdio: 'inherit', timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' },
)
if (result.error?.code === 'ETIMEDOUT') console.error(`the tests ran past ${RUN_LIMIT_MS / 60_000} minutes and were stopped`)
process.exit(result.status ?? 1)
