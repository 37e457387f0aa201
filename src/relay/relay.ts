/**
 * The relay loop, a state machine: one method per state, each returning the next.
 *
 *   DRAIN   claim, publish, advance until a claim finds nothing (poll: until a short batch); with
 *           each claim, try the awake locks not yet held (adaptive, poll; awake.ts).
 *           -> LINGER if it published, SETTLE if not (adaptive); SLEEP (notify, poll)
 *   LINGER  claim again every millisecond until 20 ms (the linger) pass with nothing new. -> SETTLE
 *   SETTLE  release the awake locks, check the trace locks, drain once more (awake.ts argues
 *           why this strands nothing).  -> DRAIN if that drain found events, else SLEEP
 *   SLEEP   wait for the first of: a ring (NOTIFY, re-LISTEN), the poll timer, a retry time, a
 *           settling partition's re-check, the rebalance tick, abort.  -> DRAIN
 * Before each step: rebalance when due (about every second); partitions gained -> DRAIN. A
 * drain cut short by a due rebalance -> DRAIN. Any failure -> back off (failures.ts) -> DRAIN.
 *
 * Modes differ only in who rings: `adaptive` writers NOTIFY only while the relay sleeps,
 * `notify` writers always do, `poll` writers never do. A notification is only a latency hint:
 * the poll timer alone delivers everything. Shutdown is checked between batches; a batch in
 * hand is finished or abandoned (not advanced past: published again later).
 */
import type { WakeupMode } from '../db/doorbell-trigger'
import type { Logger } from '../logger'
import { noRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { earliestRetry } from '../outbox/parked'
import { leaveAwake, recheckSettling } from './awake'
import type { BackoffOptions } from './backoff'
import { describeError } from './classify-error'
import { type Doorbell, sleep } from './doorbell'
import { type DrainPolicy, type DrainResult, drain } from './drain'
import { Failures } from './failures'
import { lingerStep } from './linger'
import { positionsOf } from './positions'
import type { Publish } from './publish'
import { drainPolicy, RelayStatus, reportWaits } from './relay-status'
import type { RelaySession } from './session'
import { WakeTimers } from './wake-timers'

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
  /** KAFKA_TOPIC_TEMPLATE: each claimed message is routed by it, once. */
  topicTemplate: string
  signal: AbortSignal
  rebalanceEveryMs?: number
  /** Adaptive: stay awake this long after the last event (linger.ts); default 20. */
  lingerMs?: number
  metrics?: RelayMetrics
  /** Where the loop reports its progress and waits, for metrics and /readyz. */
  status?: RelayStatus
}

type State = 'drain' | 'linger' | 'settle' | 'sleep'

export function runRelay(o: RelayOptions): Promise<void> {
  return new RelayLoop(o).run()
}

class RelayLoop {
  readonly #metrics: RelayMetrics
  readonly #status: RelayStatus
  readonly #timers: WakeTimers
  readonly #failures: Failures
  readonly #policy: DrainPolicy
  readonly #asleepPolicy: DrainPolicy // SETTLE and re-checks: no awake locks taken back
  #state: State = 'drain'
  #quietSince = 0

  constructor(readonly o: RelayOptions) {
    this.#metrics = o.metrics ?? noRelayMetrics
    this.#status = o.status ?? new RelayStatus()
    this.#timers = new WakeTimers(o.pollIntervalMs, o.rebalanceEveryMs ?? 1000)
    this.#failures = new Failures(o.logger, o.backoff)
    this.#policy = drainPolicy(o, this.#status, this.#metrics)
    this.#asleepPolicy = { ...this.#policy, withClaim: undefined }
  }

  async run(): Promise<void> {
    while (!this.o.signal.aborted) {
      try {
        await this.#rebalanceIfDue()
        this.#state = await this.#step(this.#state)
      } catch (err) {
        this.#status.lastFailure = describeError(err)
        this.#timers.reset()
        await this.#failures.failed(err, this.o.doorbell, this.o.signal)
        this.#state = 'drain'
      }
    }
    // What was published since the last store, stored now: a restart need not publish it again.
    await positionsOf(this.o.session)
      .store(this.o.session)
      .catch(() => {})
  }

