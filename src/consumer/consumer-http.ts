/** The consumer's own small HTTP server (CONSUMER_METRICS_PORT): /metrics and /healthz. */
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { Registry } from 'prom-client'

export async function serveConsumerHttp(registry: Registry, port: number, hostname?: string) {
  const app = new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/metrics', async (c) =>
      c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
    )
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname }, () => resolve(s))
    s.once('error', reject)
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
