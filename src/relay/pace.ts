/**
 * Pacing: fewer, fuller batches when events arrive faster than the relay's round trip.
 *
 * Eager, the relay claims again right behind every short batch (drain.ts). At a trickle that is
 * what keeps latency at a couple of milliseconds, and it costs little. When events pour in, it
 * means a claim, a produce and a mark every round trip, each carrying a handful of events, on a
 * machine whose cores the writers need: the relay then competes with the very writes it
 * publishes. Paced, the relay waits `waitMs` after a short batch before claiming again, so the
 * next batch gathers what arrived meanwhile: a few milliseconds more latency under load, a
 * fraction of the statements and requests.
 *
 * The signal is how many events arrive during one round trip of the relay (claim to the
 * broker's acknowledgement): the arrival rate times the round trip, averaged over recent
 * batches. Not the batch size itself: once pacing, batches grow by the wait alone, and a relay
 * deciding on batch size would stay paced at a rate that no longer needs it. Hysteresis (pace
 * from `paceAt`, eager again below `eagerBelow`) keeps it from flapping; one burst moves the
 * average only part of the way (each batch counts for at most `cap` events).
 *
 * Measured here (2 cores shared by writers, API, Postgres, relay and broker): at 1,000 orders/s
 * 1.3-2.2 events arrive per round trip on average and the relay never paced; under 32
 * closed-loop writers, 6-9. There, with a 10 ms wait (`RELAY_PACE_MS`), writers through HTTP
 * reached 91-93% of the rate they reach with no trigger (and a relay polling once a second),
 * against 81% with no wait and 83-88% with a 5 ms wait (rounds side by side in one run each);
 * the latency it adds under load is about the wait.
 */
export type PaceOptions = {
  /** The wait before the next claim while paced, ms (0: never pace). */
  waitMs: number
  /** Pace once this many events arrive per round trip, on average... */
  paceAt: number
  /** ...and claim eagerly again once fewer than this many do. */
  eagerBelow: number
  /** The weight of the newest batch in the average. */
  weight: number
  /** No batch counts for more than this many events per round trip. */
  cap: number
}

export const PACE_DEFAULTS: PaceOptions = {
  waitMs: 10,
  paceAt: 6,
  eagerBelow: 4,
  weight: 0.05,
  cap: 16,
}

export class Pacer {
  private readonly o: PaceOptions
  private perRoundTrip = 0
  private paced = false
  private lastClaimAt: number | undefined

  constructor(options: Partial<PaceOptions> = {}) {
    this.o = { ...PACE_DEFAULTS, ...options }
  }

  /**
   * A batch of `events` (more than none) whose claim was sent at `claimedAt` and whose publish
   * was acknowledged at `ackedAt` (ms, one clock).
   */
  record(events: number, claimedAt: number, ackedAt: number): void {
    const since =
      this.lastClaimAt === undefined ? Number.POSITIVE_INFINITY : claimedAt - this.lastClaimAt
    this.lastClaimAt = claimedAt
    const roundTrip = Math.max(0, ackedAt - claimedAt)
    // Events per ms since the previous batch's claim (the wait included) times the round trip.
    const sample = since > 0 ? Math.min(this.o.cap, (events / since) * roundTrip) : this.o.cap
    this.perRoundTrip += this.o.weight * (sample - this.perRoundTrip)
    if (this.perRoundTrip >= this.o.paceAt) this.paced = true
    else if (this.perRoundTrip < this.o.eagerBelow) this.paced = false
  }

  /** How long to wait before the claim that follows a short batch. */
  get waitMs(): number {
    return this.paced ? this.o.waitMs : 0
  }

  /** The average behind the decision (events per round trip); read by the tests. */
  get eventsPerRoundTrip(): number {
    return this.perRoundTrip
  }
}
