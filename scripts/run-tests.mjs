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
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
})
process.exit(result.status ?? 1)
