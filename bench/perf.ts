/**
 * CPU attribution of a mosaic process with Linux `perf` (`bench:e2e --perf DIR`): which thread
 * spends the CPU, and on the main thread, in what.
 *
 * `node --cpu-prof` samples wall time: on two cores a thread that has just woken another (a
 * worker's task, the answer written to a socket) is often preempted by it, and the profiler
 * charges the wait to the function it was in — piscina's `postTask` and the response's `writev`
 * read as ~20% of the sequencer's main thread that way. `perf record -e cpu-clock` samples the
 * CPU a thread runs on, so its shares are CPU; the node runs with `--perf-basic-prof`, which
 * names its JIT-compiled frames (`/tmp/perf-<pid>.map`).
 *
 * Threads are grouped: `main` (the process's first thread), each named thread (`mosaic-commit`,
 * `mosaic-recover`, …), V8's helper threads (`v8-helpers`: collections, TurboFan), libuv's
 * thread pool (`libuv`: LMDB commits, compression) and the rest. The main thread's samples are
 * split by what runs at the sample (`categoryOf`), and its JavaScript frames are counted
 * inclusively (a frame counts once per sample it is on the stack of).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

/** Samples per second per CPU (`perf record -F`): odd, so that it does not beat with timers. */
const FREQUENCY = 997

/** One sample of `perf script`: the thread, and its call stack leaf first. */
export type PerfSample = { readonly comm: string; readonly tid: number; readonly frames: readonly PerfFrame[] }
export type PerfFrame = { readonly symbol: string; readonly dso: string }

export type PerfSummary = {
  readonly samples: number
  /** Samples by thread group. */
  readonly threads: Record<string, number>
  /** V8's helper threads' samples by what they did. */
  readonly helpers: Record<string, number>
  /** The main thread's samples by what runs at the sample. */
  readonly mainCategories: Record<string, number>
  /** The main thread's JavaScript frames, inclusive, most first. */
  readonly mainFrames: readonly (readonly [string, number])[]
}

/** Throws, naming the option, when `perf` cannot be run here. */
export function checkPerf(option: string): void {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' })
  } catch {
    throw new Error(`${option} needs Linux perf (the \`perf\` command; Debian: apt-get install linux-perf)`)
  }
}

export type PerfRecording = { stop(): Promise<void> }

/** Starts sampling every thread of `pid` into `dataPath`; `stop()` ends it and waits for the file. */
export function recordPerf(pid: number, dataPath: string): PerfRecording {
  const child: ChildProcess = spawn('perf', ['record', '-F', String(FREQUENCY), '-e', 'cpu-clock', '-g', '-p', String(pid), '-o', dataPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit')
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT')
      const [code, signal] = (await exited) as [number | null, string | null]
      if (code !== 0 && signal !== 'SIGINT') throw new Error(`perf record exited with ${code ?? signal}: ${stderr.trim().split('\n').at(-1)}`)
    },
  }
}

/** Reads the samples of `perf script -i dataPath` and summarizes them (`pid`: the main thread's id). */
export async function summarizePerf(dataPath: string, pid: number, topFrames = 30): Promise<PerfSummary> {
  const child = spawn('perf', ['script', '-i', dataPath], { stdio: ['ignore', 'pipe', 'ignore'] })
  const aggregator = new PerfAggregator(pid)
  for await (const line of createInterface({ input: child.stdout! })) aggregator.line(line)
  return aggregator.result(topFrames)
}

type OpenSample = { comm: string; tid: number; frames: PerfFrame[] }

/**
 * One line of `perf script`'s default output: a sample's header (`comm tid time: period event:`),
 * one of its frames (`\taddress symbol (dso)`, added to `current`), or the blank line that ends it.
 */
function parsePerfLine(line: string, current: OpenSample | undefined): OpenSample | 'end' | undefined {
  if (line.trim() === '') return 'end'
  if (line.startsWith('\t') || line.startsWith(' ')) {
    const frame = /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(line)
    if (frame !== null && current !== undefined) current.frames.push({ symbol: frame[1]!.replace(/\+0x[0-9a-f]+$/, ''), dso: frame[2]! })
    return undefined
  }
  const header = /^(.+?)\s+(\d+)\s+[\d.]+:/.exec(line)
  return header === null ? undefined : { comm: header[1]!.trim(), tid: Number(header[2]), frames: [] }
}

const GC = /Scavenge|MarkCompact|ConcurrentMarking|IncrementalMarking|Sweeper|Heap::CollectGarbage|MinorMC/
const MALLOC = /^(_int_malloc|_int_free|malloc|free|cfree|calloc|realloc|malloc_consolidate|unlink_chunk|sysmalloc|__libc_)|^__mem(set|move|cpy)/

