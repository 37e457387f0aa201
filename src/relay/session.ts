/**
 * A relay's database session: one dedicated connection that holds the relay's advisory locks
 * AND runs its claims and position stores. Ownership is proven from the locks, never assumed:
 *  - every rebalance reads which owner locks this backend holds in pg_locks, and every claim
 *    that returns rows proves, in the same statement, that the backend still holds the sentinel
 *    lock taken at join (locks.ts: it goes only with all the others). A mismatch with `owned`
 *    (postgres.js reconnected to a new backend that holds nothing; a pooler's DISCARD ALL or an
 *    operator released the locks on this very backend) is OwnershipLostError: the batch is
 *    dropped unpublished, every lock still held is released, and the relay rejoins.
 *  - a frozen relay (SIGSTOP, a paused VM, a long pause) or a vanished host stops talking. The
 *    server ends such a session itself (RELAY_LIVENESS), and with it the locks, so the others
 *    take its partitions at their next rebalance. A live relay never looks idle: it sends a
 *    heartbeat every HEARTBEAT_MS. A relay that resumes may still hold a batch it claimed before
 *    the freeze: past the lease (less than the server's idle timeout since the statement that
 *    last proved ownership was sent) it proves ownership again before it publishes or stores.
 * So a batch is published by two relays only if ownership was lost while it was in hand: the
 * at-least-once duplicate consumers dedupe.
 *
 * Ownership: RELAY_PARTITIONS partitions, each owned by whoever holds the session advisory lock
 * (780001, p). Relays count each other through a membership lock (780002, slot) visible in
 * pg_locks, and each aims for ceil(partitions / relays). A relay that dies drops its locks with
 * its connection; the others pick its partitions up at their next rebalance (about a second).
 */
import type { Sql } from '../db/client'
import { RELAY_PARTITIONS } from '../db/schema'
import { heldOwnerLocks, LOCK } from '../outbox/locks'
import { Partitions, rebalancePlan, shareOf } from './partitions'
import { RELAY_LIVENESS, sessionConnection } from './relay-connection'

const MEMBER_SLOTS = 1024

/**
 * Frozen in the middle of a statement's exchange (postgres.js describes a new statement, then
 * sends the rest once the description arrives), the session is neither idle nor running: only
 * transaction_timeout (Postgres 17+) ends it. Set at join: an older server does not know it,
 * and an unknown setting in the startup packet would refuse the connection.
 */
export const TRANSACTION_TIMEOUT_MS = 15_000

/** A statement at least this often, so a live relay's session is never idle for long. */
export const HEARTBEAT_MS = 2000
/**
 * How long a proof of ownership is trusted without another: half the server's idle timeout.
 * The server counts idleness from after the proving statement was sent, so within this time it
 * cannot have ended the session for idleness, even if this process was frozen meanwhile.
 */
export const LEASE_MS = RELAY_LIVENESS.idle_session_timeout / 2

export class OwnershipLostError extends Error {
  constructor(readonly detail: string) {
    super(`the relay lost its partitions (${detail}); rejoining`)
    this.name = 'OwnershipLostError'
  }
}

type Held = { held: number[] | null; joined?: boolean }

export class RelaySession {
  readonly sql: Sql
  /** Backend pid of the session the locks were taken on; undefined before joining. */
  pid: number | undefined
  /** How many times it joined: what it knew of its partitions before a rejoin is stale. */
  joins = 0
  /** What it holds of the partitions; changed only through its transitions (partitions.ts). */
  readonly partitions = new Partitions()
  /** performance.now() when the last statement that proved ownership was sent. */
  #provenAt = Number.NEGATIVE_INFINITY
  readonly #heartbeat: NodeJS.Timeout

  constructor(
    url: string,
    applicationName: string,
    options: { debug?: (query: string) => void } = {},
  ) {
    this.sql = sessionConnection(url, applicationName, options.debug)
    this.#heartbeat = setInterval(() => {
      // Errors are the loop's to see at its next statement; a reconnect here is caught there.
      this.sql`select 1`.catch(() => {})
    }, HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  /** Joins the relay group on the current session: again from scratch after a loss. */
  async join(): Promise<void> {
    // Whatever this backend still holds of a lost membership goes first (nothing on a new one).
    await this.sql`
      select pg_advisory_unlock_all(),
             case when current_setting('server_version_num')::int >= 170000
                  then set_config('transaction_timeout', ${String(TRANSACTION_TIMEOUT_MS)}, false) end`
    const [row] = await this.sql<{ pid: number; slot: number | null; sentinel: boolean }[]>`
      select pg_backend_pid() as pid,
             (select s from generate_series(0, ${MEMBER_SLOTS - 1}) s
               where pg_try_advisory_lock(${LOCK.member}, s) limit 1) as slot,
             pg_try_advisory_lock(${LOCK.sentinel}, pg_backend_pid()) as sentinel`
    if (!row || row.slot === null) throw new Error(`more than ${MEMBER_SLOTS} relays?`)
    if (!row.sentinel) throw new Error("another session holds this backend's sentinel lock")
    this.pid = row.pid
    this.joins += 1
    this.partitions.reset()
  }

