/**
 * The consumer as a process runs it: its database and brokers, the consumer, its metrics server
 * and its retention timer (`npm run consume`), or one operator command on its parked messages.
 */
import { type Config, ConfigError } from '../config'
import { createDb } from '../db/client'
import { readDevServices } from '../dev/dev-services-file'
import { createLogger } from '../logger'
import { createRegistry } from '../observability/metrics'
import { type ConsumeCommand, type Output, runConsumeCommand } from './cli'
import { startInventoryConsumer } from './consumer'
import { serveConsumerHttp } from './consumer-http'
import { createConsumerMetrics } from './metrics'
import { pruneConsumerTables } from './retention'

const RETENTION_INTERVAL_MS = 60_000

async function targets(config: Config, devDataDir: string) {
  const recorded =
    config.databaseUrl && config.kafka.brokers ? undefined : await readDevServices(devDataDir)
  const databaseUrl = config.databaseUrl ?? recorded?.databaseUrl
  if (!databaseUrl) throw new Error('DATABASE_URL is not set and no `npm start` is running here.')
  if (config.kafka.brokers) {
    return { databaseUrl, brokers: config.kafka.brokers, topic: config.kafka.topic }
  }
  if (!recorded?.brokers)
    throw new Error('KAFKA_BROKERS is not set and no `npm start` is running here.')
  return { databaseUrl, brokers: recorded.brokers, topic: recorded.topic }
}

/**
 * `devDataDir`: where a running `npm start` records its services, used for whichever of
 * DATABASE_URL and KAFKA_BROKERS is unset.
 */
export async function startConsumerService(config: Config, devDataDir: string) {
  const logger = createLogger(config.logLevel, 'consumer')
  const { databaseUrl, brokers, topic } = await targets(config, devDataDir)
  const { db, sql } = createDb(databaseUrl, { max: 2, applicationName: 'inventory' })
  const registry = createRegistry()
  const { metricsPort, metricsHost } = config.consumer
  const http = await serveConsumerHttp(registry, metricsPort, metricsHost)
  logger.info({ port: http.port }, 'consumer metrics listening')
  const consumer = await startInventoryConsumer({
    db,
    brokers,
    topic,
    groupId: config.consumer.groupId,
    clientId: config.consumer.clientId,
    commitIntervalMs: config.consumer.commitIntervalMs,
    maxAttempts: config.consumer.maxAttempts,
    retryBackoffMs: config.consumer.retryBackoffMs,
    metrics: createConsumerMetrics(registry, db),
    logger,
    // Stopped for good: exit, so the supervisor restarts it (uncommitted work is redelivered).
    onFatal: () => process.exit(1),
  })
  const retention = setInterval(() => {
    pruneConsumerTables(db, new Date(Date.now() - config.consumer.retentionMs)).then(
      (n) => (n.inbox > 0 || n.orders > 0) && logger.info(n, 'consumer retention deleted rows'),
      (err: unknown) => logger.warn({ err: (err as Error).message }, 'consumer retention failed'),
    )
  }, RETENTION_INTERVAL_MS)
  retention.unref()
  return {
    async stop() {
      clearInterval(retention)
      await consumer.stop()
      await http.close()
      await sql.end({ timeout: 5 })
    },
  }
}

export async function runAdminCommand(
  config: Config,
  command: Exclude<ConsumeCommand, { name: 'run' | 'help' }>,
  io: Output,
  devDataDir: string,
): Promise<number> {
  const databaseUrl = config.databaseUrl ?? (await readDevServices(devDataDir))?.databaseUrl
  if (!databaseUrl)
    throw new ConfigError(['DATABASE_URL: not set, and no `npm start` is running here'])
  const { db, sql } = createDb(databaseUrl, { max: 1, applicationName: 'inventory-cli' })
  try {
    return await runConsumeCommand(db, command, io)
  } finally {
    await sql.end({ timeout: 1 })
  }
}
