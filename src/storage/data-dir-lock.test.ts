import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isMosaicError } from '../errors.ts'
import { LOCK_FILE, lockDataDir } from './data-dir-lock.ts'
import { LmdbStore } from './lmdb-store.ts'

const tempDir = () => mkdtempSync(join(tmpdir(), 'mosaic-lock-'))
const refused = (pattern: RegExp) => (error: unknown) => isMosaicError(error) && error.code === 'CONFIG_INVALID' && pattern.test(error.message)

/** A node process of its own that takes `dir` and says so, then waits to be killed. */
async function holdInAnotherProcess(dir: string): Promise<ChildProcess> {
  const script = `import { lockDataDir } from ${JSON.stringify(new URL('./data-dir-lock.ts', import.meta.url).href)}
lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000)`
  const file = join(dir, '..', `${dir.split('/').pop()}-holder.mjs`)
  writeFileSync(file, script)
  const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve())
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before it took the lock`)))
  })
  rmSync(file)
  return child
}

describe('the data dir lock (one node per data directory)', () => {
  it('a directory is refused while this process holds it, and free again once released', () => {
    const dir = tempDir()
    try {
      const lock = lockDataDir(dir)
      assert.match(readFileSync(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} \\d+$`))
      assert.throws(() => lockDataDir(dir), refused(/in use by this process \(opened twice\)/))
      lock.release()
      assert.equal(existsSync(join(dir, LOCK_FILE)), false)
      lockDataDir(dir).release()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('behavior: a directory another process holds is refused, naming it; once that process is killed (-9), the next node takes it over', async () => {
    const dir = tempDir()
    const holder = await holdInAnotherProcess(dir)
    try {
      assert.throws(() => lockDataDir(dir), refused(new RegExp(`in use by another process \\(pid ${holder.pid}\\)`)))
      const exited = new Promise((resolve) => holder.once('exit', resolve))
      holder.kill('SIGKILL')
      await exited
      // Its LOCK file is still there, naming a process that is gone.
      assert.match(readFileSync(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${holder.pid} `))
      const lock = lockDataDir(dir)
      assert.match(readFileSync(join(dir, LOCK_FILE), 'utf8'), new RegExp(`^${process.pid} `))
      lock.release()
    } finally {
      holder.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a LOCK naming a running process that started at another time (a process id reused) is taken over', () => {
    const dir = tempDir()
    try {
      // The parent process runs, but did not start at tick 1 after boot.
      writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 1`)
      lockDataDir(dir).release()
      // A process that has exited: its id names nothing that runs.
      const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim()
      writeFileSync(join(dir, LOCK_FILE), `${gone} 1`)
      lockDataDir(dir).release()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('an exclusive store holds the lock until it closes; stores that only read open beside it', async () => {
    const dir = tempDir()
    try {
      const store = LmdbStore.open(dir, { exclusive: true })
      assert.throws(() => LmdbStore.open(dir, { exclusive: true }), refused(/in use by this process/))
      const reader = LmdbStore.open(dir)
      await reader.close()
      assert.ok(existsSync(join(dir, LOCK_FILE)), 'closing a store that did not take the lock leaves it')
      await store.close()
      assert.equal(existsSync(join(dir, LOCK_FILE)), false)
      await LmdbStore.open(dir, { exclusive: true }).close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
