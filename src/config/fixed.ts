/**
 * Values that were settings once and are not: no deployment needs another one, so each is a
 * decision made here, with its reason beside it. They reach the modules through the `Config`
 * object like the settings do, so a test can shorten one (the relay's backoff, say) without
 * making it a setting.
 */

/** The API's Postgres connections per process. Each order is one statement; postgres.js
 * pipelines statements on a busy connection, so a few connections carry many concurrent
 * requests, and more backends than the database's cores only make them contend. */
export const API_DB_POOL_SIZE = 8

export const fixed = {
  kafka: {
    /** Names the relay in broker logs and quotas. */
    clientId: 'outbox-relay',
    /** A connect and send taking longer is presumed stuck: the producer is rebuilt and the
     * batch retried. kafkajs's own request timeout is as long, so a slow but live broker is
     * never cut off first. */
    sendTimeoutMs: 30_000,
  },
  relay: {
    /** Failures of class `retriable` (an unreachable broker never counts) before an event is
     * dead-lettered: ten, with the backoff below, is minutes of the same refusal. */
    maxAttempts: 10,
    /** How long an adaptive relay stays awake after its last event (linger.ts): long enough
     * to bridge a busy writer's gaps, so that writers skip their NOTIFY; short enough that an
     * idle relay goes to sleep almost at once. docs/benchmarks.md measures what it buys. */
    lingerMs: 20,
    /** The first retry soon enough to ride out a leader change; the cap keeps a long outage
     * to one probe every 30 s (exponential, full jitter: backoff.ts). */
    backoff: { baseMs: 100, capMs: 30_000 },
    /** The `ce_source` of events whose row names none. The API's own events are the orders
     * API's; another service writing to the outbox sets its row's `source`. */
    eventSource: '/orders-api',
  },
  retention: {
    /** Small deletes interleave with the writers instead of holding locks on many rows. */
    batchSize: 1000,
    /** The outbox stays within a minute of OUTBOX_RETENTION. */
    intervalMs: 60_000,
  },
  http: {
    /** An order is a few hundred bytes; a body 100 times that is a mistake or an attack. */
    maxBodyBytes: 64 * 1024,
    /** A request is one short transaction: 10 s means the database is in trouble, and the
     * client retries with the same Idempotency-Key. */
    requestTimeoutMs: 10_000,
  },
  /** A day covers any client's retries of one request. */
  idempotencyTtlMs: 24 * 3600_000,
  /** `/readyz` fails when the oldest publishable event is this old (s). A relay that keeps up
   * publishes within milliseconds, so a minute means stuck or far behind; tighter alerts
   * belong on `outbox_oldest_pending_age_seconds`. */
  readyMaxLagSeconds: 60,
  /** A stopping relay waits this long for its batch in flight, then abandons it (published
   * again later): inside Docker's default 10 s stop timeout and Kubernetes' 30 s grace. */
  shutdownTimeoutMs: 5000,
  /** The example consumer, a pattern to copy: a team that copies it changes these in code. */
  consumer: {
    groupId: 'inventory',
    /** Names it in broker logs, apart from the relay. */
    clientId: 'inventory-consumer',
    /** Its inbox makes redelivery harmless: this trades work redone after a crash against
     * commit traffic. */
    commitIntervalMs: 1000,
    /** Attempts at a message that keeps failing (not an outage) before it is parked, the
     * first wait between them doubling up to 5 s. */
    maxAttempts: 5,
    retryBackoffMs: 200,
  },
}
