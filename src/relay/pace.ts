/**
 * Pacing: fewer, fuller batches when events arrive fast.
 *
 * Eager, the relay claims again right behind every short batch (drain.ts). At a trickle that is
 * what keeps latency at a couple of milliseconds, and it costs little. When events pour in, it
 * means a claim, a produce and a mark every round trip, each carrying a handful of events, on a
 * machine whose cores the writers need: the relay then competes with the very writes it
 * publishes. Paced, the relay waits `waitMs` after a short batch before claiming again, so the
 * next batch gathers what arrived meanwhile, and the mark of the batch just published goes out
 * with that claim (one round trip to Postgres per batch instead of two): a few milliseconds more
 * latency under load, a fraction of the statements and requests.
 *
 * The signal is the arrival rate: events published per second, averaged over about the last
 * `windowMs` (each batch's events over the time since the previous batch's claim, both decayed
 * with age). Pacing starts at `paceAbove` events/s and stops below `eagerBelow` (hysteresis, so
 * it does not flap). A rate, not a batch size or events per round trip: those grow with the
 * round trip, so a slow machine (or the pacer's own waits, or a mark sent with the claim) would
 * make a trickle look like load. An earlier pacer decided on events per round trip and did just
 * that once the mark went out with the claim: on a slow hour it paced 1,000 orders/s and the
 * event median rose to 11-18 ms (2026-11-25). The rate of a steady stream is the same whatever
 * the relay does; only its density in time counts, and a stall that piles events up still
 * averages out to the stream's own rate.
 *
 * Measured here (2 cores shared by writers, API, Postgres, relay and broker): 1,000 orders/s
 * must stay eager (the latency target); 32 closed-loop writers bring 2,000-5,000 events/s, and
 * there an eager relay left writers through HTTP 81% of their no-trigger rate where a 10 ms
 * wait left them 91-93% (2026-11-24, side by side).
 *
 * A rate alone cannot tell what the relay's work costs, though: that depends on the machine.
 * On a slower one (2026-12-02: one writer ~320 orders/s), 32 writers through HTTP bring only
 * 1,100-1,600 events/s, the relay stays eager, and its claims, produces and marks (about 0.4
 * of a core, process and backend) left the writers 76-82% of their rate without the relay's
 * doorbell. So the second signal is whether the machine's CPUs are saturated (cpu-pressure.ts),
 * i.e. averaged over about a second, tasks wait for a CPU `pressureAbove` of the time or more
 * AND the CPUs are `cpuBusyAbove` busy or more; it ends when either falls below its lower bound
 * (`pressureBelow`, `cpuBusyBelow`). Both readings, because each alone is seen at loads that
 * leave room: a machine doing 600 orders/s of the ~1,300 it can, here, read 39-54% pressure
 * (200 ms samples), and a busy machine need not have a queue. Then every CPU-second the relay
 * spends is one the writers queue for. It is used in two ways.
 *
 * Between the bounds (on by default). An eager relay whose rate is between `eagerBelow` and
 * `paceAbove` (1,200-1,500/s) paces, at `waitMs` (or the saturated wait below, where set),
 * while the CPUs are saturated; once paced it follows the rate rule as before
 * (paced until the rate falls below `eagerBelow`), so the end of a saturated spell does not
 * make it flap. Below `eagerBelow` it stays eager however
 * saturated the machine: 1,000 orders/s saturates this one (see cpu-pressure.ts) and is the
 * latency target. It is aimed at a trap measured on 2026-12-03: in slow spells, 32 HTTP writers
 * with the relay eager bring 1,250-1,590 events/s, just under `paceAbove`, and the eager
 * relay's cost (170-203 + 76-94 µs per order, process + backends, against 38 + 25 for a
 * relay polling once a second) is what keeps the rate under it. Side by side (write scenario,
 * 32 writers, a spinning process beside the benchmark to make the machine slow): through HTTP
 * 99% of the no-trigger rate with the rule, 86% without it (relay 96 + 40 against 134 + 61 µs
 * per order); direct SQL 103% and 99%. But in a slow spell of a full benchmark run the relay
 * was still eager for 64% of its batches under 32 HTTP writers (6% paced by this rule): the rate
 * under `eagerBelow`, or the CPUs read not saturated (busy sits near its 85% bound there),
 * was not measured; relay_batches_total now shows it. (A lower `paceAbove` did much the same for the writers
 * in a slow spell, 1,300: 92% and 1,200: 94% against 83% for 1,500, but read 89% against 96%
 * in a fast one, and its lower bound, 960 for 1,200, would hold a 1,000/s stream paced once a
 * spike had paced it.)
 *
 * Saturated wait (opt-in, `saturatedWaitMs`; 50 ms is the measured choice). While the relay is
 * paced (by the rate, or by the band) and the CPUs are saturated, it waits that long instead of
 * `waitMs`: fewer, fuller batches, because on such a machine what a batch costs is mostly
 * fixed. Measured here (2026-12-03, a 2-core VM): a kafkajs produce of 24 events took 0.6 ms
 * of CPU back to back and 1.5-2.5 ms when each followed a 10 ms sleep; the relay's mark and
 * claim 0.14-0.27 against 0.66-1.27 ms; a bare Node process sleeping 10 ms at a time spends
 * 90-220 µs per wake-up. Caches and the CPU go cold between batches, so a relay publishing
 * every 10 ms costs about three times what the same events cost in bigger batches (alone at
 * 2,000 events/s: 75-98 µs per event paced at 10 ms, 30-33 polling once a second), and on
 * shared cores the writers pay it. It waits only where the rate rule or the band already
 * paces: a stream the rate keeps eager (1,000 orders/s, the latency target, which saturates
 * this machine) never waits for the CPU. Side by side, 32 writers through HTTP, in the form
 * here: 92% and 85% of the no-trigger rate in two full benchmark runs where the 10 ms pace read
 * 86% and 85%, and 98% against 92.5% in a write probe (directly 87% / 93% against 86% / 90%,
 * 91% against 87%). Its price: event p99 under 8-64 writers 75-119 ms in those runs against
 * 26-39 ms in the full runs before and after them without it. So it stays off by default: a gain of 0-6 points
 * that did not meet the write target in those runs, for tail latency two to three times
 * longer, and machine-wide readings, so a neighbour's load would lengthen this relay's waits.
 * (Its earlier form, 2026-12-02, applied from 500 events/s whatever the rate rule said: it
 * paced the 1,000/s stream too, event p50 36 ms, but it also paced the eager stretches below
 * `paceAbove` and read 96-102% through HTTP in three full runs where the 10 ms pace read
 * 76-86%.) A deployment whose relay shares cores with its writers, and that values their
 * throughput over tens of milliseconds, sets it.
 *
 * The readings are the machine's: a neighbour's load counts as saturation too. Without them
 * (not Linux, no PSI) the relay never paces for the CPU, and the rate rule alone decides.
 */
