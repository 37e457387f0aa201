/**
 * The advisory lock ids of the outbox protocol: the first key of every two-key advisory lock
 * the relay and the writers' trigger take (the second is a partition or a member slot). The
 * trigger's migrations spell them as literals; test/outbox/locks.test.ts keeps the two in step.
 *  - owner (p): held by the relay that owns partition p (session-level).
 *  - member (slot): one per running relay, so relays can count each other (session-level).
 *  - awake (p): held exclusively while p's relay drains; writers probe it (src/relay/awake.ts).
 *  - trace (p): held shared by each writer that may skip its NOTIFY, to its end (awake.ts).
 *  - replay (run): held by the process replaying that run, so two never drive one run.
 *  - aggregate (hash of its type and id): taken by whatever ends a parked event's hold on its
 *    aggregate, to its transaction's end, so two never release that aggregate's held events at
 *    once, each blind to the other (held.ts).
 *  - sentinel (backend pid): held by each relay session from its join (session-level), and
 *    lost only with all its locks: claims prove ownership by it (SESSION_INTACT).
 */
import type { Q } from './client'

export const LOCK = {
  owner: 780001,
  member: 780002,
  awake: 780003,
  trace: 780004,
  replay: 780005,
  sentinel: 780006,
  aggregate: 780007,
} as const

/** The channel writers NOTIFY (with an empty payload) and the relay LISTENs on. */
export const OUTBOX_CHANNEL = 'outbox_events'

/**
 * The partitions whose owner lock this backend holds, from pg_locks, as a scalar subquery for a
 * select list: it runs once per statement, and only if a row is returned.
 */
export function heldOwnerLocks(q: Q) {
  return q`(select array_agg(objid::int order by objid) from pg_locks
             where locktype = 'advisory' and classid = ${LOCK.owner} and objsubid = 2 and granted
               and pid = pg_backend_pid()
               and database = (select oid from pg_database where datname = current_database()))`
}

/**
 * Whether this backend still holds the sentinel its relay took at join, as a boolean SQL
 * expression: released and taken back at once (its key is this backend's own, nobody else's).
 * A relay loses locks it believes it holds only all together: pg_advisory_unlock_all or a
 * pooler's DISCARD ALL on its backend, or a new backend after a reconnect; the sentinel goes
 * with them. Two lock-table operations, where reading pg_locks copies every lock the server
 * holds, on every claim that returns rows.
 */
export const SESSION_INTACT = `(case when pg_advisory_unlock(${LOCK.sentinel}, pg_backend_pid())
  then pg_try_advisory_lock(${LOCK.sentinel}, pg_backend_pid()) else false end)`