/** What a main-thread sample is doing, by its leaf frame (and a collector anywhere below it). */
export function categoryOf(frames: readonly PerfFrame[]): string {
  if (frames.some((f) => GC.test(f.symbol))) return 'garbage collection'
  const leaf = frames[0]
  if (leaf === undefined) return 'unknown'
  if (MALLOC.test(leaf.symbol)) return 'malloc, free, memset, memcpy'
  if (leaf.dso.includes('kernel')) return 'kernel (system calls, interrupts)'
  if (leaf.symbol.startsWith('JS:')) return 'JavaScript (JIT-compiled)'
  if (leaf.symbol.startsWith('Builtins_')) return "V8's builtins"
  if (/\.node$/.test(leaf.dso)) return `native addon ${leaf.dso.split('/').at(-1)}`
  if (/\/node$/.test(leaf.dso)) return 'V8 and Node runtime (C++)'
  return leaf.dso.split('/').at(-1) ?? 'unknown'
}

/** A JavaScript frame's name: the function and its place, without the JIT tier mark and the repo path. */
function jsFrameName(symbol: string): string | undefined {
  if (!symbol.startsWith('JS:')) return undefined
  return symbol.slice(3).replace(/^[*~^+]/, '').replace(/file:\/\/\/\S*?\/(dist\/)?(src|node_modules|bench)\//, '$2/').trim() || '(anonymous)'
}

function groupOf(sample: PerfSample, pid: number): string {
  if (sample.tid === pid) return 'main'
  if (sample.comm.startsWith('mosaic-')) return sample.comm
  if (sample.frames.some((f) => f.symbol.includes('PlatformWorkerThread'))) return 'v8-helpers'
  if (sample.frames.some((f) => f.symbol.includes('ThreadPoolWork') || f.symbol === 'worker' || f.symbol.startsWith('uv__work'))) return 'libuv'
  if (sample.frames.some((f) => f.symbol.includes('worker::Worker'))) return 'worker threads (other)'
  return 'other'
}

function helperWork(frames: readonly PerfFrame[]): string {
  const names = frames.map((f) => f.symbol).join(' ')
  if (/Compil|TurboFan|Turbofan/.test(names)) return 'TurboFan compiling'
  if (/Scaveng|MinorMC/.test(names)) return 'young collections'
  if (/Marking/.test(names)) return 'marking'
  if (/Sweep/.test(names)) return 'sweeping'
  return 'other'
}

export class PerfAggregator {
  private samples = 0
  private readonly threads = new Map<string, number>()
  private readonly helpers = new Map<string, number>()
  private readonly categories = new Map<string, number>()
  private readonly frames = new Map<string, number>()

  /** The sample whose frames are being read. */
  private open: OpenSample | undefined

  constructor(private readonly pid: number) {}

  /** Takes the next line of `perf script`'s output. */
  line(text: string): void {
    const parsed = parsePerfLine(text, this.open)
    if (parsed === 'end') {
      if (this.open !== undefined) this.add(this.open)
      this.open = undefined
    } else if (parsed !== undefined) this.open = parsed
  }

  private add(sample: PerfSample): void {
    this.samples++
    const group = groupOf(sample, this.pid)
    bump(this.threads, group)
    if (group === 'v8-helpers') bump(this.helpers, helperWork(sample.frames))
    if (group !== 'main') return
    bump(this.categories, categoryOf(sample.frames))
    const seen = new Set<string>()
    for (const frame of sample.frames) {
      const name = jsFrameName(frame.symbol)
      if (name === undefined || seen.has(name)) continue
      seen.add(name)
      bump(this.frames, name)
    }
  }

  result(topFrames: number): PerfSummary {
    this.line('')
    const sorted = (map: Map<string, number>) => Object.fromEntries([...map].sort((a, b) => b[1] - a[1]))
    return {
      samples: this.samples,
      threads: sorted(this.threads),
      helpers: sorted(this.helpers),
      mainCategories: sorted(this.categories),
      mainFrames: [...this.frames].sort((a, b) => b[1] - a[1]).slice(0, topFrames),
    }
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

/** The summary as text: shares of all samples by thread, of the helpers' and of the main thread's. */
export function formatPerfSummary(summary: PerfSummary, included?: number): string {
  const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1).padStart(5)}%`
  const main = summary.threads.main ?? 0
  const helpers = Object.values(summary.helpers).reduce((a, b) => a + b, 0)
  const lines = [`${summary.samples} samples at ${FREQUENCY} Hz (~${(summary.samples / FREQUENCY).toFixed(1)} s of CPU)${included === undefined || included === 0 ? '' : `, ${((1000 * summary.samples) / FREQUENCY / included).toFixed(3)} ms of CPU per included transaction`}`, 'by thread:']
  for (const [group, n] of Object.entries(summary.threads)) lines.push(`  ${pct(n, summary.samples)} ${group}`)
  if (helpers > 0) {
    lines.push("V8's helper threads:")
    for (const [work, n] of Object.entries(summary.helpers)) lines.push(`  ${pct(n, helpers)} ${work}`)
  }
  lines.push('main thread, by what runs at the sample:')
  for (const [category, n] of Object.entries(summary.mainCategories)) lines.push(`  ${pct(n, main)} ${category}`)
  lines.push('main thread, JavaScript frames (inclusive):')
  for (const [frame, n] of summary.mainFrames) lines.push(`  ${pct(n, main)} ${frame}`)
  return lines.join('\n')
}
