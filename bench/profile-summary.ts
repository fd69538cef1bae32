/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self time,
 * and self time per file. Usage:
 *
 *   npx tsx bench/exec.ts --quick --only sequential --profile /tmp/prof
 *   npx tsx bench/profile-summary.ts [--top 25] [--callers <function> [--depth 2]] /tmp/prof/exec-erc20-sequential-*.cpuprofile
 *
 * Several files (e.g. the runs of one variant) are summed. Works as well on the whole-process
 * profiles of `node --cpu-prof`.
 */
import { readFileSync } from 'node:fs'

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number }
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] }
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const USAGE = 'usage: profile-summary.ts [--top N] [--callers <function> [--depth N]] <file.cpuprofile>…'
const paths: string[] = []
let top = 25
/** Also show, for functions of this name, the self time by calling stack (`--depth` levels up). */
let callersOf: string | undefined
let depth = 2
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!
  if (arg === '--') continue
  if (arg === '--top') {
    top = Number(argv[++i])
    if (!Number.isInteger(top) || top < 1) throw new Error(`--top must be a positive integer; ${USAGE}`)
  } else if (arg === '--depth') {
    depth = Number(argv[++i])
    if (!Number.isInteger(depth) || depth < 1) throw new Error(`--depth must be a positive integer; ${USAGE}`)
  } else if (arg === '--callers') {
    callersOf = argv[++i]
    if (callersOf === undefined) throw new Error(`--callers needs a function name; ${USAGE}`)
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
const byCaller = new Map<string, number>()
let total = 0
for (const path of paths) {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, ProfileNode>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node)
  // Self time of a node = the time deltas of the samples that landed in it (µs).
  const selfByNode = new Map<number, number>()
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta)
    total += delta
  })
  // The profiler's own work when a section ends (`Profiler.stop` runs on this thread) is not
  // part of what was measured.
  const inProfiler = (id: number): boolean => {
    for (let n = byId.get(id); n !== undefined; n = parentOf.get(n.id)) if (n.callFrame.url === 'node:inspector') return true
    return false
  }
  for (const [id, self] of selfByNode) {
    if (inProfiler(id)) {
      total -= self
      continue
    }
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const file = url === '' ? '(native/vm)' : shortUrl(url)
    const key = `${functionName || '(anonymous)'}  ${file}${url === '' ? '' : `:${lineNumber + 1}`}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + self)
    byFile.set(file, (byFile.get(file) ?? 0) + self)
    if (callersOf !== undefined && functionName === callersOf) {
      const frames: string[] = []
      for (let n = parentOf.get(id); n !== undefined && frames.length < depth; n = parentOf.get(n.id)) {
        frames.push(`${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}`)
      }
      const caller = frames.join(' ← ')
      byCaller.set(caller, (byCaller.get(caller) ?? 0) + self)
    }
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
if (callersOf !== undefined) print(`self time of ${callersOf} by calling stack (${depth} levels)`, byCaller, top)
