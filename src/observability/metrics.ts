/**
 * Prometheus metrics (prom-client). Each process has its own registry with the default
 * process metrics; the API adds request durations, the relay the outbox and wake-up metrics.
 * The names are the contract the Grafana dashboard (observability/) is built on.
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { FAILURE_CLASSES, type FailureClass } from '../outbox/parked'
import type { OutboxStats } from '../outbox/stats'

export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}

export type HttpMetrics = ReturnType<typeof createHttpMetrics>

export function createHttpMetrics(registry: Registry) {
  return {
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  }
}

export type WakeCause = 'notify' | 'poll' | 'reconnect'
/** awake: a writer that rang holds it; trace: a writer that skipped its NOTIFY holds it. */
export type WaitLockKind = 'awake' | 'trace'

/** What the relay loop and publisher report. A no-op implementation is used in unit tests. */
export type RelayMetrics = {
  published(batch: ReadonlyArray<{ occurredAt: Date }>, ackedAt: number): void
  publishFailed(failure: FailureClass): void
  wokeUp(cause: WakeCause): void
  /** A partition was kept from the relay for over a second by another session's lock. */
  lockWaited(lock: WaitLockKind): void
  deadLettered(events: number): void
}

export const noRelayMetrics: RelayMetrics = {
  published: () => {},
  publishFailed: () => {},
  wokeUp: () => {},
  lockWaited: () => {},
  deadLettered: () => {},
}

export type RelayMetricSources = {
  stats: () => Promise<OutboxStats>
  ownedPartitions: () => number
  /** How long the relay has made no progress while it has publishable events (s). */
  stalledSeconds: () => Promise<number>
  /** How long the longest wait on another session's lock has lasted so far (s). */
  longestWaitSeconds: () => number
  /** What /readyz would answer now (relay-http.ts). */
  ready: () => Promise<boolean>
}

export function createRelayMetrics(registry: Registry, sources: RelayMetricSources): RelayMetrics {
  outboxGauges(registry, sources.stats)
  relayGauges(registry, sources)
  const counter = (name: string, help: string, label: string, values: readonly string[]) => {
    const c = new Counter({ name, help, labelNames: [label], registers: [registry] })
    for (const value of values) c.inc({ [label]: value }, 0)
    return c
  }
  const deadLettered = new Counter({
    name: 'outbox_dead_lettered_total',
    help: 'Events dead-lettered by this relay (each also logged once, at warn).',
    registers: [registry],
  })
  const publishedTotal = new Counter({
    name: 'outbox_published_events_total',
    help: 'Events acknowledged by the broker (a redelivery after a crash counts again).',
    registers: [registry],
  })
  const errors = counter(
    'outbox_publish_errors_total',
    'Failed publish attempts, by class: unavailable, retriable, permanent, missing-topic (the event waits for its topic to be created).',
    'class',
    FAILURE_CLASSES,
  )
  const latency = new Histogram({
    name: 'outbox_publish_latency_seconds',
    help: "From the event's occurred_at (its transaction's clock, just before commit) to the broker's acknowledgement.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  })
  const wakeups = counter(
    'relay_wakeups_total',
    'Relay wake-ups by cause: notify (a writer rang), poll (the timer), reconnect (LISTEN re-established).',
    'cause',
    ['notify', 'poll', 'reconnect'],
  )
  const lockWaits = counter(
    'relay_lock_waits_total',
    "Partitions kept from the relay for over a second by another session's transaction, by lock: awake (a writer that rang holds it; the partition stays asleep) or trace (a writer that skipped its NOTIFY is still open; the partition cannot sleep). Each wait counts once; the relay logs the partition and the blocking pid.",
    'lock',
    ['awake', 'trace'],
  )
  return {
    published(batch, ackedAt) {
      publishedTotal.inc(batch.length)
      for (const m of batch) latency.observe(Math.max(0, (ackedAt - m.occurredAt.getTime()) / 1000))
    },
    publishFailed: (failure) => errors.inc({ class: failure }),
    wokeUp: (cause) => wakeups.inc({ cause }),
    lockWaited: (lock) => lockWaits.inc({ lock }),
    deadLettered: (events) => deadLettered.inc(events),
  }
}

/** The outbox gauges, from one query per scrape shared between them. */
function outboxGauges(registry: Registry, read: () => Promise<OutboxStats>): void {
  let pendingScrape: Promise<OutboxStats> | undefined
  const stats = () => {
    pendingScrape ??= read().finally(() => {
      pendingScrape = undefined
    })
    return pendingScrape
  }
  const statGauge = (name: string, help: string, pick: (s: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await orNaN(async () => pick(await stats())))
      },
    })
  statGauge(
    'outbox_pending_events',
    'Events not yet published (dead ones excluded).',
    (s) => s.pending,
  )
  statGauge(
    'outbox_oldest_pending_age_seconds',
    'Age of the oldest event not yet published (dead ones excluded).',
    (s) => s.oldestPendingAgeSeconds,
  )
  statGauge('outbox_dead_events', 'Dead-lettered events waiting for an operator.', (s) => s.dead)
  statGauge(
    'outbox_unclaimable_events',
    'Events written with the outbox trigger off: no relay will claim them until an operator releases them (docs/outbox.md).',
    (s) => s.unclaimable,
  )
  statGauge(
    'outbox_prepared_partitions',
    'Partitions whose trace lock a prepared transaction holds: they cannot go to sleep until it is committed or rolled back.',
    (s) => s.heldByPrepared,
  )
}

/** What the relay itself reports: its partitions, its waits on others, its stalls. */
function relayGauges(registry: Registry, sources: RelayMetricSources): void {
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await orNaN(read))
      },
    })
  gauge('relay_owned_partitions', 'Outbox partitions this relay owns (of 64).', () =>
    sources.ownedPartitions(),
  )
  gauge(
    'relay_ready',
    'What /readyz answers: 1 ready, 0 not (its reasons are in /readyz).',
    async () => ((await sources.ready()) ? 1 : 0),
  )
  gauge(
    'relay_lock_wait_seconds',
    "How long the longest wait on another session's lock in progress has lasted (0 if none).",
    () => sources.longestWaitSeconds(),
  )
  gauge(
    'relay_stalled_seconds',
    'How long this relay has made no progress (published, or found nothing to claim) while its partitions hold publishable events; 0 when it keeps up.',
    () => sources.stalledSeconds(),
  )
}

/**
 * A gauge's value, or NaN when it cannot be read (the database down): a scrape still answers
 * with every other metric instead of failing whole.
 */
export async function orNaN(read: () => number | Promise<number>): Promise<number> {
  try {
    return await read()
  } catch {
    return Number.NaN
  }
}
