import type { Logger } from '../logger'
import { type BackoffOptions, backoffDelay } from './backoff'
import { describeError } from './classify-error'
import type { Doorbell } from './doorbell'
import { OwnershipLostError } from './session'

const onlyListen = new Set(['listen'] as const)

/**
 * The relay's failures in a row: logged once per change of state (healthy -> failing ->
 * recovered), not once per attempt, and waited out with backoff (a re-LISTEN, i.e. the database
 * back, cuts the wait short). Lost partitions are no failure: rejoin at once.
 */
export class Failures {
  #count = 0
  /** The backoff's exponent: the count, but back to 0 when a re-LISTEN says the database is back. */
  #step = 0

  constructor(
    private readonly logger: Logger,
    private readonly backoff: BackoffOptions,
  ) {}

  async failed(err: unknown, doorbell: Doorbell, signal: AbortSignal): Promise<void> {
    if (err instanceof OwnershipLostError) {
      this.logger.warn({ reason: err.detail }, 'partitions lost; rejoining')
      return
    }
    this.#count += 1
    if (this.#count === 1) {
      this.logger.warn({ reason: describeError(err) }, 'relay failing; backing off')
    }
    this.#step += 1
    const end = await doorbell.wait(backoffDelay(this.#step, this.backoff), signal, onlyListen)
    // The database is back: if the attempt that follows still fails (the session reconnecting
    // behind the listener), back off from the start, not from where the outage left the wait.
    if (end === 'listen') this.#step = 0
  }

  recovered(): void {
    if (this.#count === 0) return
    this.logger.info({ failures: this.#count }, 'relay recovered; publishing again')
    this.#count = 0
    this.#step = 0
  }
}