  #step(state: State): Promise<State> {
    if (state === 'drain') return this.#drain()
    if (state === 'linger') return this.#linger()
    if (state === 'settle') return this.#settle()
    return this.#sleep()
  }

  async #drain(): Promise<State> {
    this.o.doorbell.clear()
    const result = await this.#drainOnce()
    if (result.cutShort) return 'drain'
    if (this.o.mode !== 'adaptive') return this.#toSleep(false)
    return result.published > 0 ? 'linger' : 'settle'
  }

  async #linger(): Promise<State> {
    const step = lingerStep(performance.now() - this.#quietSince, this.o.lingerMs ?? 20)
    if (step === 'settle') return 'settle'
    await sleep(step.claimInMs, this.o.signal)
    const result = await this.#drainOnce()
    return result.cutShort ? 'drain' : 'linger'
  }

  async #settle(): Promise<State> {
    const released = [...this.o.session.partitions.awake, ...this.o.session.partitions.settling]
    const settling = await leaveAwake(this.o.session)
    await this.#report({ lock: 'trace', checked: released, blocked: settling })
    const result = await this.#drainOnce(this.#asleepPolicy)
    if (result.published > 0 || result.cutShort) return 'drain'
    return this.#toSleep(true)
  }

  async #sleep(): Promise<State> {
    const o = this.o
    const timers = this.#timers
    if (timers.checkRetries) timers.retriesAt(await earliestRetry(o.session.sql, o.session.owned))
    // Recovered once nothing waits for a retry (or, in #drainOnce, once something got
    // through): a pass that merely found every event deferred proves nothing.
    if (!timers.checkRetries) this.#failures.recovered()
    const settling = o.session.partitions.settling.length > 0
    const cause = await o.doorbell.wait(timers.wakeAt(settling) - Date.now(), o.signal)
    if (cause === 'notify' || cause === 'listen') {
      this.#metrics.wokeUp(cause === 'notify' ? 'notify' : 'reconnect')
      return 'drain'
    }
    const due = timers.due(Date.now(), settling)
    if (due === 'poll') this.#metrics.wokeUp('poll')
    if (due === 'recheck') return this.#recheck()
    return due === 'tick' ? 'sleep' : 'drain'
  }

  /** A settling partition's writers may have ended: drain for those that did. */
  async #recheck(): Promise<State> {
    const partitions = this.o.session.partitions
    const before = partitions.settling
    const cleared = await recheckSettling(this.o.session)
    await this.#report({ lock: 'trace', checked: before, blocked: partitions.settling })
    this.#timers.rechecked(Date.now())
    if (cleared.length === 0) return 'sleep'
    const result = await this.#drainOnce(this.#asleepPolicy)
    return result.published > 0 || result.cutShort ? 'drain' : 'sleep'
  }

  #toSleep(freshSettle: boolean): State {
    this.#timers.sleeping(Date.now(), freshSettle)
    return 'sleep'
  }

  #report = (attempt: Parameters<typeof reportWaits>[3]) =>
    reportWaits(this.#status, this.o, this.#metrics, attempt)

  async #drainOnce(policy = this.#policy): Promise<DrainResult> {
    const { session, batchSize, publish, signal } = this.o
    const until = this.#timers.nextRebalance
    const result = await drain(session, batchSize, publish, policy, signal, until)
    if (result.published > 0) {
      this.#quietSince = performance.now()
      this.#failures.recovered()
    }
    if (result.published > 0 || result.claimed === 0) this.#status.lastProgressAt = Date.now()
    if (result.retryAt !== undefined) this.#timers.deferred(result.retryAt)
    return result
  }

  async #rebalanceIfDue(): Promise<void> {
    const o = this.o
    if (Date.now() < this.#timers.nextRebalance) return
    const gained = await o.session.rebalance(() => positionsOf(o.session).store(o.session))
    this.#status.databaseReached = true
    this.#timers.rebalanced(Date.now())
    this.#status.waits.keepOnly(o.session.owned)
    // A polling relay relies on no ring, so there is nothing to settle before it sleeps.
    if (o.mode === 'poll') o.session.partitions.settled([])
    if (gained.length === 0) return
    o.logger.info({ gained, owned: o.session.owned.length }, 'partitions acquired')
    this.#timers.checkRetries = true
    this.#state = 'drain' // they may hold a backlog
  }
}
