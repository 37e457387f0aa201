import { pino } from 'pino'
import { loadConfig } from '../../src/config'
import { type RelayService, startRelay } from '../../src/relay/start-relay'

/** Starts the real relay (LISTEN connection, kafkajs producer, loop) inside the test process. */
export function startTestRelay(env: {
  databaseUrl: string
  brokers: string
  topic: string
  [setting: string]: string
}): Promise<RelayService> {
  const { databaseUrl, brokers, topic, ...rest } = env
  const config = loadConfig(
    {
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_TEMPLATE: topic,
      KAFKA_IDEMPOTENT: 'false', // the mock broker cannot run the idempotent producer
      RELAY_BACKOFF_BASE_MS: '50',
      RELAY_BACKOFF_CAP_MS: '500',
      SHUTDOWN_TIMEOUT_MS: '3000',
      RELAY_METRICS_PORT: '0', // several relays per test run: any free port
      ...rest,
    },
    ['DATABASE_URL', 'KAFKA_BROKERS'],
  )
  return startRelay(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }))
}
