/**
 * A latch between whatever announces new events (NOTIFY, a re-LISTEN) and the relay loop.
 * A ring that arrives while the relay is busy is remembered, so the next `wait` returns at once:
 * no wake-up is lost between "the drain found nothing" and "start waiting".
 */
export type RingCause = 'notify' | 'listen'
/** How a wait ended. */
export type WaitEnd = RingCause | 'timeout' | 'abort'

export class Doorbell {
  #rung = new Set<RingCause>()
  #waiter: { accept: ReadonlySet<RingCause>; wake: (cause: WaitEnd) => void } | undefined

  ring(cause: RingCause = 'notify'): void {
    this.#rung.add(cause)
    if (this.#waiter?.accept.has(cause)) this.#waiter.wake(cause)
  }

  /** Called right before a drain: that drain sees every event announced so far. */
  clear(): void {
    this.#rung.clear()
  }

  /**
   * Resolves on the first of: a ring of an accepted cause (possibly one already latched),
   * `ms` elapsing, abort. Rings of other causes stay latched for a later wait.
   */
  wait(
    ms: number,
    signal: AbortSignal,
    accept: ReadonlySet<RingCause> = new Set(['notify', 'listen']),
  ): Promise<WaitEnd> {
    if (signal.aborted) return Promise.resolve('abort')
    for (const cause of this.#rung) {
      if (accept.has(cause)) {
        this.#rung.delete(cause)
        return Promise.resolve(cause)
      }
    }
    return new Promise((resolve) => {
      const wake = (cause: WaitEnd) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.#waiter = undefined
        if (cause === 'notify' || cause === 'listen') this.#rung.delete(cause)
        resolve(cause)
      }
      const onAbort = () => wake('abort')
      const timer = setTimeout(() => wake('timeout'), Math.max(0, ms))
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiter = { accept, wake }
    })
  }
}

/** setTimeout as a promise that ends early (without throwing) on abort. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
