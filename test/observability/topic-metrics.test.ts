/** The metrics by topic: one scrape query over the unpublished rows, the publisher's counter. */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTopicMetrics, readTopicBacklog } from '../../src/observability/topic-metrics'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { park } from '../helpers/outbox-state'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

describe('topic metrics', () => {
  it('name each topic: pending, waiting for a missing topic, published', async () => {
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, topic)
      values ('orders', 'a', 'X', '{}', null), ('orders', 'b', 'X', '{}', null),
             ('payment', 'p', 'X', '{}', null), ('orders', 'c', 'X', '{}', 'audit.log')`
    await park(db.sql, db.sql`aggregate_id = 'b'`, { publishedAgo: '0' })
    await park(db.sql, db.sql`aggregate_id = 'p'`, {
      lastError: 'MissingTopicError: MISSING_TOPIC: payment.events does not exist',
      failure: 'missing-topic',
      nextAttemptAgo: '-1 second',
    })
    const registry = new Registry()
    const metrics = createTopicMetrics(registry, {
      backlog: () => readTopicBacklog(db.sql, '{aggregate_type}.events'),
    })
    metrics.published([{ topic: 'orders.events' }, { topic: 'audit.log' }])
    const text = await registry.metrics()
    expect(text).toContain('outbox_pending_by_topic{topic="orders.events"} 1')
    expect(text).toContain('outbox_pending_by_topic{topic="payment.events"} 1')
    expect(text).toContain('outbox_pending_by_topic{topic="audit.log"} 1')
    expect(text).toContain('outbox_waiting_for_topic_events{topic="payment.events"} 1')
    expect(text).toContain('outbox_waiting_for_topic_events{topic="orders.events"} 0')
    expect(text).toContain('outbox_published_by_topic_total{topic="orders.events"} 1')
    expect(text).toContain('outbox_published_by_topic_total{topic="audit.log"} 1')
  })
})
