/**
 * Piscina pools whose worker threads load native addons (libsecp256k1, LMDB), started and closed
 * so that no worker is terminated inside one. Terminating a thread while it loads such an addon,
 * or while a task runs in it, aborts the whole process: node-addon-api turns the failed call
 * into a C++ exception that nothing catches ("terminate called after throwing an instance of
 * 'Napi::Error'", SIGABRT — seen once in CI, when a test stopped a node ~0.1 s after starting it,
 * while its sender-recovery thread was still loading libsecp256k1).
 */
import { Piscina } from 'piscina'

const PRELOAD_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader'])
const isTsx = (specifier: string) => specifier === 'tsx' || specifier.startsWith('tsx/')

/**
 * This process's Node flags for a worker thread, less any that preload tsx (`--import tsx`, as
 * the test runner and `bench:exec` start their processes): every worker entry is plain
 * JavaScript that loads its TypeScript itself where it has to (`importSibling` in
 * `typescript-module.mjs`). A worker that inherited the preload slowed the thread that started
 * it, idle as it was: beside the parallel executor's two idle workers so started, the sequential
 * executor ran 10,000 transfers on the main thread with 1,600–2,000 minor page faults (`perf`:
 * in `malloc`, and in V8's marking of array buffers) and 130–240 ms of CPU, against 440–560
 * faults and 116–132 ms beside the same workers without the preload (tsx registered by
 * `importSibling`), and ~400–650 faults and 117–175 ms with no workers at all (`bench:exec`
 * `transfers`, five runs each). The node run from `dist/` preloads nothing; tests and
 * `bench:exec` run from the sources with `--import tsx`.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!
    const eq = flag.indexOf('=')
    if (eq > 0 && PRELOAD_FLAGS.has(flag.slice(0, eq)) && isTsx(flag.slice(eq + 1))) continue
    if (PRELOAD_FLAGS.has(flag) && i + 1 < execArgv.length && isTsx(execArgv[i + 1]!)) {
      i++
      continue
    }
    kept.push(flag)
  }
  return kept
}

/** The task every such worker module exports: it answers once the module, addons and all, is loaded. */
export const READY_TASK = 'ready'

export type NativeWorkerPool = {
  readonly pool: Piscina
  /** Resolves once every thread has loaded its module. */
  readonly started: Promise<void>
  /** Waits until every thread has loaded, lets running tasks finish, then stops the threads. */
  close(): Promise<void>
}

/**
 * A pool of `threads` threads, all started at once. Each is handed a `READY_TASK` straight away:
 * a thread takes tasks only once its module has loaded, and piscina hands concurrent tasks to the
 * least busy threads, so when all have answered every thread is past loading.
 *
 * A thread that dies is replaced by piscina, and the tasks it held fail. One that fails between
 * tasks (an uncaught exception on its event loop) is reported on the pool's `error` event, which
 * with no listener would throw in this thread and stop the process: it is logged, naming `label`.
 */
export function startNativeWorkerPool(options: ConstructorParameters<typeof Piscina>[0] & { readonly threads: number; readonly label: string }): NativeWorkerPool {
  const { threads, label, ...rest } = options
  const pool = new Piscina({ execArgv: workerExecArgv(), ...rest, minThreads: threads, maxThreads: threads, idleTimeout: Number.POSITIVE_INFINITY })
  pool.on('error', (error: unknown) => console.error(`${label}: a worker thread failed between tasks (piscina replaces it):`, error))
  const started = Promise.all(Array.from({ length: threads }, () => pool.run(null, { name: READY_TASK }))).then(() => undefined)
  // A thread that fails to start fails its tasks too; close() still stops the pool.
  started.catch(() => {})
  return {
    pool,
    started,
    async close() {
      await started.catch(() => {})
      // Graceful: tasks under way finish first, then the (idle) threads are stopped.
      await pool.close()
    },
  }
}
