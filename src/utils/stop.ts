/**
 * Waits that give way to a stop (SIGINT, SIGTERM), for startup steps and for loops that run as
 * long as the process. `Promise.race` with one promise that stays pending keeps a reaction on it
 * per race until it settles — ~310 bytes each, 62 MB per 200,000 races — so a verifier following
 * the head, racing each 250 ms poll with the stop, grew by ~100 MB a day. Here each wait listens
 * on an `AbortSignal` and stops listening when it ends.
 */

/** What a wait rejects with once stopped. */
export const STOPPED = new Error('stopped by a signal')

export type Stopper = {
  /** Aborted (with `STOPPED`) once the stop has come. */
  readonly signal: AbortSignal
  /** `work`, or a rejection with `STOPPED` if the stop comes first (`work` goes on, unheeded). */
  until<T>(work: Promise<T>): Promise<T>
  /** Resolves after `ms`, or as soon as the stop comes. */
  sleep(ms: number): Promise<void>
}

export function stopperOf(stop: Promise<unknown> | undefined): Stopper {
  const controller = new AbortController()
  const { signal } = controller
  void stop?.then(() => controller.abort(STOPPED))
  return {
    signal,
    until<T>(work: Promise<T>): Promise<T> {
      if (stop === undefined) return work
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          work.catch(() => {})
          reject(STOPPED)
        }
        if (signal.aborted) return onAbort()
        signal.addEventListener('abort', onAbort, { once: true })
        work.then(
          (value) => {
            signal.removeEventListener('abort', onAbort)
            resolve(value)
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort)
            reject(error)
          },
        )
      })
    },
    sleep(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        if (signal.aborted) return resolve()
        const onAbort = () => {
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        }, ms)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
