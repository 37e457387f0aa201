/**
 * The relay's Postgres connections: the session that holds its locks and claims (session.ts),
 * the LISTEN connections (listener.ts), and the side pools for metrics, readiness and retention
 * (start-relay.ts). One backend each, reconnecting quickly (the relay backs off itself), quiet
 * about notices, named in pg_stat_activity, and never waiting long on another session's lock.
 */
import postgres from 'postgres'
import { reconnectBackoff } from '../db/client'

/**
 * The relay never waits on another session: its advisory locks are only ever tried. A row or
 * table lock held elsewhere (an operator's update, a migration) fails the statement after this
 * long, and the relay backs off and retries instead of hanging.
 */
export const RELAY_SESSION_TIMEOUTS = { lock_timeout: 2000, statement_timeout: 30_000 }

/**
 * On the lock-holding session only: the server ends it, and so frees its partitions, once the
 * relay stops talking. Idle (a frozen process): idle_session_timeout. A host gone without a
 * FIN: keepalives while idle, tcp_user_timeout while the server's replies go unacknowledged.
 * Without these a vanished host keeps its partitions until the kernel's keepalive (hours).
 * Its statements are cut at 10 s, before TRANSACTION_TIMEOUT_MS ends the session.
 */
export const RELAY_LIVENESS = {
  statement_timeout: 10_000,
  idle_session_timeout: 10_000,
  idle_in_transaction_session_timeout: 10_000,
  tcp_keepalives_idle: 5,
  tcp_keepalives_interval: 2,
  tcp_keepalives_count: 3,
  tcp_user_timeout: 10_000,
}

type Settings = Record<string, string | number>

/** `settings` go after the defaults: a statement_timeout there is this connection's. */
export function relayConnection(
  url: string,
  applicationName: string,
  o: {
    settings?: Settings
    connectTimeout?: number
    /** The lock-holding session's: never idle-closed nor recycled, and its debug hook. */
    keep?: { debug?: (connection: number, query: string) => void }
  } = {},
): postgres.Sql {
  return postgres(url, {
    max: 1,
    connect_timeout: o.connectTimeout ?? 5,
    backoff: reconnectBackoff,
    onnotice: () => {},
    ...(o.keep ? { idle_timeout: 0, max_lifetime: null, ...o.keep } : {}),
    connection: {
      application_name: applicationName,
      ...RELAY_SESSION_TIMEOUTS,
      ...o.settings,
    },
  })
}

/**
 * The lock-holding session's connection, never closed when idle nor recycled (that would drop
 * its locks). Index scans only: a plain index scan skips index entries it found dead before,
 * where a bitmap scan visits the heap for each every time, and a plan prepared on an empty
 * outbox must not keep a sequential scan (docs/benchmarks.md, "Plain index scans"). Generic
 * plans: the planner misjudges the claim's generic plan and would plan every claim anew, which
 * costs more than running it; the plans are the same.
 */
export function sessionConnection(
  url: string,
  applicationName: string,
  debug?: (query: string) => void,
): postgres.Sql {
  return relayConnection(url, applicationName, {
    keep: debug ? { debug: (_: number, query: string) => debug(query) } : {},
    settings: {
      enable_bitmapscan: 'off',
      enable_seqscan: 'off',
      plan_cache_mode: 'force_generic_plan',
      ...RELAY_LIVENESS,
    },
  })
}