import type { CpuLoad, CpuPressure } from './cpu-pressure'

export type PaceOptions = {
  /** The wait before the next claim while paced for the rate, ms (0: never pace for it). */
  waitMs: number
  /** Pace once the arrival rate reaches this many events per second (RELAY_PACE_ABOVE)... */
  paceAbove: number
  /**
   * ...and claim eagerly again once it falls below this many. In between, an eager relay paces
   * while the CPUs are saturated.
   */
  eagerBelow: number
  /** The rate is averaged over about this long (the time constant of its decay), ms. */
  windowMs: number
  /**
   * The wait while paced and the CPUs are saturated, ms, where longer than `waitMs`
   * (RELAY_PACE_SATURATED_MS; 0, the default: none).
   */
  saturatedWaitMs: number
  /** Saturated from this CPU pressure (share of time with tasks waiting for a CPU)... */
  pressureAbove: number
  /** ...and not any more below this... */
  pressureBelow: number
  /** ...and from this share of CPU time busy (both must hold)... */
  cpuBusyAbove: number
  /** ...and not any more below this. */
  cpuBusyBelow: number
}

/**
 * The decision after a batch: `eager` (the claim after a short batch goes out at once), or
 * waiting, for `rate` (at `paceAbove` or more, or held there between the bounds), for `band`
 * (between the bounds because the CPUs are saturated), or for `cpu` (paced either way, the
 * saturated wait, when it is the longer). The relay counts batches by it (relay_batches_total).
 */
export const PACE_STATES = ['eager', 'rate', 'band', 'cpu'] as const
export type PaceState = (typeof PACE_STATES)[number]

export const PACE_DEFAULTS: PaceOptions = {
  waitMs: 10,
  paceAbove: 1500,
  eagerBelow: 1200,
  windowMs: 200,
  saturatedWaitMs: 0,
  pressureAbove: 0.6,
  pressureBelow: 0.45,
  cpuBusyAbove: 0.85,
  cpuBusyBelow: 0.75,
}

