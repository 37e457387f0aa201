/**
 * `npm run consume`: the example inventory consumer (src/consumer). Needs DATABASE_URL (a
 * running `npm start` records its broker, not its embedded database); uses KAFKA_BROKERS, or
 * the in-process broker and topic that `npm start` recorded in .data/.
 */
import { readFile } from 'node:fs/promises'
import { type Config, loadConfig } from '../config'
import { startInventoryConsumer } from '../consumer/consumer'
import { createDb } from '../db/client'
import { devKafkaFile } from '../dev/dev-services'
import { createLogger } from '../logger'
import { runMain } from './run-main'

async function brokersAndTopic(config: Config) {
  if (config.kafka.brokers) return { brokers: config.kafka.brokers, topic: config.kafka.topic }
  const recorded = await readFile(devKafkaFile, 'utf8').catch(() => undefined)
  if (!recorded) throw new Error('KAFKA_BROKERS is not set and no `npm start` is running here.')
  return JSON.parse(recorded) as { brokers: string[]; topic: string }
}

runMain(async () => {
  const config = loadConfig(process.env, ['DATABASE_URL'])
  const logger = createLogger(config.logLevel, 'consumer')
  const { db, sql } = createDb(config.databaseUrl, { max: 2, applicationName: 'inventory' })
  const consumer = await startInventoryConsumer({
    db,
    ...(await brokersAndTopic(config)),
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
