/**
 * Child processes that never outlive this one: each runs under a `/bin/sh` watchdog that SIGTERMs
 * it once our end of its stdin closes — when this process exits, even killed with SIGKILL — so no
 * child is left holding a port or a CPU.
 */
import { type ChildProcess, spawn } from 'node:child_process'

/** Runs "$@" and SIGTERMs it once stdin reaches EOF; exits when the command does. */
const WATCHDOG = 'exec 3<&0; "$@" </dev/null & pid=$!; (read _ <&3; kill $pid 2>/dev/null) & wait $pid'

/** Start `argv` under the watchdog, its stdout and stderr piped to us. */
export function spawnWatched(argv: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const options = { stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'], ...(env === undefined ? {} : { env }) }
  if (process.platform === 'win32') return spawn(argv[0]!, argv.slice(1), options)
  return spawn('/bin/sh', ['-c', WATCHDOG, 'watchdog', ...argv], options)
}

/** Stop a watched child (SIGTERM through its watchdog) and wait for it to exit. */
export async function stopWatched(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  if (child.stdin !== null && process.platform !== 'win32') child.stdin.end()
  else child.kill('SIGTERM')
  await exited
}
