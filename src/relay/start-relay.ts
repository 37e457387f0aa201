import type { Config } from '../config'
import { createDb } from '../db/client'
import type { Logger } from '../logger'
import { Doorbell } from './doorbell'
import { createKafkaPublisher } from './kafka-publisher'
import { listenForEvents } from './listener'
import { runRelay } from './relay'

export type RelayService = { stop(): Promise<void> }

/** Wires the relay: its database pool, the LISTEN connection, the Kafka producer, the loop. */
export async function startRelay(
  config: Config & { databaseUrl: string; kafka: { brokers: string[] } },
  logger: Logger,
): Promise<RelayService> {
  const log = logger.child({ component: 'relay' })
  const { db, sql } = createDb(config.databaseUrl, { max: 2, applicationName: 'outbox-relay' })
  const publisher = createKafkaPublisher({
    ...config.kafka,
    source: config.relay.eventSource,
    logger: log,
  })
  const doorbell = new Doorbell()
  const controller = new AbortController()

  const unlisten = await listenForEvents(sql, doorbell).catch((err: unknown) => {
    // Not fatal: the poll still delivers everything, only later.
    log.warn({ err }, 'LISTEN failed; relying on the fallback poll')
    return undefined
  })
  const loop = runRelay({
    db,
    publish: publisher.publish,
    doorbell,
    logger: log,
    signal: controller.signal,
    ...config.relay,
  })
  log.info(
    { topic: config.kafka.topic, pollIntervalMs: config.relay.pollIntervalMs },
    'relay started',
  )

  return {
    async stop() {
      controller.abort()
      // The loop stops between batches; a batch stuck on the broker is abandoned by closing
      // its connection below (its transaction rolls back, nothing is marked).
      await Promise.race([loop, new Promise((r) => setTimeout(r, config.shutdownTimeoutMs))])
      await unlisten?.().catch(() => {})
      await sql.end({ timeout: 1 })
      await publisher.disconnect().catch(() => {})
      log.info('relay stopped')
    },
  }
}
