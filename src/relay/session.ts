/**
 * A relay's database session: one dedicated connection that holds the relay's advisory locks
 * AND runs its claims and marks. Because both live on one session, a relay that has lost its
 * session has lost its partitions too, and finds out at its next claim (below) before it
 * publishes anything more. A mark that lands after the loss is still true (it follows the
 * broker's acknowledgement); the new owner may publish the same rows once more, the
 * at-least-once duplicate consumers dedupe.
 *
 * postgres.js reconnects a dropped connection silently on the next query. The new session holds
 * no locks, so every claim also reads pg_backend_pid(): a changed pid means "start over":
 * ownership is reset and re-acquired before anything is claimed.
 *
 * Ownership: RELAY_PARTITIONS partitions, each owned by whoever holds the session advisory lock
 * (780001, p). Relays count each other through a membership lock (780002, slot) visible in
 * pg_locks, and each aims for ceil(partitions / relays). A relay that dies drops its locks with
 * its connection; the others pick its partitions up at their next rebalance (about a second).
 */
import postgres from 'postgres'
import { reconnectBackoff, type Sql } from '../db/client'
import { RELAY_PARTITIONS } from '../db/schema'
import { LOCK } from '../outbox/locks'

const MEMBER_SLOTS = 1024

/**
 * On every connection of the relay (this session, the listener's). The relay never waits on
 * another session: its advisory locks are only ever tried. A row or table lock held elsewhere
 * (an operator's update, a migration) fails the statement after this long, and the relay backs
 * off and retries instead of hanging.
 */
export const RELAY_SESSION_TIMEOUTS = { lock_timeout: 2000, statement_timeout: 30_000 }

export class SessionChangedError extends Error {
  constructor() {
    super('the relay database session was replaced; partitions must be re-acquired')
    this.name = 'SessionChangedError'
  }
}

export class RelaySession {
  readonly sql: Sql
  /** Backend pid of the session the locks were taken on; undefined before joining. */
  pid: number | undefined
  owned: number[] = []
  /** Partitions whose awake lock this session holds (adaptive and poll modes). */
  awake: number[] = []
  /** Partitions released from awake, or newly owned, whose trace check has not yet passed. */
  settling: number[] = []

  constructor(url: string, applicationName: string) {
    this.sql = postgres(url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null, // recycling the connection would drop its locks
      connect_timeout: 5,
      backoff: reconnectBackoff,
      onnotice: () => {},
      connection: {
        application_name: applicationName,
        // Every mark leaves a dead entry in the partial index of unpublished rows until vacuum
        // reaches it. A bitmap scan visits the heap for each of them on every claim and probe,
        // and never learns (measured: 50,000 marks made each probe read 821 heap pages, 2 ms,
        // and the adaptive relay fell seconds behind at 1,000 orders/s). A plain index scan
        // marks them dead in the index as it passes (kill_prior_tuple), so later scans skip
        // them. The planner, with stale statistics on a fast-changing table, picks the bitmap.
        enable_bitmapscan: 'off',
        // Every statement of the relay has an index made for it. postgres.js prepares them,
        // and Postgres keeps a generic plan after five runs: planned on an empty outbox (a new
        // deployment), a sequential scan looks cheapest and stays until the table is analyzed.
        // A mark planned so compared every row with every id of its batch (measured: the
        // relay's backend at 37% CPU instead of 12%; test/relay/query-plans.test.ts).
        enable_seqscan: 'off',
        ...RELAY_SESSION_TIMEOUTS,
      },
    })
  }

  /** Joins the relay group on the current session (again, if the session changed). */
  async join(): Promise<void> {
    const [row] = await this.sql<{ pid: number; slot: number | null }[]>`
      select pg_backend_pid() as pid,
             (select s from generate_series(0, ${MEMBER_SLOTS - 1}) s
               where pg_try_advisory_lock(${LOCK.member}, s) limit 1) as slot`
    if (!row || row.slot === null) throw new Error(`more than ${MEMBER_SLOTS} relays?`)
    this.pid = row.pid
    this.owned = []
    this.awake = []
    this.settling = []
  }

  /** Throws SessionChangedError if postgres.js reconnected under us. */
  assertSession(pid: number): void {
    if (pid !== this.pid) {
      this.pid = undefined
      throw new SessionChangedError()
    }
  }

  /**
   * Takes or gives back partitions so that every live relay owns a fair share.
   * Returns the partitions newly acquired (they may hold a backlog to drain at once).
   */
  async rebalance(): Promise<number[]> {
    if (this.pid === undefined) await this.join()
    const [row] = await this.sql<{ pid: number; relays: number }[]>`
      select pg_backend_pid() as pid, count(*)::int as relays from pg_locks
       where locktype = 'advisory' and classid = ${LOCK.member} and objsubid = 2 and granted
         -- Advisory locks are per database: relays of other databases on this server are not peers.
         and database = (select oid from pg_database where datname = current_database())`
    if (!row) throw new Error('pg_locks returned no row')
    this.assertSession(row.pid)
    const share = Math.ceil(RELAY_PARTITIONS / Math.max(row.relays, 1))
    if (this.owned.length > share) {
      const extra = this.owned.slice(share)
      await this.sql`
        select pg_advisory_unlock(${LOCK.awake}, p) from unnest(${this.awake.filter((p) => extra.includes(p))}::int[]) p`
      await this.sql`select pg_advisory_unlock(${LOCK.owner}, p) from unnest(${extra}::int[]) p`
      this.owned = this.owned.slice(0, share)
      this.awake = this.awake.filter((p) => this.owned.includes(p))
      // The new owner checks their trace locks itself (awake.ts).
      this.settling = this.settling.filter((p) => this.owned.includes(p))
      return []
    }
    if (this.owned.length === share) return []
    // OFFSET 0 keeps the subquery from being flattened, so the lock is only ever tried on
    // partitions we do not hold yet (a second grant of a lock we hold would need two unlocks).
    const gained = await this.sql<{ p: number }[]>`
      select p from (
        select p from generate_series(0, ${RELAY_PARTITIONS - 1}) p
         where p <> all(${this.owned}::int[]) offset 0
      ) free
      where pg_try_advisory_lock(${LOCK.owner}, p)
      limit ${share - this.owned.length}`
    const added = gained.map((r) => r.p)
    this.owned = [...this.owned, ...added].sort((a, b) => a - b)
    // Writers that skipped their NOTIFY under the previous owner may still be running.
    this.settling = [...this.settling, ...added]
    return added
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 1 })
  }
}
