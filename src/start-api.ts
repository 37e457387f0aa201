import { serve } from '@hono/node-server'
import { createApp } from './app'
import type { Config } from './config'
import { createDb } from './db/client'
import type { Logger } from './logger'

export type ApiService = { port: number; stop(): Promise<void> }

export async function startApi(
  config: Config & { databaseUrl: string },
  logger: Logger,
): Promise<ApiService> {
  const { db, sql } = createDb(config.databaseUrl, { max: 32, applicationName: 'outbox-api' })
  const app = createApp({ db, logger })
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port }, () => resolve(s))
    s.once('error', reject)
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  logger.info({ port }, 'api listening')
  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await sql.end({ timeout: 5 })
    },
  }
}
