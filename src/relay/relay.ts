/**
 * The relay loop, a state machine (RelayLoop below: one method per state, each returning the
 * next state).
 *
 *   DRAIN   adaptive and poll: take the awake locks of owned partitions, never waiting
 *           (awake.ts); claim, publish, mark until a claim comes back empty (drain.ts; poll:
 *           until a batch comes back short).         -> LINGER if it published (adaptive)
 *                                                     -> SETTLE if it found nothing (adaptive)
 *                                                     -> SLEEP (notify, poll)
 *   LINGER  claim again every millisecond until RELAY_LINGER_MS pass with nothing new
 *           (linger.ts).                              -> SETTLE
 *   SETTLE  release the awake locks, check the trace locks, drain once more (awake.ts argues
 *           why nothing is stranded).                 -> DRAIN if that drain found events
 *                                                     -> SLEEP
 *   SLEEP   wait for the first of: a ring (NOTIFY, re-LISTEN), the poll timer, a retry time,
 *           a settling partition's re-check, the rebalance tick, abort.
 *                                                     -> DRAIN (SLEEP again after a tick)
 * Before each step: rebalance when due (about every second); partitions gained -> DRAIN.
 * A drain cut short by a due rebalance -> DRAIN again right after it.
 * Any failure -> back off (exponential, full jitter; a re-LISTEN cuts it short) -> DRAIN.
 *
 * Modes differ only in who rings: `adaptive` writers NOTIFY only while the relay sleeps,
 * `notify` writers always do, `poll` writers never do. A notification is only a latency hint:
 * the poll timer alone delivers everything. Shutdown is checked between batches; a batch in
 * hand is finished or abandoned (left unmarked, published again later).
 */
import type { Logger } from '../logger'
import { noRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { blockingPids, enterAwake, leaveAwake, recheckSettling } from './awake'
import { type BackoffOptions, backoffDelay } from './backoff'
import { describeError } from './classify-error'
import { type Doorbell, sleep } from './doorbell'
import { type DrainPolicy, type DrainResult, drain } from './drain'
import { lingerStep } from './linger'
import { LockWaits, type WaitLock } from './lock-waits'
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
  /** Adaptive: stay awake this long after the last event (linger.ts); default 20. */
  lingerMs?: number
  metrics?: RelayMetrics
  /** Where the loop reports its progress and waits, for metrics and /readyz. */
  status?: RelayStatus
}

/** What the loop tells the outside about itself; read by the stall gauge and /readyz. */
export class RelayStatus {
  /** When the relay last caught up (a claim found nothing) or published (epoch ms). */
  lastProgressAt = Date.now()
  readonly waits = new LockWaits()
}

type State = 'drain' | 'linger' | 'settle' | 'sleep'

const DEFAULT_LINGER_MS = 20
/** Re-checks of a settling partition start at this and double up to the cap. */
const RECHECK_FIRST_MS = 1
const RECHECK_CAP_MS = 50
const onlyListen = new Set(['listen'] as const)

export function runRelay(o: RelayOptions): Promise<void> {
  return new RelayLoop(o).run()
}

class RelayLoop {
  readonly #o: RelayOptions
  readonly #metrics: RelayMetrics
  readonly #status: RelayStatus
  readonly #policy: DrainPolicy
  #state: State = 'drain'
  #failures = 0
  #nextRebalance = 0
  #nextPoll = 0
  #nextRecheck = Number.POSITIVE_INFINITY
  #recheckMs = RECHECK_FIRST_MS
  #retryAt = Number.POSITIVE_INFINITY
  /** Deferred events may exist (ours, or a previous owner's): look up their retry time. */
  #checkRetries = true
  #quietSince = 0

