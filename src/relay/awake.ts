/**
 * Awake and asleep, for the adaptive doorbell: the one place that argues why going to sleep
 * strands no event. docs/design.md and the trigger's migration (drizzle/0012) point here.
 *
 * Two advisory locks per partition p. The relay holds the awake lock (A, p) exclusively while
 * it drains p. A writer's trigger first takes the trace lock (T, p) shared, then probes A
 * shared without waiting: if the probe fails the relay is awake and the writer skips its
 * NOTIFY; otherwise it rings. Both locks are transaction-level, held to the writer's end.
 *
 * Claim: once the relay has released A (p) and then taken T (p) exclusively without waiting,
 * every writer of p that skipped its NOTIFY has ended, and its commit is visible to the relay's
 * next claim. So after that check, one more drain, and p may sleep: its later writers ring.
 *  1. A writer skips only if it holds T and its probe of A failed, i.e. the relay held A at the
 *     probe: strictly before the release. It took T before the probe and keeps it to its end.
 *  2. So when the relay takes T after the release, every writer that skipped has ended (a
 *     writer still running would hold T). One that has not ended makes the check fail, and the
 *     partition stays settling: re-checked on a timer, never waited on.
 *  3. Ended means visible: a committing backend leaves the proc array (its commit becomes part
 *     of every new snapshot) before it releases its locks. pg_xact_status alone would not say
 *     that: the commit log is written before the proc array is updated.
 *  4. After the release, a new writer's probe of A succeeds, so it rings (at worst a NOTIFY too
 *     many, when it probes T while the relay holds it for the check).
 * A partition that changes hands (rebalance, a relay that died) is settling for its new owner
 * until a check passes: writers that skipped because of the old owner still hold T.
 * Correctness never rests on this argument alone: the fallback poll delivers everything.
 */
import { LOCK } from '../outbox/locks'
import type { WaitLock } from './lock-waits'
import type { RelaySession } from './session'

/**
 * Takes the awake locks of owned partitions not yet held, without waiting. Returns those it
 * tried, and those it could not take: a writer that rang holds A shared to its commit. Those stay
 * asleep (their writers go on ringing) until a try with a later claim succeeds (relay.ts); a
 * long transaction there holds back no other partition.
 */
export async function enterAwake(
  session: RelaySession,
): Promise<{ checked: number[]; blocked: number[] }> {
  const missing = session.partitions.asleep()
  if (missing.length === 0) return { checked: [], blocked: [] }
  const rows = await session.sql<{ p: number }[]>`
    select p from unnest(${missing}::int[]) p where pg_try_advisory_lock(${LOCK.awake}, p)`
  const taken = new Set(rows.map((r) => r.p))
  session.partitions.woke(taken)
  return { checked: missing, blocked: missing.filter((p) => !taken.has(p)) }
}

/**
 * Steps 1-2 for every partition: releases the awake locks held, then checks the trace lock of
 * each partition released now or still settling from before. Returns those still settling.
 * The check must reach Postgres after the release (step 2), so the release is awaited first:
 * postgres.js sends a statement when it is first awaited, not when it is built.
 */
export async function leaveAwake(session: RelaySession): Promise<number[]> {
  const { released, check } = session.partitions.fellAsleep()
  if (released.length > 0) {
    await session.sql`select pg_advisory_unlock(${LOCK.awake}, p) from unnest(${released}::int[]) p`
  }
  session.partitions.settled(await busyTraces(session, check))
  return session.partitions.settling
}

/** Step 2 again for the partitions still settling; returns those that now may sleep. */
export async function recheckSettling(session: RelaySession): Promise<number[]> {
  const before = session.partitions.settling
  session.partitions.settled(await busyTraces(session, before))
  return before.filter((p) => !session.partitions.settling.includes(p))
}

/**
 * The partitions whose trace lock some writer still holds. The exclusive lock is taken for the
 * length of this one statement (transaction-level), so nothing is left to unlock.
 */
async function busyTraces(session: RelaySession, partitions: number[]): Promise<number[]> {
  if (partitions.length === 0) return []
  const rows = await session.sql<{ p: number }[]>`
    select p from unnest(${partitions}::int[]) p where not pg_try_advisory_xact_lock(${LOCK.trace}, p)`
  return rows.map((r) => r.p)
}

/** Who holds the `lock` of each of these partitions, other than us: for the wait's log line. */
export async function blockingPids(
  sql: RelaySession['sql'],
  lock: WaitLock,
  partitions: number[],
): Promise<Map<number, number[]>> {
  const rows = await sql<{ p: number; pids: number[] }[]>`
    select objid::int as p, array_agg(pid order by pid) as pids from pg_locks
     where locktype = 'advisory' and classid = ${LOCK[lock]} and objsubid = 2 and granted
       and objid = any(${partitions}::int[]) and pid <> pg_backend_pid()
       and database = (select oid from pg_database where datname = current_database())
     group by objid`
  return new Map(rows.map((r) => [r.p, r.pids]))
}
