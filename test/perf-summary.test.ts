import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { categoryOf, formatPerfSummary, PerfAggregator, type PerfFrame } from '../bench/perf.ts'

// `perf script` output as `bench:e2e --perf` reads it (shortened from a real recording of the sequencer, pid 100).
const SCRIPT = `node   100 63037.895822:    1003009 cpu-clock:
\tffffffff82240c89 pvm_irq_enable+0x19 ([kernel.kallsyms])
\t7f89bf962a50 JS:*decodeAndValidate file:///repo/dist/src/mempool/validate.js:79:33+0x790 (/tmp/perf-100.map)
\t7f89bf962b50 JS:*post file:///repo/dist/src/rpc/server.js:116:22+0x20 (/tmp/perf-100.map)
\t7badaf node::InternalCallbackScope::Close+0x28f (/usr/bin/node)

node   100 63037.896822:    1003009 cpu-clock:
\t7f89bf962c50 JS:*keccak256 file:///repo/dist/src/crypto/crypto.js:4:19+0x10 (/tmp/perf-100.map)
\t7f89bf962a50 JS:*decodeAndValidate file:///repo/dist/src/mempool/validate.js:79:33+0x790 (/tmp/perf-100.map)
\t7f89bf962a50 JS:*decodeAndValidate file:///repo/dist/src/mempool/validate.js:79:33+0x700 (/tmp/perf-100.map)

node   100 63037.897822:    1003009 cpu-clock:
\t1234 _int_malloc+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t7f89bf962b50 JS:*post file:///repo/dist/src/rpc/server.js:116:22+0x20 (/tmp/perf-100.map)

node   100 63037.898822:    1003009 cpu-clock:
\t2345 v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>+0x5 (/usr/bin/node)
\t2346 v8::internal::Heap::CollectGarbage+0x5 (/usr/bin/node)

mosaic-recover   105 63037.896822:    1003009 cpu-clock:
\t23a42 secp256k1_ecdsa_recover+0x92 (/repo/node_modules/secp256k1/prebuilds/linux-x64/secp256k1.glibc.node)

node   102 63037.899822:    1003009 cpu-clock:
\t3456 v8::internal::compiler::GraphReducer::ReduceTop+0x5 (/usr/bin/node)
\t3457 v8::internal::OptimizingCompileDispatcher::CompileTask::RunInternal+0x5 (/usr/bin/node)
\t3458 node::(anonymous namespace)::PlatformWorkerThread+0x5 (/usr/bin/node)

node   103 63037.899822:    1003009 cpu-clock:
\t4567 mdb_txn_commit+0x5 (/repo/node_modules/@lmdb/lmdb-linux-x64/node.abi115.glibc.node)
\t4568 node::ThreadPoolWork::ScheduleWork()::{lambda(uv_work_s*)#1}::_FUN+0x5 (/usr/bin/node)
\t4569 worker+0x5 (/usr/bin/node)
`

function aggregate(text: string, pid = 100): PerfAggregator {
  const aggregator = new PerfAggregator(pid)
  for (const line of text.split('\n')) aggregator.line(line)
  return aggregator
}

describe('bench:e2e --perf summary', () => {
  it('behavior: samples are grouped by thread: the main thread by its id, named threads, V8 helpers and the libuv pool by their stacks', () => {
    const summary = aggregate(SCRIPT).result(10)
    assert.equal(summary.samples, 7)
    assert.deepEqual(summary.threads, { main: 4, 'mosaic-recover': 1, 'v8-helpers': 1, libuv: 1 })
    assert.deepEqual(summary.helpers, { 'TurboFan compiling': 1 })
    // Another main thread id: none of the samples is the main thread's.
    assert.equal(aggregate(SCRIPT, 999).result(10).threads.main, undefined)
  })

  it('behavior: on the main thread, each sample goes to one category, and a JavaScript frame counts once per sample however often it recurs', () => {
    const summary = aggregate(SCRIPT).result(10)
    assert.deepEqual(summary.mainCategories, {
      'kernel (system calls, interrupts)': 1,
      'JavaScript (JIT-compiled)': 1,
      'malloc, free, memset, memcpy': 1,
      'garbage collection': 1,
    })
    assert.deepEqual(Object.fromEntries(summary.mainFrames), {
      'decodeAndValidate src/mempool/validate.js:79:33': 2,
      'post src/rpc/server.js:116:22': 2,
      'keccak256 src/crypto/crypto.js:4:19': 1,
    })
    const text = formatPerfSummary(summary, 4)
    assert.match(text, /^7 samples at 997 Hz/)
    assert.match(text, /57\.1% main/)
  })

  it('behavior: a collector anywhere on the stack makes the sample a collection; else the leaf decides', () => {
    const frame = (symbol: string, dso: string): PerfFrame => ({ symbol, dso })
    assert.equal(categoryOf([frame('_int_malloc', 'libc.so.6'), frame('v8::internal::Heap::CollectGarbage', '/usr/bin/node')]), 'garbage collection')
    assert.equal(categoryOf([frame('_int_malloc', 'libc.so.6')]), 'malloc, free, memset, memcpy')
    assert.equal(categoryOf([frame('Builtins_LoadIC', '/usr/bin/node')]), "V8's builtins")
    assert.equal(categoryOf([frame('mdb_page_search', '/repo/node_modules/@lmdb/lmdb-linux-x64/node.abi115.glibc.node')]), 'native addon node.abi115.glibc.node')
  })
})
