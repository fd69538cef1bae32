/**
 * Piscina pools whose worker threads load native addons (libsecp256k1, LMDB), started and closed
 * so that no worker is terminated inside one. Terminating a thread while it loads such an addon,
 * or while a task runs in it, aborts the whole process: node-addon-api turns the failed call
 * into a C++ exception that nothing catches ("terminate called after throwing an instance of
 * 'Napi::Error'", SIGABRT — seen once in CI, when a test stopped a node ~0.1 s after starting it,
 * while its sender-recovery thread was still loading libsecp256k1).
 */
import { Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'

const PRELOAD_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader'])
const isTsx = (specifier: string) => specifier === 'tsx' || specifier.startsWith('tsx/')

/** `execArgv` less the flags that preload tsx: `--import tsx`, `--require tsx/cjs` and the like, with a space or `=`. */
export function withoutTsxPreload(execArgv: readonly string[]): string[] {
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

/**
 * The `execArgv` to start a worker thread with: `undefined` (Node's default: the thread inherits
 * this process's flags) unless they preload tsx (`--import tsx`, as the test runner and
 * `bench:exec` start their processes); then the same flags less the preload, and less those a
 * worker refuses when they are named (V8's, such as `--max-old-space-size` or
 * `--perf-basic-prof`, and the process-wide ones such as `--title`: `new Worker` throws
 * ERR_WORKER_INVALID_EXEC_ARGV on them, though they apply to every thread anyway).
 *
 * Every worker entry is plain JavaScript that loads its TypeScript itself where it has to
 * (`importSibling` in `typescript-module.mjs`). A worker that inherited the preload slowed the
 * thread that started it, idle as it was: beside the parallel executor's two idle workers so
 * started, the sequential executor ran 10,000 transfers on the main thread with 1,600–2,000
 * minor page faults (`perf`: in `malloc`, and in V8's marking of array buffers) and 130–240 ms of
 * CPU, against 440–560 faults and 116–132 ms beside the same workers without the preload (tsx
 * registered by `importSibling`), and ~400–650 faults and 117–175 ms with no workers at all
 * (`bench:exec` `transfers`, five runs each). The node run from `dist/` preloads nothing.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] | undefined {
  const kept = withoutTsxPreload(execArgv)
  if (kept.length === execArgv.length) return undefined
  return kept.filter((flag) => !refusedByWorkers(kept).has(flag))
}

// A flag no worker accepts, so that the probe below always throws and never starts a thread.
const SENTINEL = '--max-old-space-size=1'
const refused = new Map<string, ReadonlySet<string>>()

/**
 * The flags of `flags` that `new Worker` refuses, from its own answer: handed a list that holds
 * a flag it always refuses, it throws before starting a thread, naming every flag it refused
 * ("Initiated Worker with invalid execArgv flags: a, b"). Node has no other way to ask.
 */
function refusedByWorkers(flags: readonly string[]): ReadonlySet<string> {
  const key = flags.join('\0')
  let answer = refused.get(key)
  if (answer !== undefined) return answer
  answer = new Set()
  try {
    new Worker('', { eval: true, execArgv: [...flags, SENTINEL] })
  } catch (error) {
    const message = error instanceof Error ? error.message : ''
    const list = message.slice(message.indexOf(': ') + 2)
    if ((error as { code?: string }).code === 'ERR_WORKER_INVALID_EXEC_ARGV') answer = new Set(list.split(', ').filter((flag) => flag !== SENTINEL))
  }
  refused.set(key, answer)
  return answer
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
  const execArgv = workerExecArgv()
  const pool = new Piscina({ ...(execArgv === undefined ? {} : { execArgv }), ...rest, minThreads: threads, maxThreads: threads, idleTimeout: Number.POSITIVE_INFINITY })
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
