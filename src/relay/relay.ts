/**
 * The relay loop.
 *
 *   loop until aborted:
 *     rebalance partitions if due (about every second)
 *     AWAKE:  adaptive/poll mode: hold the awake locks of owned partitions (writers stop ringing)
 *             drain: claim-publish-mark batches until a claim comes back empty (poll: until
 *             a batch comes back short); under load (RELAY_PACE_ABOVE events/s, or four
 *             fifths of it while the CPUs are saturated) wait RELAY_PACE_MS before the claim
 *             that follows a short batch, RELAY_PACE_SATURATED_MS instead (opt-in) while
 *             the CPUs stay saturated (pace.ts)
 *             adaptive: after publishing anything, linger awake, re-checking at once for
 *             SPIN_MS, then every AWAKE_POLL_MS, until LINGER_MS pass with nothing new
 *             (avoids flapping under load); a sparse stream (events more than
 *             SPARSE_GAP_MS apart on average) does not linger: it sleeps at once;
 *             at the next rebalance tick, return still awake and come straight back after it
 *     ASLEEP: adaptive: release the awake locks, wait out writers in flight, drain once more
 *             (awake.ts argues why no row is stranded); if that found work, go back to AWAKE
 *             wait for the first of: doorbell (NOTIFY, re-LISTEN), poll timer, retry time,
 *             rebalance tick, abort
 *   on failure: back off (exponential, full jitter); a re-LISTEN (database back) cuts it short
 *
 * Modes differ only in who rings: `adaptive` writers NOTIFY only while the relay sleeps,
 * `notify` writers always NOTIFY, `poll` writers never do (db:migrate disables the trigger,
 * src/db/doorbell-trigger.ts; where it is on, the awake locks keep it quiet). A notification
 * is only a latency hint: the poll timer alone delivers everything. Shutdown is checked between batches; a batch
 * in hand is finished or abandoned (left unmarked, published again later): nothing is marked
 * published without the broker's acknowledgement.
 */
