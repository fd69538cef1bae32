/**
 * One node per data directory. Two processes on one directory would both append blocks: the
 * LMDB environments would take their write transactions in turn, but the static files
 * (`static-files.ts`) would interleave records, and a store that opens cuts those files back to
 * what its last committed pointers name, under a process still appending to them. geth and reth
 * refuse a data directory another process holds; so does mosaic, with a `LOCK` file naming its
 * holder: the process id and, on Linux, when that process started (so that a process id reused
 * after a crash is not taken for the holder). A holder that is gone — killed with -9, crashed —
 * leaves the file behind, and the next node takes the directory over.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MosaicError } from '../errors.ts'

export const LOCK_FILE = 'LOCK'

export type DataDirLock = {
  /** Gives the directory up (the file goes, if it is still this holder's). */
  release(): void
}

/** When process `pid` started, in clock ticks since boot (/proc/PID/stat), or '' where there is no /proc. */
function startTimeOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux' ? undefined : ''
  }
}

function holderOf(pid: number): string | undefined {
  const started = startTimeOf(pid)
  return started === undefined ? undefined : `${pid} ${started}`
}

/** Whether the process the lock file names is still running: the same process id, started at the same time. */
function isRunning(holder: string): boolean {
  const pid = Number(holder.split(' ')[0])
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  return holderOf(pid) === holder
}

/** Takes `dataDir` for this process, or throws `CONFIG_INVALID` naming the process that holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE)
  const me = holderOf(process.pid) ?? `${process.pid} `
  // Twice at most: the second try follows the removal of a lock its holder left behind.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, me, { flag: 'wx' })
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8') === me) unlinkSync(path)
          } catch {
            // Gone already.
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let holder: string
    try {
      holder = readFileSync(path, 'utf8')
    } catch {
      continue // released meanwhile
    }
    if (isRunning(holder)) {
      const pid = holder.split(' ')[0]
      const who = pid === String(process.pid) ? 'this process (opened twice)' : `another process (pid ${pid})`
      throw new MosaicError('CONFIG_INVALID', `Data dir ${dataDir} is in use by ${who}: stop it, or give this node another DATA_DIR (--data-dir)`)
    }
    try {
      unlinkSync(path)
    } catch {
      // Another node took the stale lock away first; the next try tells.
    }
  }
  throw new MosaicError('CONFIG_INVALID', `Data dir ${dataDir}: could not take its ${LOCK_FILE} file (another node is starting on it?)`)
}
