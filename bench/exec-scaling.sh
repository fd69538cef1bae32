#!/usr/bin/env bash
# `npm run bench:exec-scaling`: how the parallel executor scales with its worker threads, for a
# machine with more cores than the 2 of this project's own (issue 13, "Scaling beyond 2 cores").
#
# bench:exec at full size on `transfers` and `erc20`, with:
# - `sequential`: the sequential executor, the reference;
# - `sequential-x<N>`: N sequential executors at once in N processes, nothing shared: what the
#   machine gives N threads at best, the ceiling of any N-thread executor;
# - `parallel-<N>+all`: the parallel executor on N worker threads with every block on the workers
#   (none on the sequential fallback), so its main thread only coordinates. The table gives the
#   workers' busy time per transaction and the main thread's CPU per transaction: what adding a
#   thread costs, and what no number of threads removes.
# N = 1, 2, 4, 8, 15 (THREADS="…" to change); RUNS timed runs per variant (default 2), the median
# reported. Each workload is written on its own as it ends (exec-scaling-<workload>.json), then
# both together as exec-scaling.json, the README's table. Usage: bench/exec-scaling.sh [OUT_DIR]
# (default bench/results); QUICK=1 runs the quick size, CEILINGS=0 leaves out the sequential-x<N> rows.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath "${1:-bench/results}")
threads=${THREADS:-1 2 4 8 15}
variants=sequential
if [ "${CEILINGS:-1}" != 0 ]; then
  for n in $threads; do if [ "$n" -ge 2 ]; then variants+=",sequential-x$n"; fi; done
fi
for n in $threads; do variants+=",parallel-$n+all"; done
# EXTRA=",parallel-15+main" adds variants: that one is what EXECUTOR=parallel does on 16 cores.
variants+=${EXTRA:-}
quick=()
if [ -n "${QUICK:-}" ]; then quick=(--quick); fi
mkdir -p "$out"
for workload in transfers erc20; do
  node --import tsx bench/exec.ts "${quick[@]}" --workloads "$workload" --only "$variants" --runs "${RUNS:-2}" \
    --out "$out/exec-scaling-$workload.json"
done
# The command as run, with the settings that differ from the defaults (the README quotes it).
command="npm run bench:exec-scaling"
for setting in QUICK CEILINGS THREADS RUNS EXTRA; do
  if [ -n "${!setting:-}" ]; then command="$setting=\"${!setting}\" $command"; fi
done
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs"
  const [out, command, ...workloads] = process.argv.slice(1)
  const parts = workloads.map((w) => JSON.parse(readFileSync(`${out}/exec-scaling-${w}.json`, "utf8")))
  const merged = { ...parts[0], bench: "exec-scaling", args: [], command, rows: parts.flatMap((p) => p.rows), ratios: parts.flatMap((p) => p.ratios) }
  writeFileSync(`${out}/exec-scaling.json`, JSON.stringify(merged, null, 2) + "\n")
  console.log(`wrote ${out}/exec-scaling.json`)
' "$out" "$command" transfers erc20
rm -f "$out"/exec-scaling-transfers.json "$out"/exec-scaling-erc20.json
