import type { Config } from '../config'
import type { Logger } from '../logger'
import { Doorbell } from './doorbell'
import { createKafkaPublisher } from './kafka-publisher'
import { type Listener, startListener } from './listener'
import { runRelay } from './relay'
import { RelaySession } from './session'

export type RelayService = { stop(): Promise<void> }

/** Wires the relay: its database session, the LISTEN connection, the Kafka producer, the loop. */
export async function startRelay(
  config: Config & { databaseUrl: string; kafka: { brokers: string[] } },
  logger: Logger,
): Promise<RelayService> {
  const log = logger.child({ component: 'relay' })
  const session = new RelaySession(config.databaseUrl, 'outbox-relay')
  const publisher = createKafkaPublisher({
    ...config.kafka,
    cloudEvents: {
      source: config.relay.eventSource,
      schemaBaseUrl: config.relay.eventSchemaBaseUrl,
    },
    logger: log,
  })
  const doorbell = new Doorbell()
  const controller = new AbortController()
  // In poll mode nobody rings, so there is nothing to listen for.
  const listener: Listener | undefined =
    config.relay.mode === 'poll' ? undefined : startListener(config.databaseUrl, doorbell, log)

  const loop = runRelay({
    session,
    publish: publisher.publish,
    doorbell,
    logger: log,
    signal: controller.signal,
    ...config.relay,
  })
  log.info(
    {
      topic: config.kafka.topic,
      mode: config.relay.mode,
      pollIntervalMs: config.relay.pollIntervalMs,
    },
    'relay started',
  )

  return {
    async stop() {
      controller.abort()
      // The loop stops between batches; a batch stuck on the broker is abandoned by closing
      // the session below (its transaction rolls back, nothing is marked).
      const timedOut = await Promise.race([
        loop.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.shutdownTimeoutMs)),
      ])
      if (timedOut) log.warn('batch in hand abandoned at shutdown; it will be published again')
      await listener?.close().catch(() => {})
      await session.close()
      await publisher.disconnect().catch(() => {})
      log.info('relay stopped')
    },
  }
}
