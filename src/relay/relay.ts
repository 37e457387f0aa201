/**
 * The relay loop.
 *
 *   loop until aborted:
 *     rebalance partitions if due (about every second)
 *     AWAKE:  adaptive/poll mode: hold the awake locks of owned partitions (writers stop ringing)
 *             drain: claim-publish-mark batches until one comes back short
 *             adaptive: after publishing anything, linger awake, re-checking at once after a
 *             drain that found something and every AWAKE_POLL_MS otherwise, until LINGER_MS
 *             pass with nothing new (avoids flapping under load)
 *     ASLEEP: adaptive: release the awake locks, wait out writers in flight, drain once more
 *             (awake.ts argues why no row is stranded); if that found work, go back to AWAKE
 *             wait for the first of: doorbell (NOTIFY, re-LISTEN), poll timer, retry time,
 *             rebalance tick, abort
 *   on failure: back off (exponential, full jitter); a re-LISTEN (database back) cuts it short
 *
 * Modes differ only in who rings: `adaptive` writers NOTIFY only while the relay sleeps,
 * `notify` writers always NOTIFY, `poll` writers never do. A notification is only a latency
 * hint: the poll timer alone delivers everything. Shutdown is checked between batches; a batch
 * in hand is finished or abandoned (left unmarked, published again later): nothing is marked
 * published without the broker's acknowledgement.
 */
import type { Logger } from '../logger'
import { noRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { enterAwake, leaveAwake } from './awake'
import { type BackoffOptions, backoffDelay } from './backoff'
import { describeError } from './classify-error'
import { type Doorbell, sleep } from './doorbell'
import { type DrainPolicy, drain } from './drain'
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
  lingerMs?: number
  awakePollMs?: number
  metrics?: RelayMetrics
}

const onlyListen = new Set(['listen'] as const)

export async function runRelay(o: RelayOptions): Promise<void> {
  const rebalanceEveryMs = o.rebalanceEveryMs ?? 1000
  const metrics = o.metrics ?? noRelayMetrics
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
        const { retryAt, stillAwake, ...result } = await cycle(o)
        published = result.published
        // Still awake (could not go to sleep yet): writers are not ringing, so poll briskly.
        const pollMs = stillAwake
          ? Math.min(o.pollIntervalMs, STILL_AWAKE_POLL_MS)
          : o.pollIntervalMs
        nextPoll = Math.min(Date.now() + pollMs, retryAt)
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

/**
 * AWAKE then (adaptive) the way back to sleep. Returns the earliest retry time seen, and
 * whether the relay is still awake because a long transaction kept it from going to sleep.
 */
async function cycle(
  o: RelayOptions,
): Promise<{ retryAt: number; stillAwake: boolean; published: number }> {
  const policy: DrainPolicy = { maxAttempts: o.maxAttempts, backoff: o.backoff }
  let retryAt = Number.POSITIVE_INFINITY
  let total = 0
  const drainAll = async () => {
    const result = await drain(o.session, o.batchSize, o.publish, policy, o.signal)
    total += result.published
    if (result.retryAt !== undefined) retryAt = Math.min(retryAt, result.retryAt)
    return result.published
  }
  for (;;) {
    o.doorbell.clear()
    // Taking the awake locks and the first claim share one round trip (the connection pipelines
    // them). Order does not matter: a writer that commits before the locks are held rings, and a
    // ring only costs a wasted wake-up.
    let published = await settleBoth(
      o.mode === 'notify' ? Promise.resolve() : enterAwake(o.session),
      drainAll(),
    )
    if (o.mode !== 'adaptive') return { retryAt, stillAwake: false, published: total }
    // Linger: stay awake while events keep coming, so a busy stream needs no doorbell at all.
    // Each re-check is a claim (one indexed query; nothing found, nothing locked).
    // Right after a drain that found something, claim again at once: more has likely arrived
    // while it was publishing, and a pause would only add to those events' wait (measured at
    // 1,000 orders/s: median 2.6-3.5 ms without a pause, 4.1-5.2 ms with 1-2 ms pauses; the
    // price is more, smaller claims while busy).
    for (let quietSince = Date.now(), last = published; published > 0 && !o.signal.aborted; ) {
      if (Date.now() - quietSince >= (o.lingerMs ?? 50)) break
      if (last === 0) await sleep(o.awakePollMs ?? 2, o.signal)
      last = await drainAll()
      if (last > 0) quietSince = Date.now()
    }
    if (!(await leaveAwake(o.session, o.signal))) {
      return { retryAt, stillAwake: true, published: total }
    }
    published = await drainAll()
    if (published === 0 || o.signal.aborted) return { retryAt, stillAwake: false, published: total }
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
