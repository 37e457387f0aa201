import postgres from 'postgres'
import type { Config } from '../config'
import type { Logger } from '../logger'
import { createRegistry, createRelayMetrics, readOutboxStats } from '../observability/metrics'
import { tracedPublish } from '../observability/tracing'
import { classifyPublishError } from './classify-error'
import { Doorbell } from './doorbell'
import { createKafkaPublisher } from './kafka-publisher'
import { type Listener, startListener } from './listener'
import type { Publish } from './publish'
import { runRelay } from './relay'
import { relayHttpApp, serveRelayHttp } from './relay-http'
import { startRetention } from './retention'
import { RelaySession } from './session'

export type RelayService = {
  /** The port of the relay's /metrics, /healthz and /readyz server. */
  httpPort: number
  stop(): Promise<void>
}

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

  // Metrics and readiness read the outbox on their own small pool, never the claiming session.
  const statsSql = postgres(config.databaseUrl, {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    connection: { application_name: 'outbox-relay-stats', statement_timeout: 5000 },
  })
  const stats = () => readOutboxStats(statsSql)
  // Retention deletes old published rows on its own connection, never the claiming session.
  const retentionSql = postgres(config.databaseUrl, {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    connection: { application_name: 'outbox-relay-retention', statement_timeout: 60_000 },
  })
  const retention = startRetention({ sql: retentionSql, ...config.retention, logger: log })
  const ownedPartitions = () => session.owned.length
  const registry = createRegistry()
  const metrics = createRelayMetrics(registry, { stats, ownedPartitions })
  const publish: Publish = async (batch) => {
    try {
      await tracedPublish(config.kafka.topic, batch, () => publisher.publish(batch))
    } catch (err) {
      metrics.publishFailed(classifyPublishError(err))
      throw err
    }
    metrics.published(batch, Date.now())
  }
  const http = await serveRelayHttp(
    relayHttpApp(registry, {
      stats,
      ownedPartitions,
      listenerHealthy: listener ? () => listener.healthy() : undefined,
      maxLagSeconds: config.readyMaxLagSeconds,
    }),
    config.relayMetricsPort,
  )

  const loop = runRelay({
    session,
    publish,
    metrics,
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
      httpPort: http.port,
    },
    'relay started',
  )

  return {
    httpPort: http.port,
    async stop() {
      controller.abort()
      // The loop stops between batches; a batch stuck on the broker is abandoned by closing
      // the session below (its transaction rolls back, nothing is marked).
      const timedOut = await Promise.race([
        loop.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.shutdownTimeoutMs)),
      ])
      if (timedOut) log.warn('batch in hand abandoned at shutdown; it will be published again')
      await retention.stop()
      await retentionSql.end({ timeout: 1 }).catch(() => {})
      await listener?.close().catch(() => {})
      await session.close()
      await publisher.disconnect().catch(() => {})
      await http.close()
      await statsSql.end({ timeout: 1 }).catch(() => {})
      log.info('relay stopped')
    },
  }
}
