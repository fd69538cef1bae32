/**
 * What every benchmark shares (BENCHMARKS.md, "Output, the same for every benchmark"): command
 * line parsing (`--quick`, `--out <path>`, `--only <variant>`, `--workloads <workload>`, `--profile <dir>`), the
 * median, and the report —
 * printed as a table and written as JSON to `bench/results/<name>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export type BenchArgs = {
  /** The quick size: must finish in under a minute. */
  readonly quick: boolean
  /** Where the JSON goes; `bench/results/<name>.json` unless `--out` names another path. */
  readonly out: string
  /** True when `--out` was given explicitly. */
  readonly outGiven: boolean
  /** Run only these variants (`--only a,b`); undefined runs every variant. */
  readonly only: readonly string[] | undefined
  /** Run only these workloads (`--workloads a,b`); undefined runs every workload. */
  readonly workloads: readonly string[] | undefined
  /** `--profile <dir>`: write CPU profiles of the timed sections there. */
  readonly profile: string | undefined
}

const USAGE = 'usage: [--quick] [--out <path>] [--only <variant>[,…]] [--workloads <workload>[,…]] [--profile <dir>]'

/** The default output path of benchmark `name`, next to this file. */
export function defaultResultPath(name: string): string {
  return fileURLToPath(new URL(`./results/${name}.json`, import.meta.url))
}

function list(value: string): string[] {
  return value.split(',').filter((v) => v.length > 0)
}

/** Throws unless every name in `given` (from option `option`) is one of `known`. */
export function checkNames(option: string, given: readonly string[] | undefined, known: readonly string[]): void {
  for (const name of given ?? []) {
    if (!known.includes(name)) throw new Error(`${option}: unknown name ${JSON.stringify(name)} (known: ${known.join(', ')})`)
  }
}

export function parseBenchArgs(name: string, argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  let quick = false
  let out: string | undefined
  let only: string[] | undefined
  let workloads: string[] | undefined
  let profile: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') continue // npm run bench:x -- --quick passes the separator through
    if (arg === '--quick') quick = true
    else if (arg === '--out' || arg === '--only' || arg === '--workloads' || arg === '--profile') {
      const value = argv[++i]
      if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value; ${USAGE}`)
      if (arg === '--out') out = resolve(value)
      else if (arg === '--profile') profile = resolve(value)
      else if (arg === '--workloads') workloads = list(value)
      else only = list(value)
    } else if (arg.startsWith('--out=')) out = resolve(arg.slice('--out='.length))
    else if (arg.startsWith('--only=')) only = list(arg.slice('--only='.length))
    else if (arg.startsWith('--workloads=')) workloads = list(arg.slice('--workloads='.length))
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`)
  }
  return { quick, out: out ?? defaultResultPath(name), outGiven: out !== undefined, only, workloads, profile }
}

/**
 * Takes a bench's own integer option, `--name N` or `--name=N` (from `min` to `max`), out of the
 * command line's arguments: its value (`fallback` when absent) and the arguments left, for
 * `parseBenchArgs`.
 */
export function takeIntegerOption(argv: readonly string[], name: string, min: number, max: number, fallback: number): { value: number; rest: string[] } {
  const { value: text, rest } = takeOption(argv, name)
  if (text === undefined) return { value: fallback, rest }
  if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`--${name} needs an integer from ${min} to ${max}`)
  return { value: Number(text), rest }
}

/** `--<name> <value>` or `--<name>=<value>` taken out of `argv` (the last one given wins); `rest` is the other arguments. */
export function takeOption(argv: readonly string[], name: string): { value: string | undefined; rest: string[] } {
  let value: string | undefined
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg !== `--${name}` && !arg.startsWith(`--${name}=`)) {
      rest.push(arg)
      continue
    }
    const text = arg === `--${name}` ? argv[++i] : arg.slice(name.length + 3)
    if (text === undefined || text === '' || text.startsWith('--')) throw new Error(`--${name} needs a value`)
    value = text
  }
  return { value, rest }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Per key, the median of the values the rounds (or runs) gave it, in the order the first round
 * gave them: figures measured several times over, and ratios taken within each round and then
 * across rounds, so that a drift of this machine's speed between rounds cancels in each ratio.
 */
