/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self time,
 * and self time per file. Usage:
 *
 *   npx tsx bench/exec.ts --quick --only sequential --profile /tmp/prof
 *   npx tsx bench/profile-summary.ts [--top 25] /tmp/prof/exec-erc20-sequential-*.cpuprofile
 *
 * Several files (e.g. the runs of one variant) are summed. Works as well on the whole-process
 * profiles of `node --cpu-prof`.
 */
import { readFileSync } from 'node:fs'

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number }
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] }
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const USAGE = 'usage: profile-summary.ts [--top N] <file.cpuprofile>…'
const paths: string[] = []
let top = 25
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!
  if (arg === '--') continue
  if (arg === '--top') {
    top = Number(argv[++i])
    if (!Number.isInteger(top) || top < 1) throw new Error(`--top must be a positive integer; ${USAGE}`)
  } else paths.push(arg)
}
if (paths.length === 0) throw new Error(USAGE)

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  const src = url.search(/\/(src|bench|contracts)\//)
  if (src >= 0) return url.slice(src + 1)
  return url.replace(/^file:\/\//, '')
}

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let total = 0
for (const path of paths) {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  // Self time of a node = the time deltas of the samples that landed in it (µs).
  const selfByNode = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta)
    total += delta
  })
  for (const [id, self] of selfByNode) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const file = url === '' ? '(native/vm)' : shortUrl(url)
    const key = `${functionName || '(anonymous)'}  ${file}${url === '' ? '' : `:${lineNumber + 1}`}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + self)
    byFile.set(file, (byFile.get(file) ?? 0) + self)
  }
}

function print(title: string, entries: Map<string, number>, count: number): void {
  console.log(`\n${title}`)
  const sorted = [...entries].sort((a, b) => b[1] - a[1]).slice(0, count)
  for (const [key, self] of sorted) {
    console.log(`${(self / 1000).toFixed(0).padStart(8)} ms ${((100 * self) / total).toFixed(1).padStart(5)}%  ${key}`)
  }
}

console.log(`${paths.length} profile(s): ${(total / 1e6).toFixed(2)} s sampled`)
print(`top ${top} functions by self time`, byFunction, top)
print('top 15 files by self time', byFile, 15)
