/**
 * CPU profiles of the timed sections only (`--profile <dir>`): `node --cpu-prof` would also
 * record workload generation and signing, which dwarf a fast variant's runs. Summarize the
 * written `.cpuprofile` with `bench/profile-summary.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export type SectionProfiler = {
  start(): Promise<void>
  /** Stops and writes `<dir>/<name>.cpuprofile`; returns its path. */
  stop(name: string): Promise<string>
}

export async function createSectionProfiler(dir: string): Promise<SectionProfiler> {
  mkdirSync(dir, { recursive: true })
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  // 200 µs: enough samples from a few seconds of execution.
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  return {
    async start() {
      await session.post('Profiler.start')
    },
    async stop(name) {
      const { profile } = await session.post('Profiler.stop')
      const path = join(dir, `${name}.cpuprofile`)
      writeFileSync(path, JSON.stringify(profile))
      return path
    },
  }
}
