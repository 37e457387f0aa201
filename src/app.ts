/**
 * The HTTP application: middleware in order (request context, body limit, timeout, rate
 * limit, API key), the routes, the OpenAPI document and docs page, and the one place where
 * errors become RFC 9457 problem responses.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import { HTTPException } from 'hono/http-exception'
import type { Registry } from 'prom-client'
import type { Db } from './db/client'
import { schemaRoutes } from './events/schema-routes'
import { bodyLimit } from './http/body-limit'
import { clientIdentity } from './http/client-identity'
import { docsRoutes } from './http/docs'
import { AppError } from './http/errors'
import { ApiKeys, rateLimit, requestTimeout, requireApiKey } from './http/guards'
import { healthRoute, metricsRoute, readyRoute } from './http/health'
import { internalProblem, problemFor, problemResponse, unavailableProblem } from './http/problem'
import { type RequestEnv, requestContext } from './http/request-context'
import type { Logger } from './logger'
import { createHttpMetrics, createRegistry } from './observability/metrics'
import type { Clock } from './orders/commands'
import { OrderError } from './orders/errors'
import { ordersRoutes } from './orders/routes'

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

// postgres.js / Node errors meaning "the database cannot be reached right now".
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01', // admin_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
])

/** The driver's error code, also when the ORM wrapped the error (drizzle's `cause`). */
function driverErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
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
  app.onError((err, c) => errorResponse(err, c.get('log') ?? logger, c.req))

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

/** Any error as a problem+json response: domain and HTTP errors by code, the rest as 503 or 500. */
function errorResponse(err: Error, log: Logger, req: { method: string; path: string }) {
  if (err instanceof OrderError) {
    return problemResponse(problemFor(err.code, err.message, undefined, err.extensions))
  }
  if (err instanceof AppError) {
    return problemResponse(
      problemFor(err.code, err.message, err.fieldErrors, err.extensions),
      err.headers,
    )
  }
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse() // already a problem response (request timeout)
    if (err.status < 500) {
      return problemResponse({
        type: 'about:blank',
        title: err.message || 'Bad request',
        status: err.status,
        detail: err.message,
      })
    }
  }
  const code = driverErrorCode(err)
  if (code !== undefined && unavailableCodes.has(code)) {
    log.warn({ err: { message: err.message, code }, path: req.path }, 'database unavailable')
    return problemResponse(unavailableProblem, { 'retry-after': '1' })
  }
  // The error's kind and the database's own message only: drizzle's message and the error's
  // fields carry the statement's parameters (customer ids, items), which stay out of the logs
  // unless LOG_LEVEL=debug asks for them.
  log.error({ err: summaryOf(err, code), method: req.method, path: req.path }, 'request failed')
  log.debug({ err }, 'request failed: details')
  return problemResponse(internalProblem)
}

function summaryOf(err: Error, code: string | undefined) {
  let root: unknown = err
  while ((root as { cause?: unknown }).cause instanceof Error)
    root = (root as { cause: Error }).cause
  const message = root instanceof Error ? root.message : String(root)
  return {
    type: err.name,
    ...(code ? { code } : {}),
    message: root === err && err.name === 'DrizzleQueryError' ? 'query failed' : message,
    // Frames only: the stack's first lines repeat the message.
    stack: err.stack
      ?.split('\n')
      .filter((line) => line.trimStart().startsWith('at '))
      .slice(0, 5)
      .join('\n'),
  }
}