  /** The partitions it owns, ascending. */
  get owned(): number[] {
    return this.partitions.owned
  }

  /**
   * Checks what a statement sent at `sentAt` (performance.now()) read from pg_locks against
   * what this relay believes it owns. A mismatch throws OwnershipLostError; the next rebalance
   * rejoins from scratch.
   */
  proveOwnership(read: Held, sentAt: number): void {
    const held = read.held ?? []
    const same =
      read.joined !== false &&
      held.length === this.owned.length &&
      held.every((p) => this.owned.includes(p))
    if (!same) {
      this.#lost(
        held.length === 0 ? 'its session holds no partition locks' : 'its partition locks changed',
      )
    }
    this.#provenAt = Math.max(this.#provenAt, sentAt)
  }

  /** As proveOwnership, from a claim's SESSION_INTACT (locks.ts). */
  proveIntact(intact: boolean, sentAt: number): void {
    if (!intact) this.#lost('its session holds no partition locks')
    this.#provenAt = Math.max(this.#provenAt, sentAt)
  }

  #lost(detail: string): never {
    this.pid = undefined
    this.partitions.reset()
    throw new OwnershipLostError(detail)
  }

  /** Before a batch is published or stored: proves ownership again once the lease has run out. */
  async confirmLease(): Promise<void> {
    if (performance.now() - this.#provenAt < LEASE_MS) return
    const sentAt = performance.now()
    const [row] = await this.sql<Held[]>`select ${heldOwnerLocks(this.sql)} as held`
    this.proveOwnership(row ?? { held: null }, sentAt)
  }

  /**
   * Takes or gives back partitions so that every live relay owns a fair share.
   * Returns the partitions newly acquired (they may hold a backlog to drain at once).
   */
  async rebalance(beforeRelease?: () => Promise<void>): Promise<number[]> {
    if (this.pid === undefined) await this.join()
    const sentAt = performance.now()
    const [row] = await this.sql<(Held & { relays: number; joined: boolean })[]>`
      select count(*) filter (where classid = ${LOCK.member})::int as relays,
             coalesce(bool_or(classid = ${LOCK.member} and pid = pg_backend_pid()), false) as joined,
             array_agg(objid::int) filter (where classid = ${LOCK.owner} and pid = pg_backend_pid()) as held
        from pg_locks
       where locktype = 'advisory' and objsubid = 2 and granted
         and classid in (${LOCK.member}, ${LOCK.owner})
         -- Advisory locks are per database: relays of other databases on this server are not peers.
         and database = (select oid from pg_database where datname = current_database())`
    if (!row) throw new Error('pg_locks returned no row')
    this.proveOwnership(row, sentAt)
    const plan = rebalancePlan(this.owned, shareOf(RELAY_PARTITIONS, row.relays))
    if ('release' in plan) {
      const extra = plan.release
      // What was published there is stored first, or the next owner publishes it again.
      await beforeRelease?.()
      await this.sql`
        select pg_advisory_unlock(${LOCK.awake}, p) from unnest(${this.partitions.awake.filter((p) => extra.includes(p))}::int[]) p`
      await this.sql`select pg_advisory_unlock(${LOCK.owner}, p) from unnest(${extra}::int[]) p`
      this.partitions.released(extra)
      return []
    }
    if (plan.acquire === 0) return []
    // OFFSET 0 keeps the subquery from being flattened, so the lock is only ever tried on
    // partitions we do not hold yet (a second grant of a lock we hold would need two unlocks).
    const gained = await this.sql<{ p: number }[]>`
      select p from (
        select p from generate_series(0, ${RELAY_PARTITIONS - 1}) p
         where p <> all(${this.owned}::int[]) offset 0
      ) free
      where pg_try_advisory_lock(${LOCK.owner}, p)
      limit ${plan.acquire}`
    const added = gained.map((r) => r.p)
    this.partitions.acquired(added)
    return added
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat)
    await this.sql.end({ timeout: 1 })
  }
}
