import { pino } from 'pino'
import { type Config, loadConfig } from '../../src/config'
import { eventSchemas } from '../../src/events/contract'
import { type RelayService, startRelay } from '../../src/relay/start-relay'

/** Fixed values (src/config/fixed.ts) a test may shorten; a deployment cannot. */
export type RelayTuning = {
  backoff?: Config['relay']['backoff']
  sendTimeoutMs?: number
  retentionIntervalMs?: number
  shutdownTimeoutMs?: number
}

/**
 * Starts the real relay (LISTEN connection, kafkajs producer, loop) inside the test process,
 * with `env` as its settings. Its backoff is shortened (50 ms doubling to 500 ms) so that
 * recoveries take test time, unless `tuning` says otherwise.
 */
export function startTestRelay(
  env: { databaseUrl: string; brokers: string; topic: string; [setting: string]: string },
  tuning: RelayTuning = {},
): Promise<RelayService> {
  const { databaseUrl, brokers, topic, ...rest } = env
  const config = loadConfig(
    {
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_TEMPLATE: topic,
      KAFKA_IDEMPOTENT: 'false', // the mock broker cannot run the idempotent producer
      METRICS_PORT: '0', // several relays per test run: any free port
      ...rest,
    },
    ['DATABASE_URL', 'KAFKA_BROKERS'],
  )
  const tuned = {
    ...config,
    kafka: { ...config.kafka, sendTimeoutMs: tuning.sendTimeoutMs ?? config.kafka.sendTimeoutMs },
    relay: { ...config.relay, backoff: tuning.backoff ?? { baseMs: 50, capMs: 500 } },
    retention: {
      ...config.retention,
      intervalMs: tuning.retentionIntervalMs ?? config.retention.intervalMs,
    },
    shutdownTimeoutMs: tuning.shutdownTimeoutMs ?? 3000,
  }
  return startRelay(
    tuned,
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    eventSchemas(tuned.relay.eventSchemaBaseUrl),
  )
}
