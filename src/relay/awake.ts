/**
 * Awake and asleep, for the adaptive doorbell (drizzle/0003_adaptive_doorbell.sql).
 *
 * While awake, the relay holds the awake lock (780003, p) of every partition it owns, and
 * writers to those partitions skip their NOTIFY. Going to sleep must not strand a row whose
 * writer skipped the NOTIFY but committed after the relay's last drain. The argument:
 *
 *  1. A writer skips only if its lock probe fails, i.e. while this relay holds (or queues for)
 *     the awake lock: strictly before step 2 below. By then the writer has inserted its row,
 *     so it has a transaction id.
 *  2. The relay releases its awake locks. From now on every writer's probe succeeds: it
 *     NOTIFYs, and the LISTEN connection (open throughout) latches the doorbell.
 *  3. After the release, the relay commits a transaction id of its own, X, then reads
 *     pg_current_snapshot(). Every writer of step 1 got its xid before the release, so before
 *     X; X is completed, so the snapshot's xmax is past X, and every such writer still running
 *     is in its xip list. (A snapshot lists only running xids below xmax, and xmax is one past
 *     the latest *completed* xid: without X, a writer newer than every finished transaction
 *     would be missing. A snapshot taken before the release could miss a writer whose xid was
 *     assigned between the two.)
 *  4. It waits until each listed transaction has committed or aborted (pg_xact_status),
 *     polling gently. An unrelated long transaction only delays the sleep: past a short wait
 *     the relay takes the locks back and stays awake, polling, and tries again later.
 *  5. It drains once more. Every row of step 1 is now committed (visible) or rolled back.
 *
 * If that last drain finds something, the relay stays awake. Correctness never depends on this
 * argument alone: the fallback poll still runs.
 *
 * A partition can change hands while its relay is awake (a rebalance under load gives it away,
 * awake lock and all). Its writers that skipped got their xids before that release, so before
 * the new owner could take the partition; the new owner drains it at once, and before it ever
 * sleeps it runs steps 2-5 itself, whose snapshot comes after that release too. So the same
 * argument covers the writers that skipped because of the previous owner.
 */
import { LOCK, type RelaySession } from './session'

/**
 * Takes the awake locks of owned partitions not yet held. A writer that got a partition's lock
 * (shared) rings, and holds the lock to its commit; the relay's exclusive lock must wait for it.
 * When load starts after a sleep, every writer rings, and their NOTIFYs serialise their commits
 * (each holds the notify lock through its WAL flush), so such a writer may take tens of ms to
 * commit. One blocking statement for all partitions waited for them one partition after another
 * while the writers of the partitions not yet reached kept ringing: 32 writers starting at once
 * left the locks untaken for up to 250 ms, and reached 54-63% of their rate in quarter-second
 * slices. So the free locks are taken at once, and the held ones in further rounds of one
 * round trip (pausing 1 ms from the fourth): each partition taken stops its writers' rings, so
 * the rest come free as the rings already made commit (all taken within 90 ms, 75-77% of the
 * rate, same measure). Past TRY_ROUNDS the rest are waited for (a long transaction holds one).
 */
export async function enterAwake(session: RelaySession): Promise<void> {
  let missing = session.owned.filter((p) => !session.awake.includes(p))
  for (let round = 0; missing.length > 0 && round < TRY_ROUNDS; round++) {
    if (round >= 3) await new Promise((r) => setTimeout(r, 1))
    const rows = await session.sql<{ p: number }[]>`
      select p from unnest(${missing}::int[]) p where pg_try_advisory_lock(${LOCK.awake}, p)`
    const taken = new Set(rows.map((r) => r.p))
    session.awake = [...session.awake, ...taken]
    missing = missing.filter((p) => !taken.has(p))
  }
  if (missing.length === 0) return
  await session.sql`select pg_advisory_lock(${LOCK.awake}, p) from unnest(${missing}::int[]) p`
  session.awake = [...session.awake, ...missing]
}

const TRY_ROUNDS = 100

/**
 * Steps 2-4: release the awake locks, then wait out every transaction in progress.
 * Returns false if some transaction outlived `maxWaitMs` (a long transaction anywhere in the
 * cluster: another relay stuck on the broker, a report, a migration): the relay then takes its
 * awake locks back and stays awake, polling, rather than stalling here; it tries again later.
 */
export async function leaveAwake(
  session: RelaySession,
  signal: AbortSignal,
  maxWaitMs = 250,
): Promise<boolean> {
  if (session.awake.length === 0) return true
  const held = session.awake
  session.awake = []
  // The three statements are pipelined (one round trip) and still run one after the other, each
  // committing before the next starts.
  const [, , rows] = await Promise.all([
    session.sql`select pg_advisory_unlock(${LOCK.awake}, p) from unnest(${held}::int[]) p`,
    // A snapshot lists as in progress only xids below its xmax, and xmax is one past the latest
    // *completed* xid: a writer whose xid is newer than every finished transaction would be
    // missing from the list (the adaptive-wakeup test caught exactly that). Committing an xid of
    // our own first, assigned after the release and so newer than any skipping writer's, pushes
    // xmax past all of them.
    session.sql`select pg_current_xact_id()`,
    session.sql<{ xid: string }[]>`select pg_snapshot_xip(pg_current_snapshot())::text as xid`,
  ])
  let pending = rows.map((r) => r.xid)
  const giveUpAt = Date.now() + maxWaitMs
  for (let pause = 1; pending.length > 0 && !signal.aborted; pause = Math.min(pause * 2, 50)) {
    if (Date.now() > giveUpAt) {
      await enterAwake(session)
      return false
    }
    await new Promise((r) => setTimeout(r, pause))
    const still = await session.sql<{ xid: string }[]>`
      select x::text as xid from unnest(${pending}::xid8[]) x
       where pg_xact_status(x) = 'in progress'`
    pending = still.map((r) => r.xid)
  }
  return true
}
