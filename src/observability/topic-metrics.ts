/**
 * The relay's metrics by topic (events are routed by KAFKA_TOPIC_TEMPLATE or a row's `topic`):
 *  - outbox_published_by_topic_total{topic}: events acknowledged, counted by the publisher;
 *  - outbox_pending_by_topic{topic}: events not yet published (dead ones excluded);
 *  - outbox_waiting_for_topic_events{topic}: of those, the ones held because the cluster lacked
 *    their topic at the last attempt (src/relay/drain.ts): nonzero means "create this topic".
 * The two gauges come from one query per scrape over the unpublished rows only (proportional to
 * the backlog, like the outbox gauges of metrics.ts).
 */
import type postgres from 'postgres'
import { Counter, Gauge, type Registry } from 'prom-client'
import { WAITING_FOR_TOPIC } from '../outbox/parked'
import { routedTopicSql } from '../outbox/routing'

export type TopicBacklog = { topic: string; pending: number; waitingForTopic: number }

export async function readTopicBacklog(
  sql: postgres.Sql,
  template: string,
): Promise<TopicBacklog[]> {
  return sql<TopicBacklog[]>`
    select ${routedTopicSql(sql, template, 'u')} as topic,
           count(*)::int as pending,
           (count(*) filter (where u.failure = ${WAITING_FOR_TOPIC}))::int as "waitingForTopic"
      from outbox_unpublished u
     where u.dead_at is null
     group by 1`
}

export type TopicMetrics = {
  /** Acknowledged messages, each counted under the topic it carries. */
  published(batch: ReadonlyArray<{ topic: string }>): void
}

export function createTopicMetrics(
  registry: Registry,
  sources: { backlog: () => Promise<TopicBacklog[]> },
): TopicMetrics {
  let scrape: Promise<TopicBacklog[]> | undefined
  const backlog = () => {
    scrape ??= sources.backlog().finally(() => {
      scrape = undefined
    })
    return scrape
  }
  const gauge = (name: string, help: string, pick: (b: TopicBacklog) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['topic'] as const,
      registers: [registry],
      async collect() {
        this.reset() // a topic drained since the last scrape reads 0 by its absence
        // Unreadable (the database down): no series this scrape, and the rest still answers.
        const rows = await backlog().catch(() => [])
        for (const row of rows) this.set({ topic: row.topic }, pick(row))
      },
    })
  gauge(
    'outbox_pending_by_topic',
    'Events not yet published (dead ones excluded), by topic.',
    (b) => b.pending,
  )
  gauge(
    'outbox_waiting_for_topic_events',
    'Events held because the cluster lacked their topic at the last attempt (create the topic): by topic.',
    (b) => b.waitingForTopic,
  )
  const published = new Counter({
    name: 'outbox_published_by_topic_total',
    help: 'Events acknowledged by the broker, by topic.',
    labelNames: ['topic'] as const,
    registers: [registry],
  })
  return {
    published(batch) {
      const counts = new Map<string, number>()
      for (const { topic } of batch) counts.set(topic, (counts.get(topic) ?? 0) + 1)
      for (const [topic, n] of counts) published.inc({ topic }, n)
    },
  }
}
