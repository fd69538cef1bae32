/**
 * Listening on a configured address, with a failure the operator can act on: the address, the
 * option that chose it, and why in words (a port in use is the common case: a second `npm
 * start`, or anvil on 8545), as a `CONFIG_INVALID` error that the CLI prints on one line —
 * not `listen EADDRINUSE` with a stack trace.
 */
import type { Server } from 'node:net'
import { MosaicError } from '../errors.ts'

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the port is in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no such address on this machine',
}

/** `server.listen(port, host)`, resolved once it listens; rejects with a `CONFIG_INVALID` error naming `option`. */
export function listenOn(server: Pick<Server, 'listen' | 'once' | 'off'>, port: number, host: string, option: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = REASONS[error.code ?? ''] ?? error.message
      reject(new MosaicError('CONFIG_INVALID', `cannot listen on ${host}:${port} (${option}): ${why}`, { cause: error }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
}
