import { OpenAPIHono } from '@hono/zod-openapi'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import type { Db } from './db/client'
import { schemaRoutes } from './events/schema-routes'
import { docsRoutes } from './http/docs'
import { AppError } from './http/errors'
import { healthRoute } from './http/health'
import { internalProblem, problemFor, problemResponse, unavailableProblem } from './http/problem'
import type { Logger } from './logger'
import type { Clock } from './orders/commands'
import { ordersRoutes } from './orders/routes'

export type AppDeps = {
  db: Db
  logger: Logger
  clock?: Clock
  /** Largest accepted request body, in bytes. */
  maxBodyBytes?: number
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs?: number
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

export function createApp({
  db,
  logger,
  clock = () => new Date(),
  maxBodyBytes = 64 * 1024,
  idempotencyTtlMs = 24 * 3600_000,
}: AppDeps) {
  const app = new OpenAPIHono()

  app.use(
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new AppError('PAYLOAD_TOO_LARGE', `The body must be at most ${maxBodyBytes} bytes`)
      },
    }),
  )

  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
  app.route('/orders', ordersRoutes({ db, clock, idempotencyTtlMs }))
  app.route('/schemas', schemaRoutes())
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Orders API',
      version: '1.0.0',
      description:
        'Orders with a transactional outbox: every change and its event commit together; a relay publishes the events to Kafka. Errors are RFC 9457 problem+json.',
    },
  })
  app.route('/docs', docsRoutes('/openapi.json'))

  app.notFound((c) =>
    problemResponse(problemFor('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}`)),
  )

  // The one place errors become responses.
  app.onError((err, c) => {
    if (err instanceof AppError)
      return problemResponse(problemFor(err.code, err.message, err.fieldErrors, err.extensions))
    if (err instanceof HTTPException && err.status < 500) {
      return problemResponse({
        type: 'about:blank',
        title: err.message || 'Bad request',
        status: err.status,
        detail: err.message,
      })
    }
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && unavailableCodes.has(code)) {
      logger.warn({ err: { message: err.message, code }, path: c.req.path }, 'database unavailable')
      return problemResponse(unavailableProblem, { 'retry-after': '1' })
    }
    logger.error({ err, method: c.req.method, path: c.req.path }, 'request failed')
    return problemResponse(internalProblem)
  })

  return app
}