/** Whether pacing with these options ever looks at the CPU load (else it is never read). */
export function readsCpuLoad(options: Partial<PaceOptions> = {}): boolean {
  const o = { ...PACE_DEFAULTS, ...options }
  return o.waitMs > 0 && (o.eagerBelow < o.paceAbove || o.saturatedWaitMs > o.waitMs)
}

/** CPU pressure is read at most this often, and averaged over about PRESSURE_WINDOW_MS. */
const PRESSURE_EVERY_MS = 100
const PRESSURE_WINDOW_MS = 1000

export class Pacer {
  private readonly o: PaceOptions
  // Decayed sums: events, and the time they arrived over (ms).
  private events = 0
  private span = 0
  private paced = false
  // Why it is paced for the rate: reached `paceAbove`, or tipped between the bounds.
  private pacedBy: 'rate' | 'band' = 'rate'
  private lastClaimAt: number | undefined
  // The CPU load, averaged; undefined until a first reading.
  private load: CpuLoad | undefined
  private loadAt = Number.NEGATIVE_INFINITY
  private saturated = false
  private readonly readsCpu: boolean

  /**
   * `cpuPressure`: none (or one that cannot tell) never paces for the CPU. `decided` hears the
   * decision after each batch.
   */
  constructor(
    options: Partial<PaceOptions> = {},
    private readonly cpuPressure?: CpuPressure,
    private readonly decided?: (state: PaceState) => void,
  ) {
    this.o = { ...PACE_DEFAULTS, ...options }
    this.readsCpu = readsCpuLoad(this.o)
  }

  /** A batch of `events` (more than none) whose claim was sent at `claimedAt` (ms). */
  record(events: number, claimedAt: number): void {
    // A gap longer than the window (the relay slept) counts as one window with nothing in it,
    // and so does the time before the first batch: the rate starts low and rises with evidence.
    const since =
      this.lastClaimAt === undefined
        ? this.o.windowMs
        : Math.min(this.o.windowMs, Math.max(0, claimedAt - this.lastClaimAt))
    this.lastClaimAt = claimedAt
    const keep = Math.exp(-since / this.o.windowMs)
    this.events = this.events * keep + events
    this.span = this.span * keep + since
    this.readPressure(claimedAt)
    const rate = this.eventsPerSecond
    if (rate >= this.o.paceAbove) this.pace('rate')
    else if (rate < this.o.eagerBelow) this.paced = false
    // Between the bounds an eager relay stays eager, unless the CPUs are saturated.
    else if (this.saturated && !this.paced) this.pace('band')
    this.decided?.(this.state)
  }

  private pace(by: 'rate' | 'band'): void {
    this.paced = this.o.waitMs > 0
    this.pacedBy = by
  }

  /** The decision behind `waitMs`. */
  get state(): PaceState {
    if (this.forCpu > this.forRate) return 'cpu'
    return this.forRate > 0 ? this.pacedBy : 'eager'
  }

  /** How long to wait before the claim that follows a short batch. */
  get waitMs(): number {
    return Math.max(this.forRate, this.forCpu)
  }

  private get forRate(): number {
    return this.paced ? this.o.waitMs : 0
  }

  private get forCpu(): number {
    return this.paced && this.saturated ? this.o.saturatedWaitMs : 0
  }

  /** The average behind the decision; read by the tests. */
  get eventsPerSecond(): number {
    return this.span > 0 ? (this.events / this.span) * 1000 : 0
  }

  /** The CPU load averaged, undefined when unknown; read by the tests. */
  get cpuLoadAverage(): CpuLoad | undefined {
    return this.load
  }

  private readPressure(at: number): void {
    const o = this.o
    if (!this.cpuPressure || !this.readsCpu || at - this.loadAt < PRESSURE_EVERY_MS) return
    const since = at - this.loadAt
    this.loadAt = at
    const now = this.cpuPressure()
    if (now === undefined) return
    // Each reading covers the time since the previous one: weighted by it, so a reading after a
    // long sleep stands for that whole stretch, and one a tenth of a second on for a tenth.
    const keep = this.load && Number.isFinite(since) ? Math.exp(-since / PRESSURE_WINDOW_MS) : 0
    const avg = (was: number | undefined, x: number) => (was ?? 0) * keep + x * (1 - keep)
    const load = {
      pressure: avg(this.load?.pressure, now.pressure),
      busy: avg(this.load?.busy, now.busy),
    }
    this.load = load
    if (load.pressure >= o.pressureAbove && load.busy >= o.cpuBusyAbove) this.saturated = true
    else if (load.pressure < o.pressureBelow || load.busy < o.cpuBusyBelow) this.saturated = false
  }
}
