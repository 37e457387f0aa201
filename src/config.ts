/**
 * Every setting, read from the environment once, validated by one zod schema.
 * `loadConfig` lists every problem at once (not just the first) so a bad deploy is fixed in
 * one go; entrypoints print them and exit before anything starts.
 */
import { isIP } from 'node:net'
import { z } from 'zod'
import { DEFAULT_TOPIC_TEMPLATE, topicFor, topicTemplateProblem } from './outbox/routing'

/**
 * The API's Postgres connections. Each order is one statement on one of them; postgres.js
 * pipelines statements on a busy connection, so a few connections carry many concurrent
 * requests. More backends than the database's cores only make them contend: measured with 32
 * closed-loop HTTP writers on 2 cores, side by side, 8 connections placed 9% and 16% more
 * orders/s than 32 in two probes (4: 17%), the backends spending 154 instead of 208 us per
 * order in the second. (The usual rule for a pool is about twice the database's cores, plus
 * its disks.)
 */
export const API_DB_POOL_DEFAULT = 8

/** A whole number in [min, max]; `zeroMeans` names what 0 does when 0 is allowed. */
const intSetting = (name: string, def: number, max: number, zeroMeans?: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(
      zeroMeans ? 0 : 1,
      zeroMeans ? `${name} must be 0 (${zeroMeans}) or more` : `${name} must be at least 1`,
    )
    .max(max, `${name} must be at most ${max}`)
    .default(def)
const positiveInt = (name: string, def: number, max: number) => intSetting(name, def, max)

const durationUnits = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
/** "90s", "30m", "12h", "7d" -> milliseconds. */
const duration = (name: string, def: string) =>
  z
    .string()
    .regex(/^\d+\s*[smhd]$/, `${name} must be a number and a unit (s, m, h or d), e.g. 7d`)
    .default(def)
    .transform((s) => {
      const unit = s.at(-1) as keyof typeof durationUnits
      return Number.parseInt(s, 10) * durationUnits[unit]
    })
    .refine((ms) => ms > 0, `${name} must be more than 0`)

function isAddressOrRange(s: string): boolean {
  const [address = '', bits, ...rest] = s.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (bits === undefined) return true
  const n = Number(bits)
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128)
}

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL')
    .optional(),
  KAFKA_BROKERS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker must be host:port'))
        .min(1, 'KAFKA_BROKERS must list at least one broker'),
    )
    .optional(),
  // Where each event goes: `{aggregate_type}` is replaced by the row's aggregate type; a row's
  // own `topic` column overrides it. Without the placeholder, one fixed topic for every event.
  KAFKA_TOPIC_TEMPLATE: z
    .string()
    .default(DEFAULT_TOPIC_TEMPLATE)
    .superRefine((template, ctx) => {
      const problem = topicTemplateProblem(template)
      if (problem) ctx.addIssue({ code: 'custom', message: `KAFKA_TOPIC_TEMPLATE ${problem}` })
    }),
  KAFKA_CLIENT_ID: z.string().min(1).default('outbox-relay'),
  // The idempotent producer is right for real clusters; the development broker cannot do it.
  KAFKA_IDEMPOTENT: z.stringbool().default(true),
  // Client-side guard: Kafka's default message.max.bytes is about 1 MB; larger events are
  // dead-lettered with a clear reason instead of being refused by the broker batch after batch.
  KAFKA_MAX_MESSAGE_BYTES: positiveInt('KAFKA_MAX_MESSAGE_BYTES', 1_000_000, 100_000_000),
  KAFKA_SEND_TIMEOUT_MS: positiveInt('KAFKA_SEND_TIMEOUT_MS', 30_000, 600_000),
  PORT: positiveInt('PORT', 3000, 65535),
  API_DB_POOL_SIZE: positiveInt('API_DB_POOL_SIZE', API_DB_POOL_DEFAULT, 1000),
  RELAY_WAKEUP: z
    .enum(['adaptive', 'notify', 'poll'], {
      error: 'RELAY_WAKEUP must be adaptive, notify or poll',
    })
    .default('adaptive'),
  RELAY_MAX_ATTEMPTS: positiveInt('RELAY_MAX_ATTEMPTS', 10, 1000),
  RELAY_POLL_INTERVAL_MS: positiveInt('RELAY_POLL_INTERVAL_MS', 1000, 3_600_000),
  RELAY_BATCH_SIZE: positiveInt('RELAY_BATCH_SIZE', 1000, 10_000),
  // Adaptive: how long the relay stays awake after the last event (src/relay/linger.ts).
  RELAY_LINGER_MS: intSetting('RELAY_LINGER_MS', 20, 1000, 'sleep at once'),
  RELAY_BACKOFF_BASE_MS: positiveInt('RELAY_BACKOFF_BASE_MS', 100, 60_000),
  RELAY_BACKOFF_CAP_MS: positiveInt('RELAY_BACKOFF_CAP_MS', 30_000, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt('SHUTDOWN_TIMEOUT_MS', 10_000, 600_000),
  EVENT_SOURCE: z.string().min(1).default('/orders-api'),
  // ce_dataschema = <this>/<Type>.v<n>.json; the API serves the schemas under /schemas.
  // Unset: the API on this host at PORT (toConfig).
  EVENT_SCHEMA_BASE_URL: z
    .url({ error: 'EVENT_SCHEMA_BASE_URL must be an absolute URL' })
    .optional(),
  // Published events older than this are deleted by the relay, in small batches.
  OUTBOX_RETENTION: duration('OUTBOX_RETENTION', '7d'),
  RETENTION_BATCH_SIZE: positiveInt('RETENTION_BATCH_SIZE', 1000, 100_000),
  RETENTION_INTERVAL_MS: positiveInt('RETENTION_INTERVAL_MS', 60_000, 86_400_000),
  // The relay's own HTTP port for /metrics, /healthz and /readyz.
  RELAY_METRICS_PORT: intSetting('RELAY_METRICS_PORT', 9400, 65535, 'any free port'),
  // The relay reports not ready when the oldest publishable event is older than this.
  READY_MAX_LAG_SECONDS: positiveInt('READY_MAX_LAG_SECONDS', 60, 86_400),
  // Comma-separated bearer tokens for the write endpoints; unset = no authentication.
  API_KEYS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.string().min(16, 'each API key must be at least 16 characters'))
        .min(1, 'API_KEYS must list at least one key'),
    )
    .optional(),
  MAX_BODY_BYTES: positiveInt('MAX_BODY_BYTES', 64 * 1024, 10 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: positiveInt('REQUEST_TIMEOUT_MS', 10_000, 600_000),
  // Requests per minute per client (API key, else address); 0 turns the limit off.
  RATE_LIMIT_PER_MINUTE: intSetting('RATE_LIMIT_PER_MINUTE', 60_000, 1_000_000, 'off'),
  // Read by `db:migrate` only: logins for the least-privilege roles (drizzle/0006).
  DB_API_PASSWORD: z.string().min(8, 'DB_API_PASSWORD must be at least 8 characters').optional(),
  DB_RELAY_PASSWORD: z
    .string()
    .min(8, 'DB_RELAY_PASSWORD must be at least 8 characters')
    .optional(),
  DB_CONSUMER_PASSWORD: z
    .string()
    .min(8, 'DB_CONSUMER_PASSWORD must be at least 8 characters')
    .optional(),
  IDEMPOTENCY_KEY_TTL_HOURS: positiveInt('IDEMPOTENCY_KEY_TTL_HOURS', 24, 24 * 365),
  // The example consumer (npm run consume).
  CONSUMER_GROUP_ID: z.string().min(1).default('inventory'),
  // How often the consumer commits its Kafka offsets. Its inbox makes redelivery harmless, so
  // this trades redelivered work after a crash against commit traffic.
  CONSUMER_COMMIT_INTERVAL_MS: positiveInt('CONSUMER_COMMIT_INTERVAL_MS', 1000, 3_600_000),
  // Attempts at a message that keeps failing (not an outage) before it is parked; the first
  // wait between them, doubling up to 5 s.
  CONSUMER_MAX_ATTEMPTS: positiveInt('CONSUMER_MAX_ATTEMPTS', 5, 100),
  CONSUMER_RETRY_BACKOFF_MS: positiveInt('CONSUMER_RETRY_BACKOFF_MS', 200, 60_000),
  // The consumer's /metrics and /healthz.
  CONSUMER_METRICS_PORT: intSetting('CONSUMER_METRICS_PORT', 9401, 65535, 'any free port'),
  // Settled inbox rows and idle orders' versions older than this are deleted by the consumer.
  CONSUMER_RETENTION: duration('CONSUMER_RETENTION', '7d'),
  // Bind addresses of the API and the consumer's metrics; unset = every interface.
  API_HOST: z.string().min(1).optional(),
  CONSUMER_METRICS_HOST: z.string().min(1).optional(),
  RELAY_METRICS_HOST: z.string().min(1).optional(),
  // With API_KEYS set, reads (GET /orders...) need a key too, unless this opens them.
  API_PUBLIC_READS: z.stringbool().default(false),
  // Addresses (or CIDR ranges) of proxies whose X-Forwarded-For names the client; unset = the
  // socket's address is the client's (the rate limiter's and idempotency keys' scope).
  TRUSTED_PROXIES: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .superRefine((list, ctx) => {
      for (const p of list) {
        if (!isAddressOrRange(p))
          ctx.addIssue({
            code: 'custom',
            message: `TRUSTED_PROXIES: not an address or range: ${p}`,
          })
      }
    })
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

/** Every setting's name (.env.example documents each; a test keeps the two in step). */
export const settingNames = Object.keys(schema.shape)

export type Config = ReturnType<typeof toConfig>
export type RequiredSetting = 'DATABASE_URL' | 'KAFKA_BROKERS'

function toConfig(env: z.output<typeof schema>) {
  return {
    databaseUrl: env.DATABASE_URL,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    kafka: {
      brokers: env.KAFKA_BROKERS,
      topicTemplate: env.KAFKA_TOPIC_TEMPLATE,
      /**
       * The orders' topic (the template's topic for aggregate type `orders`): where the API's
       * events go, and what the example consumer and `npm run tail` read by default.
       */
      topic: topicFor(env.KAFKA_TOPIC_TEMPLATE, 'orders'),
      /** The inventory consumer's own events (its saga step) go here. */
      inventoryTopic: topicFor(env.KAFKA_TOPIC_TEMPLATE, 'inventory'),
      clientId: env.KAFKA_CLIENT_ID,
      idempotent: env.KAFKA_IDEMPOTENT,
      maxMessageBytes: env.KAFKA_MAX_MESSAGE_BYTES,
      sendTimeoutMs: env.KAFKA_SEND_TIMEOUT_MS,
    },
    relay: {
      mode: env.RELAY_WAKEUP,
      maxAttempts: env.RELAY_MAX_ATTEMPTS,
      pollIntervalMs: env.RELAY_POLL_INTERVAL_MS,
      batchSize: env.RELAY_BATCH_SIZE,
      lingerMs: env.RELAY_LINGER_MS,
      backoff: { baseMs: env.RELAY_BACKOFF_BASE_MS, capMs: env.RELAY_BACKOFF_CAP_MS },
      eventSource: env.EVENT_SOURCE,
      eventSchemaBaseUrl: env.EVENT_SCHEMA_BASE_URL ?? `http://localhost:${env.PORT}/schemas`,
    },
    idempotencyTtlMs: env.IDEMPOTENCY_KEY_TTL_HOURS * 3600_000,
    http: {
      dbPoolSize: env.API_DB_POOL_SIZE,
      apiKeys: env.API_KEYS ?? [],
      maxBodyBytes: env.MAX_BODY_BYTES,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
      host: env.API_HOST,
      publicReads: env.API_PUBLIC_READS,
      trustedProxies: env.TRUSTED_PROXIES ?? [],
    },
    retention: {
      maxAgeMs: env.OUTBOX_RETENTION,
      batchSize: env.RETENTION_BATCH_SIZE,
      intervalMs: env.RETENTION_INTERVAL_MS,
    },
    relayMetricsPort: env.RELAY_METRICS_PORT,
    relayMetricsHost: env.RELAY_METRICS_HOST,
    rolePasswords: {
      api: env.DB_API_PASSWORD,
      relay: env.DB_RELAY_PASSWORD,
      consumer: env.DB_CONSUMER_PASSWORD,
    },
    readyMaxLagSeconds: env.READY_MAX_LAG_SECONDS,
    consumer: {
      groupId: env.CONSUMER_GROUP_ID,
      commitIntervalMs: env.CONSUMER_COMMIT_INTERVAL_MS,
      maxAttempts: env.CONSUMER_MAX_ATTEMPTS,
      retryBackoffMs: env.CONSUMER_RETRY_BACKOFF_MS,
      metricsPort: env.CONSUMER_METRICS_PORT,
      metricsHost: env.CONSUMER_METRICS_HOST,
      retentionMs: env.CONSUMER_RETENTION,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
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

/**
 * Parses the environment. `required` names settings this entrypoint cannot run without
 * (`npm start` runs embedded services instead, so it requires none).
 */
export function loadConfig<R extends RequiredSetting = never>(
  env: NodeJS.ProcessEnv = process.env,
  required: readonly R[] = [],
): Config & Requires<R> {
  // Empty strings count as unset: `FOO= npm start` should mean the default, not an error.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
  const result = schema.safeParse(given)
  const problems = result.success
    ? []
    : result.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`)
  for (const name of required) {
    if (given[name] === undefined) problems.push(`${name}: required but not set`)
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems)
  // Checked just above: every required setting is present.
  return toConfig(result.data) as Config & Requires<R>
}
