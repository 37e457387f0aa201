/**
 * `npm start`'s failures as one line each: what failed and the setting (or install) that fixes
 * it. The stack of an expected failure (a port in use, librdkafka missing) helps nobody.
 */
import type { Config } from '../config'
import { redactUrl } from '../logger'
import { EmbeddedPostgresFailed } from './embedded-postgres'
import { LibrdkafkaNotFound } from './load-librdkafka'

type Errno = Error & { code?: string }

export function describeStartFailure(err: unknown, config: Config): string {
  if (err instanceof LibrdkafkaNotFound) return err.message
  if (err instanceof EmbeddedPostgresFailed) {
    return `the embedded Postgres failed to start (${err.reason}); set DATABASE_URL to use another Postgres`
  }
  const e = err as Errno
  if (config.databaseUrl && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT)$/.test(e?.code ?? '')) {
    return `cannot connect to DATABASE_URL ${redactUrl(config.databaseUrl)} (${e.code}); check DATABASE_URL, or unset it for an embedded Postgres`
  }
  const message = err instanceof Error ? err.message : String(err)
  return `npm start failed: ${message.split('\n')[0]}`
}
