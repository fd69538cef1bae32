import { readdirSync, readFileSync } from 'node:fs'

/** The names of this process's threads, as `top -H` and `ps -L` show them (Linux). */
export function threadNames(): string[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()]
    } catch {
      return [] // exited meanwhile
    }
  })
}
