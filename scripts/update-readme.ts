/**
 * Rewrites the generated parts of README.md: the configuration table (from the option table in
 * src/config/config.ts) and the benchmark tables from bench/results/<name>.json where present.
 * `npm run readme` runs it; test/readme.test.ts fails when the README is out of date.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { formatConfigMarkdown } from '../src/config/config.ts'

export function replaceSection(text: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} section`)
  return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`
}

type BenchJSON = {
  bench: string
  quick: boolean
  /** Absent in results written before 2026-12-03. */
  args?: string[]
  /** The command as run, where a script ran it with settings of its own (`bench/exec-scaling.sh`). */
  command?: string
  node: string
  cpus: number
  date: string
  rows: { workload: string; variant: string; metric: string; value: number }[]
  ratios: { workload: string; name: string; value: number }[]
}

const METRIC_LABELS: Record<string, string> = { tx_per_s: 'tx/s', mgas_per_s: 'Mgas/s', aborts_per_block: 'aborts/block', parallel_blocks: 'parallel blocks', main_us_per_tx: 'main-thread µs/tx', worker_us_per_tx: 'worker µs/tx', worker_cpu_us_per_tx: 'worker CPU µs/tx', main_cpu_us_per_tx: 'main thread CPU µs/tx', keys_per_s: 'keys/s', exec_tx_per_s: 'exec tx/s', max_lag_blocks: 'max lag (blocks)', ms_per_block: 'ms/block', workers_ms_per_block: 'workers ms/block', ms_per_chunk: 'both ends ms/chunk', witness_bytes_per_block: 'bytes/block', raw_bytes_per_block: 'raw bytes/block', bytes_per_key: 'bytes/key', raw_bytes_per_key: 'raw bytes/key', data_bytes_per_tx: 'data bytes/tx', l1_bytes_per_tx: 'L1 bytes/tx', l1_gas_per_tx: 'L1 gas/tx', blob_gas_per_tx: 'blob gas/tx', blob_fill: 'blob fill', p50_ms: 'p50 ms', p90_ms: 'p90 ms', p99_ms: 'p99 ms', cpu_ms_per_tx: 'CPU ms/tx', main_thread_cpu_ms_per_tx: 'main thread CPU ms/tx', peak_rss_mb: 'peak RSS MB', peak_pss_mb: 'peak PSS MB', block_interval_ms: 'block ms', bytes_per_account: 'heap B/account', estimate_bytes_per_account: 'estimated B/account', startup_s: 'startup s', rss_anon_start_mb: 'RssAnon MiB at start', rss_anon_mb: 'RssAnon MiB after load', restart_s: 'restart s', rss_anon_restart_mb: 'RssAnon MiB at restart', offered_tx_per_s: 'offered tx/s', rss_mb_after_warmup: 'RSS MB after warm-up', rss_growth_pct: 'RSS growth %', rss_anon_mb_after_warmup: 'RssAnon MB after warm-up', rss_anon_growth_pct: 'RssAnon growth %', peak_rss_anon_mb: 'peak RssAnon MB', rss_file_growth_mb: 'RssFile growth MB', data_growth_mb: 'data dir growth MB', heap_mb_after_warmup: 'heap MB after warm-up', heap_growth_pct: 'heap growth %', workers_heap_mb: 'workers heap MB', external_mb: 'external MB', bytes_per_block: 'bytes/block', bytes_per_tx: 'bytes/tx', response_kb: 'answer KB' }

export function formatBenchMarkdown(result: BenchJSON, command: string): string {
  const metrics = [...new Set(result.rows.map((r) => r.metric))]
  const lines = [
    `Measured ${result.date.slice(0, 10)} on ${result.cpus} cores, Node ${result.node}${result.quick ? ' (quick size)' : ''}, with \`${command}\`:`,
    '',
    `| workload | variant | ${metrics.map((m) => METRIC_LABELS[m] ?? m).join(' | ')} |`,
    `|---|---|${metrics.map(() => '---:').join('|')}|`,
  ]
  const keys = [...new Set(result.rows.map((r) => `${r.workload}\u0000${r.variant}`))]
  for (const key of keys) {
    const [workload, variant] = key.split('\u0000') as [string, string]
    const cells = metrics.map((m) => {
      const row = result.rows.find((r) => r.workload === workload && r.variant === variant && r.metric === m)
      return row === undefined ? '' : row.value >= 100 ? row.value.toFixed(0) : row.value.toFixed(2)
    })
    lines.push(`| ${workload} | ${variant} | ${cells.join(' | ')} |`)
  }
  lines.push('', '| workload | ratio | value |', '|---|---|---:|')
  // Two significant digits for small ratios (blobs/calldata gas is ~0.01), two decimals otherwise.
  for (const r of result.ratios) lines.push(`| ${r.workload} | ${r.name} | ${Math.abs(r.value) < 0.1 ? r.value.toPrecision(2) : r.value.toFixed(2)}× |`)
  return lines.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let readme = readFileSync('README.md', 'utf8')
  readme = replaceSection(readme, 'config-table', formatConfigMarkdown())
  for (const name of ['e2e', 'exec', 'exec-scaling', 'exec-node16', 'exec-shipping', 'state', 'admission', 'root', 'witness', 'l1', 'accounts', 'history', 'tools', 'soak']) {
    const path = `bench/results/${name}.json`
    if (!existsSync(path)) continue
    const result = JSON.parse(readFileSync(path, 'utf8')) as BenchJSON
    const args = result.args ?? (result.quick ? ['--quick'] : [])
    // A bench run by a script with settings of its own records the command as it was run.
    const command = result.command ?? `npm run bench:${name}${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
    readme = replaceSection(readme, `bench-${name}`, formatBenchMarkdown(result, command))
  }
  writeFileSync('README.md', readme)
}
