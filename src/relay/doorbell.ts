/**
 * A latch between whatever announces new events (NOTIFY, a re-LISTEN) and the relay loop.
 * A ring that arrives while the relay is draining is remembered, so the next `wait` returns at
 * once: no wake-up is lost between "drain found nothing" and "start waiting".
 */
export type WakeCause = 'notify' | 'listen' | 'poll' | 'abort'

export class Doorbell {
  #rung: WakeCause | undefined
  #wake: ((cause: WakeCause) => void) | undefined

  ring(cause: WakeCause = 'notify'): void {
    this.#rung ??= cause
    this.#wake?.(cause)
  }

  /** Called right before a drain: that drain sees every event announced so far. */
  clear(): void {
    this.#rung = undefined
  }

  /** Resolves on the first of: a ring (possibly one already latched), `ms` elapsing, abort. */
  wait(ms: number, signal: AbortSignal): Promise<WakeCause> {
    if (signal.aborted) return Promise.resolve('abort')
    const latched = this.#rung
    if (latched) {
      this.#rung = undefined
      return Promise.resolve(latched)
    }
    return new Promise((resolve) => {
      const done = (cause: WakeCause) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.#wake = undefined
        this.#rung = undefined
        resolve(cause)
      }
      const onAbort = () => done('abort')
      const timer = setTimeout(() => done('poll'), ms)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#wake = done
    })
  }
}

/** setTimeout as a promise that ends early (without throwing) on abort. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
