/**
 * What the relay loop tells the outside about itself: when it last made progress (for the stall
 * gauge and /readyz) and its waits on other sessions' locks (lock-waits.ts), reported here once
 * per wait, with the pids that hold the lock.
 */
import type { Logger } from '../logger'
import type { RelayMetrics } from '../observability/metrics'
import { blockingPids, enterAwake } from './awake'
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
  if (to.session.awake.length === to.session.owned.length) return
  const blocked = await enterAwake(to.session)
  await reportWaits(status, to, metrics, { lock: 'awake', ...blocked })
}
