/** The consumer's own small HTTP server (METRICS_PORT): /metrics and /healthz. */
import { Hono } from 'hono'
import type { Registry } from 'prom-client'
import { listen } from '../http/listen'

export async function serveConsumerHttp(registry: Registry, port: number, hostname?: string) {
  const app = new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/metrics', async (c) =>
      c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    )
  return listen(app.fetch, { port, hostname, setting: 'METRICS_PORT' })
}
