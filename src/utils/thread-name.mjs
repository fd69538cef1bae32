// Names the calling thread for the operating system (Linux: /proc/thread-self/comm, at most 15
// bytes), so that `top -H`, `ps -L` and bench:e2e's per-thread CPU tell mosaic's worker threads
// apart; node names them all "node". Plain JavaScript: every worker entry loads it first,
// including those that load no TypeScript. Elsewhere, or where /proc is read-only, it does nothing.
import { writeFileSync } from 'node:fs'

/** @param {string} name */
export function nameThread(name) {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15))
  } catch {
    // Not Linux, or not allowed: the thread keeps its name.
  }
}
