/**
 * Every setting, read from the environment once, validated by one zod schema (config/schema.ts).
 * `loadConfig` lists every problem at once (not just the first) so a bad deploy is fixed in
 * one go; entrypoints print them and exit before anything starts. The `Config` it returns also
 * carries the fixed values (config/fixed.ts), so every module reads one object.
 */
import { API_DB_POOL_SIZE, fixed } from './config/fixed'
import { removedSettings } from './config/removed'
import { type Settings, schema } from './config/schema'
import { topicFor } from './outbox/routing'

/** Every setting's name (.env.example documents each; a test keeps the two in step). */
export const settingNames = Object.keys(schema.shape)

export type Config = ReturnType<typeof toConfig>
export type RequiredSetting = 'DATABASE_URL' | 'KAFKA_BROKERS'

function toConfig(env: Settings) {
  return {
    databaseUrl: env.DATABASE_URL,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    kafka: {
      ...fixed.kafka,
      brokers: env.KAFKA_BROKERS,
      topicTemplate: env.KAFKA_TOPIC_TEMPLATE,
      /**
       * The orders' topic (the template's topic for aggregate type `orders`): where the API's
       * events go, and what the example consumer and `npm run tail` read by default.
       */
      topic: topicFor(env.KAFKA_TOPIC_TEMPLATE, 'orders'),
      /** The inventory consumer's own events (its saga step) go here. */
      inventoryTopic: topicFor(env.KAFKA_TOPIC_TEMPLATE, 'inventory'),
      idempotent: env.KAFKA_IDEMPOTENT,
      maxMessageBytes: env.KAFKA_MAX_MESSAGE_BYTES,
    },
    relay: {
      ...fixed.relay,
      mode: env.RELAY_WAKEUP,
      pollIntervalMs: env.RELAY_POLL_INTERVAL_MS,
      batchSize: env.RELAY_BATCH_SIZE,
      eventSchemaBaseUrl: env.EVENT_SCHEMA_BASE_URL ?? `http://localhost:${env.PORT}/schemas`,
    },
    idempotencyTtlMs: fixed.idempotencyTtlMs,
    http: {
      ...fixed.http,
      dbPoolSize: API_DB_POOL_SIZE,
      apiKeys: env.API_KEYS ?? [],
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      host: env.HOST,
      publicReads: env.API_PUBLIC_READS,
      trustedProxies: env.TRUSTED_PROXIES ?? [],
    },
    retention: { ...fixed.retention, maxAgeMs: env.OUTBOX_RETENTION },
    relayMetricsPort: env.METRICS_PORT ?? 9400,
    relayMetricsHost: env.HOST,
    rolePasswords: env.DB_ROLE_PASSWORDS ?? {},
    readyMaxLagSeconds: fixed.readyMaxLagSeconds,
    consumer: {
      ...fixed.consumer,
      // Beside a relay on one host (`npm start`), unless METRICS_PORT says otherwise.
      metricsPort: env.METRICS_PORT ?? 9401,
      metricsHost: env.HOST,
      retentionMs: env.CONSUMER_RETENTION,
    },
    shutdownTimeoutMs: fixed.shutdownTimeoutMs,
  }
}

/** The config type once the named settings are known to be present. */
export type Requires<R extends RequiredSetting> = ('DATABASE_URL' extends R
  ? { databaseUrl: string }
  : unknown) &
  ('KAFKA_BROKERS' extends R ? { kafka: Config['kafka'] & { brokers: string[] } } : unknown)

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const warnOnStderr = (message: string) => process.emitWarning(message, 'ConfigWarning')

/**
 * Parses the environment. `required` names settings this entrypoint cannot run without
 * (`npm start` runs embedded services instead, so it requires none). A removed setting still
 * given is named once through `warn`, or listed with the problems when another replaced it
 * (config/removed.ts).
 */
export function loadConfig<R extends RequiredSetting = never>(
  env: NodeJS.ProcessEnv = process.env,
  required: readonly R[] = [],
  warn: (message: string) => void = warnOnStderr,
): Config & Requires<R> {
  // Empty strings count as unset: `FOO= npm start` should mean the default, not an error.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
  const result = schema.safeParse(given)
  const removed = removedSettings(given)
  const problems = result.success
    ? []
    : result.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`)
  problems.push(...removed.problems)
  for (const name of required) {
    if (given[name] === undefined) problems.push(`${name}: required but not set`)
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems)
  for (const warning of removed.warnings) warn(warning)
  // Checked just above: every required setting is present.
  return toConfig(result.data) as Config & Requires<R>
}
