/**
 * `npm run consume`: the example inventory consumer (src/consumer). Uses DATABASE_URL and
 * KAFKA_BROKERS, or for whichever is unset, what a running `npm start` recorded in .data/.
 */
import { type Config, loadConfig } from '../config'
import { startInventoryConsumer } from '../consumer/consumer'
import { createDb } from '../db/client'
import { readDevServices } from '../dev/dev-services-file'
import { createLogger } from '../logger'
import { runMain } from './run-main'

async function targets(config: Config) {
  const recorded = config.databaseUrl && config.kafka.brokers ? undefined : await readDevServices()
  const databaseUrl = config.databaseUrl ?? recorded?.databaseUrl
  if (!databaseUrl) throw new Error('DATABASE_URL is not set and no `npm start` is running here.')
  if (config.kafka.brokers) {
    return { databaseUrl, brokers: config.kafka.brokers, topic: config.kafka.topic }
  }
  if (!recorded?.brokers)
    throw new Error('KAFKA_BROKERS is not set and no `npm start` is running here.')
  return { databaseUrl, brokers: recorded.brokers, topic: recorded.topic }
}

runMain(async () => {
  const config = loadConfig(process.env)
  const logger = createLogger(config.logLevel, 'consumer')
  const { databaseUrl, brokers, topic } = await targets(config)
  const { db, sql } = createDb(databaseUrl, { max: 2, applicationName: 'inventory' })
  const consumer = await startInventoryConsumer({
    db,
    brokers,
    topic,
    groupId: config.consumer.groupId,
    clientId: config.kafka.clientId,
    commitIntervalMs: config.consumer.commitIntervalMs,
    logger,
    // Stopped for good: exit, so the supervisor restarts it (uncommitted work is redelivered).
    onFatal: () => process.exit(1),
  })
  return {
    async stop() {
      await consumer.stop()
      await sql.end({ timeout: 5 })
    },
  }
})
