/** The HTTP layer's errors, and every unexpected one, as problem+json responses. */
import { HTTPException } from 'hono/http-exception'
import type { Logger } from '../logger'
import { AppError } from './errors'
import { internalProblem, problemFor, problemResponse, unavailableProblem } from './problem'

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

/**
 * Any error but a feature's own as a problem+json response: the HTTP layer's by code, the rest
 * as 503 (the database unreachable) or 500. app.ts's error handler maps the features' errors
 * first.
 */
export function errorResponse(err: Error, log: Logger, req: { method: string; path: string }) {
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