  constructor(o: RelayOptions) {
    this.#o = o
    this.#metrics = o.metrics ?? noRelayMetrics
    this.#status = o.status ?? new RelayStatus()
    // A poll drains what it finds and stops at the first short batch: no claim after it.
    this.#policy = {
      maxAttempts: o.maxAttempts,
      backoff: o.backoff,
      reclaimAfterShort: o.mode !== 'poll',
    }
  }

  async run(): Promise<void> {
    while (!this.#o.signal.aborted) {
      try {
        await this.#rebalanceIfDue()
        this.#state = await this.#step(this.#state)
      } catch (err) {
        await this.#failed(err)
        this.#state = 'drain'
      }
    }
  }

  #step(state: State): Promise<State> {
    if (state === 'drain') return this.#drain()
    if (state === 'linger') return this.#linger()
    if (state === 'settle') return this.#settle()
    return this.#sleep()
  }

  async #drain(): Promise<State> {
    this.#o.doorbell.clear()
    // Taking the awake locks and the first claim share one round trip (pipelined). Order does
    // not matter: a writer that commits before the locks are held rings, which costs a wake-up.
    const [blocked, result] = await bothSettled(
      this.#o.mode === 'notify'
        ? Promise.resolve({ checked: [], blocked: [] })
        : this.#enterAwake(),
      this.#drainOnce(),
    )
    await this.#reportWaits('awake', blocked.checked, blocked.blocked)
    if (result.cutShort) return 'drain'
    if (this.#o.mode !== 'adaptive') return this.#toSleep()
    return result.published > 0 ? 'linger' : 'settle'
  }

  async #linger(): Promise<State> {
    const step = lingerStep(performance.now() - this.#quietSince, this.#lingerMs)
    if (step === 'settle') return 'settle'
    await sleep(step.claimInMs, this.#o.signal)
    const result = await this.#drainOnce()
    return result.cutShort ? 'drain' : 'linger'
  }

  async #settle(): Promise<State> {
    const released = [...this.#o.session.awake, ...this.#o.session.settling]
    const settling = await leaveAwake(this.#o.session)
    await this.#reportWaits('trace', released, settling)
    const result = await this.#drainOnce()
    if (result.published > 0 || result.cutShort) return 'drain'
    this.#recheckMs = RECHECK_FIRST_MS
    return this.#toSleep()
  }

  async #sleep(): Promise<State> {
    const o = this.#o
    if (this.#checkRetries) {
      const at = await earliestRetry(o.session.sql, o.session.owned)
      this.#checkRetries = at !== undefined
      this.#retryAt = at?.getTime() ?? Number.POSITIVE_INFINITY
    }
    // Recovered once nothing is left waiting for a retry (or, in #drainOnce, once something
    // got through): a pass that merely found every event deferred proves nothing.
    if (this.#failures > 0 && !this.#checkRetries) this.#recovered()
    const settling = o.session.settling.length > 0
    const recheckAt = settling ? this.#nextRecheck : Number.POSITIVE_INFINITY
    const wakeAt = Math.min(this.#nextPoll, this.#nextRebalance, this.#retryAt, recheckAt)
    const cause = await o.doorbell.wait(wakeAt - Date.now(), o.signal)
    if (cause === 'notify' || cause === 'listen') {
      this.#metrics.wokeUp(cause === 'notify' ? 'notify' : 'reconnect')
      return 'drain'
    }
    const now = Date.now()
    if (now >= this.#nextPoll) {
      this.#metrics.wokeUp('poll')
      return 'drain'
    }
    if (now >= this.#retryAt) return 'drain'
    if (settling && now >= recheckAt) return this.#recheck()
    return 'sleep'
  }

  /** A settling partition's writers may have ended: drain for those that did. */
  async #recheck(): Promise<State> {
    const before = this.#o.session.settling
    const cleared = await recheckSettling(this.#o.session)
    await this.#reportWaits('trace', before, this.#o.session.settling)
    this.#recheckMs = Math.min(this.#recheckMs * 2, RECHECK_CAP_MS)
    this.#nextRecheck = Date.now() + this.#recheckMs
    if (cleared.length === 0) return 'sleep'
    const result = await this.#drainOnce()
    return result.published > 0 || result.cutShort ? 'drain' : 'sleep'
  }

  #toSleep(): State {
    this.#nextPoll = Date.now() + this.#o.pollIntervalMs
    this.#nextRecheck = Date.now() + this.#recheckMs
    return 'sleep'
  }

  get #lingerMs(): number {
    return this.#o.lingerMs ?? DEFAULT_LINGER_MS
  }

  async #enterAwake(): Promise<{ checked: number[]; blocked: number[] }> {
    const s = this.#o.session
    const checked = s.owned.filter((p) => !s.awake.includes(p))
    return { checked, blocked: await enterAwake(s) }
  }

  async #drainOnce(): Promise<DrainResult> {
    const o = this.#o
    const result = await drain(
      o.session,
      o.batchSize,
      o.publish,
      this.#policy,
      o.signal,
      this.#nextRebalance,
    )
    const now = performance.now()
    if (result.published > 0) this.#quietSince = now
    if (result.published > 0 || result.claimed === 0) this.#status.lastProgressAt = Date.now()
    if (result.retryAt !== undefined) {
      this.#retryAt = Math.min(this.#retryAt, result.retryAt)
      this.#checkRetries = true
    }
    if (this.#failures > 0 && result.published > 0) this.#recovered()
    return result
  }

  async #rebalanceIfDue(): Promise<void> {
    const o = this.#o
    if (Date.now() < this.#nextRebalance) return
    const gained = await o.session.rebalance()
    this.#nextRebalance = Date.now() + (o.rebalanceEveryMs ?? 1000)
    this.#status.waits.keepOnly(o.session.owned)
    // A polling relay relies on no ring, so there is nothing to settle before it sleeps.
    if (o.mode === 'poll') o.session.settling = []
    if (gained.length === 0) return
    o.logger.info({ gained, owned: o.session.owned.length }, 'partitions acquired')
    this.#checkRetries = true
    this.#state = 'drain' // they may hold a backlog
  }

  /** Logs and counts, once per episode, each partition kept from us for over a second. */
  async #reportWaits(lock: WaitLock, checked: number[], blocked: number[]): Promise<void> {
    const due = this.#status.waits.attempt(lock, checked, blocked, Date.now())
    if (due.length === 0) return
    const pids = await blockingPids(
      this.#o.session.sql,
      lock,
      due.map((d) => d.partition),
    )
    for (const { partition, waitedMs } of due) {
      this.#metrics.lockWaited(lock)
      this.#o.logger.warn(
        { partition, lock, blockingPids: pids.get(partition) ?? [], waitedMs },
        lock === 'awake'
          ? 'partition held by another transaction that rang; it stays asleep meanwhile'
          : 'partition cannot go to sleep: a writer that skipped its NOTIFY is still open',
      )
    }
  }

  async #failed(err: unknown): Promise<void> {
    const o = this.#o
    this.#nextRebalance = 0
    this.#nextPoll = 0
    this.#checkRetries = true
    if (err instanceof SessionChangedError) {
      o.logger.warn('database session replaced; re-acquiring partitions')
      return
    }
    this.#failures += 1
    // Log once per state change (healthy -> failing), not once per attempt.
    if (this.#failures === 1)
      o.logger.warn({ reason: describeError(err) }, 'relay failing; backing off')
    await o.doorbell.wait(backoffDelay(this.#failures, o.backoff), o.signal, onlyListen)
  }

  #recovered(): void {
    this.#o.logger.info({ failures: this.#failures }, 'relay recovered; publishing again')
    this.#failures = 0
  }
}

/**
 * Both results, after both have finished: unlike Promise.all, a failure of one never leaves the
 * other running on (a drain still publishing while the loop starts the next one could reorder).
 */
async function bothSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b])
  if (ra.status === 'rejected') throw ra.reason
  if (rb.status === 'rejected') throw rb.reason
  return [ra.value, rb.value]
}
