/**
 * The settings: what a deployment must or may choose (connections, exposure, security,
 * retention, the few limits worth tuning). docs/operations.md says when to change each;
 * everything else is a fixed value (fixed.ts).
 */
import { z } from 'zod'
import { DEFAULT_TOPIC_TEMPLATE, topicTemplateProblem } from '../outbox/routing'
import {
  commaList,
  duration,
  intSetting,
  isAddressOrRange,
  rolePasswords,
  wholeNumber,
} from './parse'

export const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL')
    .optional(),
  KAFKA_BROKERS: commaList()
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
  // The idempotent producer is right for real clusters; the development broker cannot do it.
  KAFKA_IDEMPOTENT: z.stringbool().default(true),
  // Client-side guard, to match the topics' max.message.bytes (Kafka's default is about 1 MB):
  // larger events are dead-lettered with a clear reason instead of refused batch after batch.
  KAFKA_MAX_MESSAGE_BYTES: intSetting('KAFKA_MAX_MESSAGE_BYTES', 1_000_000, 100_000_000),
  PORT: intSetting('PORT', 3000, 65535),
  // The relay's and the consumer's /metrics, /healthz (and the relay's /readyz); each process
  // has its own default, so both run beside `npm start` on one host (toConfig).
  METRICS_PORT: wholeNumber('METRICS_PORT', 65535, 'any free port').optional(),
  // The address every listener of the process binds; unset = every interface.
  HOST: z.string().min(1).optional(),
  // Bearer tokens for the API; unset = no authentication.
  API_KEYS: commaList()
    .pipe(
      z
        .array(z.string().min(16, 'each API key must be at least 16 characters'))
        .min(1, 'API_KEYS must list at least one key'),
    )
    .optional(),
  // With API_KEYS set, reads (GET /orders...) need a key too, unless this opens them.
  API_PUBLIC_READS: z.stringbool().default(false),
  // Proxies whose X-Forwarded-For names the client; unset = the socket's address is the client
  // (the rate limiter's and idempotency keys' scope).
  TRUSTED_PROXIES: commaList()
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
  // Requests per minute per client (API key, else address); 0 turns the limit off.
  RATE_LIMIT_PER_MINUTE: intSetting('RATE_LIMIT_PER_MINUTE', 60_000, 1_000_000, 'off'),
  RELAY_WAKEUP: z
    .enum(['adaptive', 'notify', 'poll'], {
      error: 'RELAY_WAKEUP must be adaptive, notify or poll',
    })
    .default('adaptive'),
  RELAY_POLL_INTERVAL_MS: intSetting('RELAY_POLL_INTERVAL_MS', 1000, 3_600_000),
  RELAY_BATCH_SIZE: intSetting('RELAY_BATCH_SIZE', 1000, 10_000),
  // Published events older than this are deleted by the relay, in small batches.
  OUTBOX_RETENTION: duration('OUTBOX_RETENTION', '7d'),
  // Settled inbox rows and idle orders' versions older than this are deleted by the consumer.
  CONSUMER_RETENTION: duration('CONSUMER_RETENTION', '7d'),
  // ce_dataschema = <this>/<Type>.v<n>.json; the API serves the schemas under /schemas.
  // Unset: the API on this host at PORT (toConfig).
  EVENT_SCHEMA_BASE_URL: z
    .url({ error: 'EVENT_SCHEMA_BASE_URL must be an absolute URL' })
    .optional(),
  // Read by `db:migrate` only: logins for the least-privilege roles (drizzle/0006).
  DB_ROLE_PASSWORDS: rolePasswords().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
})

export type Settings = z.output<typeof schema>
