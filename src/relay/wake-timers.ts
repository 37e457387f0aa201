/**
 * When the sleeping relay must wake without a ring: the fallback poll, the rebalance tick, the
 * earliest retry of a deferred event, and the next re-check of partitions still settling
 * (awake.ts). Only bookkeeping, no I/O.
 */
const RECHECK_FIRST_MS = 1
const RECHECK_CAP_MS = 50

export type TimerDue = 'poll' | 'retry' | 'recheck' | 'tick'

export class WakeTimers {
  nextRebalance = 0
  nextPoll = 0
  retryAt = Number.POSITIVE_INFINITY
  /** Deferred events may exist (ours, or a previous owner's): look up their retry time. */
  checkRetries = true
  #nextRecheck = Number.POSITIVE_INFINITY
  #recheckMs = RECHECK_FIRST_MS

  constructor(
    private readonly pollIntervalMs: number,
    private readonly rebalanceEveryMs: number,
  ) {}

  rebalanced(now: number): void {
    this.nextRebalance = now + this.rebalanceEveryMs
  }

  /** Going to sleep: the poll counts from now; a fresh settle re-checks soon. */
  sleeping(now: number, freshSettle: boolean): void {
    if (freshSettle) this.#recheckMs = RECHECK_FIRST_MS
    this.nextPoll = now + this.pollIntervalMs
    this.#nextRecheck = now + this.#recheckMs
  }

  /** Re-checked and still settling: back off, doubling up to the cap. */
  rechecked(now: number): void {
    this.#recheckMs = Math.min(this.#recheckMs * 2, RECHECK_CAP_MS)
    this.#nextRecheck = now + this.#recheckMs
  }

  /** The earliest retry time of the owned partitions' deferred events, as read. */
  retriesAt(at: Date | undefined): void {
    this.checkRetries = at !== undefined
    this.retryAt = at?.getTime() ?? Number.POSITIVE_INFINITY
  }

  deferred(retryAt: number): void {
    this.retryAt = Math.min(this.retryAt, retryAt)
    this.checkRetries = true
  }

  /** After a failure everything is due at once. */
  reset(): void {
    this.nextRebalance = 0
    this.nextPoll = 0
    this.checkRetries = true
  }

  wakeAt(settling: boolean): number {
    const recheck = settling ? this.#nextRecheck : Number.POSITIVE_INFINITY
    return Math.min(this.nextPoll, this.nextRebalance, this.retryAt, recheck)
  }

  /**
   * Which timer woke the relay (the first that is due). A retry time that has come is used up:
   * the next sleep reads the next one, so a past retry time never wakes the relay again.
   */
  due(now: number, settling: boolean): TimerDue {
    if (now >= this.nextPoll) return 'poll'
    if (now >= this.retryAt) {
      this.retryAt = Number.POSITIVE_INFINITY
      this.checkRetries = true
      return 'retry'
    }
    if (settling && now >= this.#nextRecheck) return 'recheck'
    return 'tick'
  }
}