export function medianByKey<T extends { value: number }>(perRound: readonly (readonly T[])[], key: (item: T) => string): T[] {
  const values = new Map<string, { first: T; values: number[] }>()
  for (const items of perRound) {
    for (const item of items) {
      const entry = values.get(key(item)) ?? { first: item, values: [] }
      entry.values.push(item.value)
      values.set(key(item), entry)
    }
  }
  return [...values.values()].map(({ first, values }) => ({ ...first, value: median(values) }))
}

export type BenchRow = { workload: string; variant: string; metric: string; value: number }
export type BenchRatio = { workload: string; name: string; value: number }

/** The JSON shape of BENCHMARKS.md. */
export type BenchReport = {
  bench: string
  quick: boolean
  /** The command line's arguments after the script (the README gives the command the table came from). */
  args: string[]
  node: string
  cpus: number
  date: string
  rows: BenchRow[]
  ratios: BenchRatio[]
}

export type CreateReportParameters = {
  bench: string
  quick: boolean
  rows: BenchRow[]
  ratios: BenchRatio[]
}

export function createReport({ bench, quick, rows, ratios }: CreateReportParameters): BenchReport {
  return {
    bench,
    quick,
    args: process.argv.slice(2),
    node: process.version,
    cpus: availableParallelism(),
    date: new Date().toISOString(),
    rows,
    ratios,
  }
}

/**
 * `A/B` of one metric for every workload where both variants have a row. With `metricInName`
 * the ratio is named `A/B <metric>` — for a benchmark that reports ratios of several metrics.
 */
export function ratiosOf(
  rows: readonly BenchRow[],
  metric: string,
  a: string,
  b: string,
  { metricInName = false }: { metricInName?: boolean } = {},
): BenchRatio[] {
  const ratios: BenchRatio[] = []
  const workloads = [...new Set(rows.map((r) => r.workload))]
  for (const workload of workloads) {
    const find = (variant: string) =>
      rows.find((r) => r.workload === workload && r.variant === variant && r.metric === metric)
    const ra = find(a)
    const rb = find(b)
    if (ra !== undefined && rb !== undefined && rb.value !== 0) {
      ratios.push({ workload, name: metricInName ? `${a}/${b} ${metric}` : `${a}/${b}`, value: ra.value / rb.value })
    }
  }
  return ratios
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 4
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function printTable(header: readonly string[], body: readonly (readonly string[])[], numeric: readonly boolean[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (numeric[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const row of body) console.log(line(row))
}

/**
 * One table row per workload and variant, one column per metric (in first-seen order), then
 * the ratios.
 */
export function printReport(report: BenchReport, metricLabels: Readonly<Record<string, string>> = {}): void {
  const metrics = [...new Set(report.rows.map((r) => r.metric))]
  const keys: { workload: string; variant: string }[] = []
  for (const r of report.rows) {
    if (!keys.some((k) => k.workload === r.workload && k.variant === r.variant)) {
      keys.push({ workload: r.workload, variant: r.variant })
    }
  }
  console.log(
    `\n${report.bench}${report.quick ? ' (quick)' : ''} — node ${report.node}, ${report.cpus} cpus, ${report.date}`,
  )
  printTable(
    ['workload', 'variant', ...metrics.map((m) => metricLabels[m] ?? m)],
    keys.map(({ workload, variant }) => [
      workload,
      variant,
      ...metrics.map((m) => {
        const row = report.rows.find((r) => r.workload === workload && r.variant === variant && r.metric === m)
        return row === undefined ? '-' : formatNumber(row.value)
      }),
    ]),
    [false, false, ...metrics.map(() => true)],
  )
  if (report.ratios.length > 0) {
    console.log('')
    printTable(
      ['workload', 'ratio', 'value'],
      report.ratios.map((r) => [r.workload, r.name, `${formatNumber(r.value)}×`]),
      [false, false, true],
    )
  }
}

export function writeReport(report: BenchReport, path: string): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\nwrote ${path}`)
}
