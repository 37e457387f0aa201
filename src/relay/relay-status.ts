/**
 * What the relay loop tells the outside about itself: when it last made progress (for the stall
 * gauge and /readyz), its waits on other sessions' locks (lock-waits.ts), reported here once
 * per wait with the pids that hold the lock, and its dead letters and failures: the drain policy
 * built here reports them as they happen.
 */
import type { WakeupMode } from '../db/doorbell-trigger'
import type { Logger } from '../logger'
import type { RelayMetrics } from '../observability/metrics'
import type { DeadLetter } from '../outbox/parked'
import { blockingPids, enterAwake } from './awake'
import type { DrainPolicy } from './drain'
import { LockWaits, type WaitLock } from './lock-waits'
import type { RelaySession } from './session'

/** What the loop tells the outside about itself; read by the stall gauge and /readyz. */
export class RelayStatus {
  /** When the relay last caught up (a claim found nothing) or published (epoch ms). */
  lastProgressAt = Date.now()
  readonly waits = new LockWaits()
  /** Set once the relay joined its group: until then it cannot know it can do its job. */
  databaseReached = false
  /** Set once a producer connected or a batch was acknowledged. */
  brokerReached = false
  /** The loop's last failure, for readiness to say why the database was not reached. */
  lastFailure: string | undefined
}

/** Logs and counts, once per wait, each partition kept from the relay for over a second. */
export async function reportWaits(
  status: RelayStatus,
  to: { session: RelaySession; logger: Logger },
  metrics: RelayMetrics,
  attempt: { lock: WaitLock; checked: number[]; blocked: number[] },
): Promise<void> {
  const { lock, checked, blocked } = attempt
  const due = status.waits.attempt(lock, checked, blocked, Date.now())
  if (due.length === 0) return
  const pids = await blockingPids(
    to.session.sql,
    lock,
    due.map((d) => d.partition),
  )
  for (const { partition, waitedMs } of due) {
    metrics.lockWaited(lock)
    to.logger.warn(
      { partition, lock, blockingPids: pids.get(partition) ?? [], waitedMs },
      lock === 'awake'
        ? 'partition held by another transaction that rang; it stays asleep meanwhile'
        : 'partition cannot go to sleep: a writer that skipped its NOTIFY is still open',
    )
  }
}

/** Tries the awake locks not yet held (awake.ts), and reports those a writer that rang holds. */
export async function tryAwake(
  status: RelayStatus,
  to: { session: RelaySession; logger: Logger },
  metrics: RelayMetrics,
): Promise<void> {
  if (to.session.partitions.allAwake) return
  const blocked = await enterAwake(to.session)
  await reportWaits(status, to, metrics, { lock: 'awake', ...blocked })
}

/** One warning per dead-lettered event, and the counter. */
export function reportDead(dead: readonly DeadLetter[], logger: Logger, metrics: RelayMetrics) {
  for (const d of dead) {
    logger.warn(d, "event dead-lettered; its aggregate's later events wait for an operator")
  }
  if (dead.length > 0) metrics.deadLettered(dead.length)
}

/**
 * The loop's drain policy: a poll drains what it finds and stops at the first short batch; with
 * every claim, in its round trip (drain.ts), the awake locks a ringing writer held are tried
 * again, since under a steady stream a drain never ends and those writers would ring on.
 */
export function drainPolicy(
  o: DrainPolicy & { mode: WakeupMode; session: RelaySession; logger: Logger },
  status: RelayStatus,
  metrics: RelayMetrics,
): DrainPolicy {
  return {
    ...o,
    reclaimAfterShort: o.mode !== 'poll',
    withClaim: o.mode === 'notify' ? undefined : () => tryAwake(status, o, metrics),
    onDead: (dead) => reportDead(dead, o.logger, metrics),
    onFailure: (failure) => metrics.publishFailed(failure),
  }
}
