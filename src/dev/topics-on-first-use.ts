/**
 * `npm start` only: the in-process development broker creates a topic the first time an event
 * waits for it, so that trying the outbox with a new aggregate type (the README's `shipment`)
 * needs no topic tooling. The relay itself never creates topics, and against a real Kafka nothing
 * does this: there an event for a missing topic waits until someone creates it (docs/operations.md).
 *
 * "Waits for it": the relay has parked the event with the failure code `missing-topic`. The
 * relay looks again about once a second and publishes.
 */
import postgres from 'postgres'
import type { Logger } from '../logger'
import { WAITING_FOR_TOPIC } from '../outbox/parked'
import { isValidTopicName, routedTopicSql } from '../outbox/routing'

export function createTopicsOnFirstUse(o: {
  databaseUrl: string
  createTopic: (name: string) => void
  topicTemplate: string
  logger: Logger
  intervalMs?: number
}): { stop(): Promise<void> } {
  const sql = postgres(o.databaseUrl, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'outbox-dev-topics' },
  })
  const log = o.logger.child({ component: 'dev-broker' })
  const created = new Set<string>()
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const tick = async () => {
    const rows = await sql<{ topic: string }[]>`
      select distinct ${routedTopicSql(sql, o.topicTemplate, 'o')} as topic
        from outbox_parked x join outbox o on o.id = x.id
       where x.published_at is null and x.dead_at is null
         and x.failure = ${WAITING_FOR_TOPIC}`
    for (const { topic } of rows) {
      if (created.has(topic) || !isValidTopicName(topic)) continue
      created.add(topic)
      o.createTopic(topic)
      log.info(
        { topic },
        'development broker: topic created on first use (a real Kafka here would not)',
      )
    }
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      tick()
        .catch((err: unknown) => log.debug({ err }, 'development broker: topic check failed'))
        .finally(schedule)
    }, o.intervalMs ?? 500)
  }
  schedule()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await sql.end({ timeout: 1 })
    },
  }
}
