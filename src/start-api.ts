import { createApp } from './app'
import type { Config } from './config'
import { createDb } from './db/client'
import { purgeExpiredKeys } from './http/idempotency'
import { listen } from './http/listen'
import type { Logger } from './logger'

export type ApiService = { port: number; stop(): Promise<void> }

export async function startApi(
  config: Config & { databaseUrl: string },
  logger: Logger,
): Promise<ApiService> {
  const { db, sql } = createDb(config.databaseUrl, {
    max: config.http.dbPoolSize,
    applicationName: 'outbox-api',
  })
  const app = createApp({
    db,
    logger,
    idempotencyTtlMs: config.idempotencyTtlMs,
    apiKeys: config.http.apiKeys,
    publicReads: config.http.publicReads,
    trustedProxies: config.http.trustedProxies,
    maxBodyBytes: config.http.maxBodyBytes,
    requestTimeoutMs: config.http.requestTimeoutMs,
    rateLimitPerMinute: config.http.rateLimitPerMinute,
  })
  const server = await listen(app.fetch, {
    port: config.port,
    hostname: config.http.host,
    setting: 'PORT',
  })
  logger.info({ port: server.port }, 'api listening')

  // Expired Idempotency-Keys are already ignored; this keeps the table small. Each pass deletes
  // every expired key (in batches), so it keeps up with any write rate.
  const purge = setInterval(() => {
    purgeExpiredKeys(db, new Date()).then(
      (n) => n > 0 && logger.debug({ purged: n }, 'expired idempotency keys deleted'),
      (err: unknown) => logger.warn({ err }, 'idempotency key purge failed; will retry'),
    )
  }, 60_000)
  purge.unref()

  return {
    port: server.port,
    async stop() {
      clearInterval(purge)
      await server.close()
      await sql.end({ timeout: 5 })
    },
  }
}
