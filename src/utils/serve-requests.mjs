// The worker side of `native-threads.ts`: a thread that answers each request message, in order,
// with the bytes `handle` returns for it (transferred, not copied). Plain JavaScript, like the
// workers that load it.
import { parentPort } from 'node:worker_threads'

/** Posted once the worker's module, native addons included, is loaded: it takes requests from then on. */
export const READY = 'ready'
/** Asks the thread to stop: it closes its port, and exits once nothing else is left to run. */
export const CLOSE = 'close'

/** @param {(request: Uint8Array) => Uint8Array} handle */
export function serveRequests(handle) {
  const port = parentPort
  if (port === null) throw new Error('serveRequests runs in a worker thread')
  port.on('message', (message) => {
    if (message === CLOSE) {
      port.close()
      return
    }
    let answer
    try {
      answer = handle(message)
    } catch (error) {
      // The request fails, with the reason; the thread goes on with the next.
      port.postMessage({ error: error instanceof Error ? error.message : String(error) })
      return
    }
    port.postMessage(answer, [answer.buffer])
  })
  port.postMessage(READY)
}
