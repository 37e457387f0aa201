/**
 * Per-request context: a request id (X-Request-Id, taken from the caller when well-formed),
 * a W3C trace context, a child logger carrying both, and the request-duration metric.
 * The id and trace context are stored with every outbox row the request writes, so one
 * request can be followed from the HTTP log line to the Kafka message (`traceparent` header).
 */
import { randomFillSync, randomUUID } from 'node:crypto'
import { trace } from '@opentelemetry/api'
import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import type { Logger } from '../logger'
import type { HttpMetrics } from '../observability/metrics'
import { spanContextOf } from '../observability/tracing'

export type RequestVars = {
  requestId: string
  traceparent: string
  log: Logger
  /** Set by requireApiKey when API keys are configured and the request's key was accepted. */
  apiKeyId?: string
  /** Who the request is from (client-identity.ts): rate limits and idempotency keys go by it. */
  client: string
}
export type RequestEnv = { Variables: RequestVars }

const requestIdPattern = /^[\w.:-]{1,128}$/

// Random ids from a pooled buffer, refilled every 256 trace contexts: a `randomBytes` call per
// id (two per request) cost more than the rest of this middleware together. The bytes are the
// same CSPRNG's; node's randomUUID pools the same way.
const pool = Buffer.alloc(24 * 256)
let used = pool.length
function randomHex(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  used += bytes
  return pool.toString('hex', used - bytes, used)
}

const flagsOf = (flags: number) => flags.toString(16).padStart(2, '0')

/**
 * This request's traceparent. With an OpenTelemetry SDK installed, the active span's context;
 * otherwise the caller's trace id with a new span id for this request (the no-op API creates
 * no spans), or a new trace when the caller sent none or a malformed one.
 */
export function traceparentFor(incoming: string | undefined): string {
  const active = trace.getActiveSpan()?.spanContext()
  if (active && trace.isSpanContextValid(active)) {
    return `00-${active.traceId}-${active.spanId}-${flagsOf(active.traceFlags)}`
  }
  const spanId = randomHex(8)
  const caller = spanContextOf(incoming)
  if (caller) return `00-${caller.traceId}-${spanId}-${flagsOf(caller.traceFlags)}`
  return `00-${randomHex(16)}-${spanId}-01`
}

export function requestContext(
  logger: Logger,
  metrics: HttpMetrics,
): MiddlewareHandler<RequestEnv> {
  return async (c, next) => {
    const started = performance.now()
    const given = c.req.header('x-request-id')
    const requestId = given && requestIdPattern.test(given) ? given : randomUUID()
    const traceparent = traceparentFor(c.req.header('traceparent'))
    const log = logger.child({ requestId })
    c.set('requestId', requestId)
    c.set('traceparent', traceparent)
    c.set('log', log)
    c.header('X-Request-Id', requestId)
    await next()
    // Error responses are built whole (problem.ts) and do not carry the header set above; the
    // caller needs the id most when something failed.
    if (!c.res.headers.has('x-request-id')) {
      try {
        c.res.headers.set('X-Request-Id', requestId)
      } catch {
        // Immutable headers (a response passed through as it came): copy it.
        const res = new Response(c.res.body, c.res)
        res.headers.set('X-Request-Id', requestId)
        c.res = res
      }
    }
    const seconds = (performance.now() - started) / 1000
    const matched = routePath(c, -1)
    // Unmatched paths share one label: random URLs must not create new time series.
    const route = c.res.status === 404 && matched.endsWith('*') ? 'unmatched' : matched
    metrics.requestDuration.observe(
      { route, method: c.req.method, status: String(c.res.status) },
      seconds,
    )
    log.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
      },
      'request',
    )
  }
}
