/**
 * The HTTP application: middleware in order (request context, body limit, timeout, rate
 * limit, API key), the routes, the OpenAPI document and docs page, and the one place where
 * errors become RFC 9457 problem responses.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Registry } from 'prom-client'
import type { Db } from './db/client'
import { schemaRoutes } from './events/schema-routes'
import { bodyLimit } from './http/body-limit'
import { clientIdentity } from './http/client-identity'
import { docsRoutes } from './http/docs'
import { errorResponse } from './http/error-response'
import { AppError } from './http/errors'
import { ApiKeys, rateLimit, requestTimeout, requireApiKey } from './http/guards'
import { healthRoute, metricsRoute, readyRoute } from './http/health'
import { problemFor, problemResponse } from './http/problem'
import { type RequestEnv, requestContext } from './http/request-context'
import type { Logger } from './logger'
import { createHttpMetrics, createRegistry } from './observability/metrics'
import { OrderError } from './orders/errors'
import type { Clock } from './orders/order'
import { ordersRoutes } from './orders/routes'
import { orderErrorResponse } from './orders/routes-problems'

export type AppDeps = {
  db: Db
  logger: Logger
  clock?: Clock
  /** Largest accepted request body, in bytes. */
  maxBodyBytes?: number
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs?: number
  /** Bearer tokens accepted; empty = no authentication. */
  apiKeys?: readonly string[]
  /** With keys: reads of orders need none (API_PUBLIC_READS). /metrics always needs one. */
  publicReads?: boolean
  /** Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES). */
  trustedProxies?: readonly string[]
  /** Requests per minute per client; 0 = unlimited. */
  rateLimitPerMinute?: number
  requestTimeoutMs?: number
  /** Where the metrics go; a fresh registry (with process metrics) when not given. */
  registry?: Registry
}

export function createApp({
  db,
  logger,
  clock = () => new Date(),
  maxBodyBytes = 64 * 1024,
  idempotencyTtlMs = 24 * 3600_000,
  apiKeys = [],
  publicReads = false,
  trustedProxies = [],
  rateLimitPerMinute = 0,
  requestTimeoutMs = 10_000,
  registry = createRegistry(),
}: AppDeps) {
  const app = new OpenAPIHono<RequestEnv>()
  const httpMetrics = createHttpMetrics(registry)

  app.use(requestContext(logger, httpMetrics))
  app.use(
    bodyLimit(maxBodyBytes, () => {
      throw new AppError('PAYLOAD_TOO_LARGE', `The body must be at most ${maxBodyBytes} bytes`)
    }),
  )
  app.use(requestTimeout(requestTimeoutMs))
  // Probes and scrapes are not rate limited: an orchestrator must always get an answer.
  // ('/orders/*' matches '/orders' too.)
  const keys = new ApiKeys(apiKeys)
  app.use('/orders/*', clientIdentity(keys, trustedProxies))
  app.use('/orders/*', rateLimit(rateLimitPerMinute))
  app.use('/orders/*', requireApiKey(keys, { publicReads }))
  // Metrics say how busy the service is and which routes exist: with keys, only for a key.
  app.use('/metrics', requireApiKey(keys, { publicReads: false }))

  operationsRoutes(app, db, registry)
  app.route('/orders', ordersRoutes({ db, clock, idempotencyTtlMs }))
  app.route('/schemas', schemaRoutes())

  documentApi(app)
  app.route('/docs', docsRoutes('/openapi.json'))

  app.notFound((c) =>
    problemResponse(problemFor('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)),
  )

  // The one place errors become responses.
  app.onError((err, c) =>
    err instanceof OrderError
      ? orderErrorResponse(err)
      : errorResponse(err, c.get('log') ?? logger, c.req),
  )

  return app
}

/** /healthz, /readyz and /metrics: never rate limited; only /metrics needs a key (when set). */
function operationsRoutes(app: OpenAPIHono<RequestEnv>, db: AppDeps['db'], registry: Registry) {
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(readyRoute, async (c) => {
    try {
      await db.execute('select 1')
      return c.json({ status: 'ready' as const, reasons: [] }, 200)
    } catch (err) {
      // The driver's message can name hosts and roles: it goes to the log, not to the caller.
      c.get('log').warn({ err: (err as Error).message }, 'not ready: database unreachable')
      return c.json({ status: 'not ready' as const, reasons: ['database unreachable'] }, 503)
    }
  })
  app.openapi(metricsRoute, async (c) =>
    c.text(await registry.metrics(), 200, { 'content-type': registry.contentType }),
  )
}

/** The OpenAPI document at /openapi.json, with the API-key scheme the write routes use. */
function documentApi(app: OpenAPIHono<RequestEnv>) {
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Orders API',
      version: '1.0.0',
      description:
        'Orders with a transactional outbox: every change and its event commit together; a relay publishes the events to Kafka. Errors are RFC 9457 problem+json.',
    },
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      'One of API_KEYS, required when API_KEYS is set: on every /orders route (reads are open only with API_PUBLIC_READS) and on /metrics.',
  })
}
