/** API keys, rate limit and request timeout: what stands between the internet and the orders. */
import { createHash, timingSafeEqual } from 'node:crypto'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { timeout } from 'hono/timeout'
import { rateLimiter } from 'hono-rate-limiter'
import { AppError } from './errors'
import { problemFor, problemResponse } from './problem'

const digest = (s: string) => createHash('sha256').update(s).digest()

function bearerToken(c: Context): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  return match?.[1]
}

/**
 * Write endpoints (POST) need `Authorization: Bearer <key>` with one of `keys`; reads stay open.
 * No keys configured = no authentication. Keys are compared as SHA-256 digests with
 * timingSafeEqual, against every key, so the time taken says nothing about which bytes matched.
 */
export function requireApiKey(keys: readonly string[]): MiddlewareHandler {
  const digests = keys.map(digest)
  return async (c, next) => {
    if (digests.length === 0 || c.req.method !== 'POST') return next()
    const token = bearerToken(c)
    const given = digest(token ?? '')
    let ok = false
    for (const d of digests) ok = timingSafeEqual(d, given) || ok
    if (!token || !ok) {
      throw new AppError(
        'UNAUTHORIZED',
        token
          ? 'The API key is not valid.'
          : 'This endpoint needs Authorization: Bearer <API key>.',
        undefined,
        undefined,
        { 'www-authenticate': 'Bearer' },
      )
    }
    return next()
  }
}

function clientKey(c: Context): string {
  const token = bearerToken(c)
  if (token) return `key:${digest(token).toString('base64url')}`
  try {
    return `addr:${getConnInfo(c).remote.address ?? 'unknown'}`
  } catch {
    return 'addr:unknown' // not behind @hono/node-server (e.g. app.request in tests)
  }
}

/** A fixed window per client (API key, else remote address), in this process's memory. */
export function rateLimit(perMinute: number): MiddlewareHandler {
  if (perMinute === 0) return (_c, next) => next()
  return rateLimiter({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-6',
    keyGenerator: clientKey,
    handler: (c) => {
      const reset = c.res.headers.get('ratelimit-reset') ?? '60'
      throw new AppError(
        'RATE_LIMITED',
        `More than ${perMinute} requests in a minute from this client; retry after ${reset} s.`,
        undefined,
        undefined,
        { 'retry-after': reset },
      )
    },
  })
}

/**
 * Answers 503 when a request takes longer than `ms`. The work is not cancelled: a transaction
 * already running may still commit, which is why the body says so and why clients that retry
 * should send an Idempotency-Key.
 */
export function requestTimeout(ms: number): MiddlewareHandler {
  return timeout(ms, () => {
    const problem = {
      ...problemFor('REQUEST_TIMEOUT', `No answer within ${ms} ms.`),
    }
    return new HTTPException(503, {
      res: problemResponse(
        {
          ...problem,
          detail: `No answer within ${ms} ms. The change may or may not have been saved: retry with the same Idempotency-Key to find out safely.`,
        },
        { 'retry-after': '1' },
      ),
    })
  })
}