import type { Logger } from '../logger'
import { noRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { enterAwake, leaveAwake } from './awake'
import { type BackoffOptions, backoffDelay } from './backoff'
import { describeError } from './classify-error'
import type { CpuPressure } from './cpu-pressure'
import { type Doorbell, sleep } from './doorbell'
import { type DrainPolicy, drain } from './drain'
import { type PaceOptions, Pacer } from './pace'
import type { Publish } from './publish'
import { earliestRetry } from './queries'
import { type RelaySession, SessionChangedError } from './session'

export type WakeupMode = 'adaptive' | 'notify' | 'poll'

export type RelayOptions = {
  session: RelaySession
  publish: Publish
  doorbell: Doorbell
  logger: Logger
  mode: WakeupMode
  batchSize: number
  pollIntervalMs: number
  maxAttempts: number
  backoff: BackoffOptions
  signal: AbortSignal
  rebalanceEveryMs?: number
  /** Adaptive: how long to stay awake after the last event of a dense stream (default LINGER_MS). */
  lingerMs?: number
  /** Adaptive: re-claim at once for this long after an event (default SPIN_MS)... */
  spinMs?: number
  /** ...then every this many ms until `lingerMs` (default AWAKE_POLL_MS). */
  awakePollMs?: number
  /** Under load, wait a little after a short batch so the next is fuller (pace.ts). */
  pace?: Partial<PaceOptions>
  /** How much tasks wait for a CPU, for pacing while the CPUs are saturated (pace.ts). */
  cpuPressure?: CpuPressure
  metrics?: RelayMetrics
}

const onlyListen = new Set(['listen'] as const)

export async function runRelay(o: RelayOptions): Promise<void> {
  const rebalanceEveryMs = o.rebalanceEveryMs ?? 1000
  const metrics = o.metrics ?? noRelayMetrics
  const pacer = new Pacer(o.pace, o.cpuPressure, (state) => metrics.paced(state))
  const rhythm = new Rhythm()
  let failures = 0
  let nextRebalance = 0
  let nextPoll = 0
  // Deferred events may exist (ours, or a previous owner's): wake up for their retry time.
  let checkRetries = true
  while (!o.signal.aborted) {
    try {
      const now = Date.now()
      let due = now >= nextPoll
      if (now >= nextRebalance) {
        const gained = await o.session.rebalance()
        nextRebalance = Date.now() + rebalanceEveryMs
        if (gained.length > 0) {
          o.logger.info({ gained, owned: o.session.owned.length }, 'partitions acquired')
          due = true // they may hold a backlog
          checkRetries = true
        }
      }
      let published = 0
      if (due) {
        const { retryAt, stillAwake, more, ...result } = await cycle(
          o,
          nextRebalance,
          pacer,
          rhythm,
        )
        published = result.published
        // Still awake (could not go to sleep yet): writers are not ringing, so poll briskly.
        const pollMs = stillAwake
          ? Math.min(o.pollIntervalMs, STILL_AWAKE_POLL_MS)
          : o.pollIntervalMs
        // Cut short for the rebalance while events kept coming: back at once after it.
        nextPoll = more ? 0 : Math.min(Date.now() + pollMs, retryAt)
        if (retryAt !== Number.POSITIVE_INFINITY) checkRetries = true
      }
      if (checkRetries) {
        const retryAt = await earliestRetry(o.session.sql, o.session.owned)
        if (retryAt === undefined) checkRetries = false
        else nextPoll = Math.min(nextPoll, retryAt.getTime())
      }
      // Recovered only once something got through, or nothing is left waiting for a retry: a
      // pass that merely found every event deferred proves nothing about the broker.
      if (failures > 0 && (published > 0 || !checkRetries)) {
        o.logger.info({ failures }, 'relay recovered; publishing again')
        failures = 0
      }
      const cause = await o.doorbell.wait(Math.min(nextPoll, nextRebalance) - Date.now(), o.signal)
      if (cause === 'notify' || cause === 'listen') nextPoll = 0
      if (cause === 'notify') metrics.wokeUp('notify')
      else if (cause === 'listen') metrics.wokeUp('reconnect')
      else if (cause === 'timeout' && Date.now() >= nextPoll) metrics.wokeUp('poll')
    } catch (err) {
      if (err instanceof SessionChangedError) {
        o.logger.warn('database session replaced; re-acquiring partitions')
        nextRebalance = 0
        continue
      }
      failures += 1
      // Log once per state change (healthy -> failing), not once per attempt.
      if (failures === 1)
        o.logger.warn({ reason: describeError(err) }, 'relay failing; backing off')
      nextRebalance = 0
      nextPoll = 0
      checkRetries = true
      await o.doorbell.wait(backoffDelay(failures, o.backoff), o.signal, onlyListen)
    }
  }
}

const STILL_AWAKE_POLL_MS = 100
const LINGER_MS = 50
const SPIN_MS = 2
const AWAKE_POLL_MS = 2
const SPARSE_GAP_MS = 5

/**
 * How far apart events come, on average (ms per event): each drain that published something
 * gives the time since the previous one, divided by what it published. Per event, not per
 * drain: on a slow machine a drain takes longer and carries more, but events come no sparser.
 * Each sample counts for at most 4 x SPARSE_GAP_MS, so after an idle spell a few close events
 * are enough to call the stream dense again.
 */
class Rhythm {
  private last: number | undefined
  private gap = Number.POSITIVE_INFINITY

  published(events: number, at: number): void {
    const cap = 4 * SPARSE_GAP_MS
    const sample = this.last === undefined ? cap : Math.min((at - this.last) / events, cap)
    this.last = at
    this.gap = Number.isFinite(this.gap) ? (this.gap + sample) / 2 : sample
  }

  /** Events come further apart than SPARSE_GAP_MS: sleeping between them is cheap. */
  get sparse(): boolean {
    return this.gap >= SPARSE_GAP_MS
  }
}

type CycleResult = {
  /** Earliest retry time of an event deferred on the way (infinity if none). */
  retryAt: number
  /** Could not go to sleep: a long transaction kept it awake (adaptive). */
  stillAwake: boolean
  /** Stopped at `until` while events kept coming: go on right after the rebalance. */
  more: boolean
  published: number
}

/**
 * AWAKE then (adaptive) the way back to sleep. Under a steady stream or a backlog it returns at
 * `until`, still awake, so the loop can rebalance: a relay started meanwhile gets its share
 * while the stream goes on (test/relay/relay-loop.test.ts).
 */
async function cycle(
  o: RelayOptions,
  until: number,
  pacer: Pacer,
  rhythm: Rhythm,
): Promise<CycleResult> {
  // A poll drains what it finds, in full batches, and stops at the first short one: no pacing,
  // no claim after it (with them, a poll under load became a paced stream).
  const policy: DrainPolicy =
    o.mode === 'poll'
      ? { maxAttempts: o.maxAttempts, backoff: o.backoff, reclaimAfterShort: false }
      : { maxAttempts: o.maxAttempts, backoff: o.backoff, pacer }
  let retryAt = Number.POSITIVE_INFINITY
  let total = 0
  let cutShort = false
  const drainAll = async () => {
    const result = await drain(o.session, o.batchSize, o.publish, policy, o.signal, until)
    total += result.published
    if (result.published > 0) rhythm.published(result.published, performance.now())
    cutShort = result.cutShort === true
    if (result.retryAt !== undefined) retryAt = Math.min(retryAt, result.retryAt)
    return result.published
  }
  const result = (stillAwake: boolean, more = false): CycleResult => ({
    retryAt,
    stillAwake,
    more: more && !o.signal.aborted,
    published: total,
  })
  for (;;) {
    o.doorbell.clear()
    // Taking the awake locks and the first claim share one round trip (the connection pipelines
    // them). Order does not matter: a writer that commits before the locks are held rings, and a
    // ring only costs a wasted wake-up.
    let published = await settleBoth(
      o.mode === 'notify' ? Promise.resolve() : enterAwake(o.session),
      drainAll(),
    )
    if (o.mode !== 'adaptive') return result(false, cutShort)
    // Linger: stay awake while events keep coming, so a busy stream needs no doorbell at all.
    // A drain already claims again at once after every batch, until a claim finds nothing
    // (drain.ts); each re-check here is one more claim (one indexed query; nothing found,
    // nothing locked). For SPIN_MS after the last event they follow each other at once: in a
    // stream the next event is likely that close, and a pause would add to its wait. Then they
    // come every AWAKE_POLL_MS. Measured at 1,000 orders/s, three rounds side by side: event
    // median 2.1-2.4 ms with the spin, 2.9 ms with the pause alone; the price is relay and
    // Postgres CPU (relay ~40% instead of 33% of a core).
    //
    // A sparse stream (events further apart than SPARSE_GAP_MS on average, e.g. 100 orders/s)
    // is not worth the linger: each event would wait for the next re-check, half of
    // AWAKE_POLL_MS on average, where a doorbell wakes the relay at once, and at that rate the
    // writers' NOTIFY costs little. So the relay goes to sleep at once. Measured at 100
    // orders/s, two rounds each: event median 0.92-0.98 ms (`notify`: 0.88-1.05), relay 21-22%
    // of a core and its Postgres 12-14%; lingering, 1.62-1.96 ms, 30-32% and 18-27%.
    for (let quietSince = performance.now(); published > 0 && !o.signal.aborted; ) {
      if (cutShort || Date.now() >= until) return result(true, true)
      const quietMs = performance.now() - quietSince
      const lingerMs = rhythm.sparse ? 0 : (o.lingerMs ?? LINGER_MS)
      if (quietMs >= lingerMs) break
      if (quietMs >= (o.spinMs ?? SPIN_MS)) await sleep(o.awakePollMs ?? AWAKE_POLL_MS, o.signal)
      if ((await drainAll()) > 0) quietSince = performance.now()
    }
    if (!(await leaveAwake(o.session, o.signal))) return result(true)
    published = await drainAll()
    if (published === 0 || o.signal.aborted) return result(false)
  }
}

/**
 * Both results, after both have finished: unlike Promise.all, a failure of one never leaves the
 * other running on (a drain still publishing while the loop starts the next one could reorder).
 */
async function settleBoth<T>(a: Promise<unknown>, b: Promise<T>): Promise<T> {
  const [ra, rb] = await Promise.allSettled([a, b])
  if (ra.status === 'rejected') throw ra.reason
  if (rb.status === 'rejected') throw rb.reason
  return rb.value
}
