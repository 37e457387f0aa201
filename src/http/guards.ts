/** API keys, rate limit and request timeout: what stands between the internet and the orders. */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { timeout } from 'hono/timeout'
import { rateLimiter } from 'hono-rate-limiter'
import { AppError } from './errors'
import { problemFor, problemResponse } from './problem'

const digest = (s: string) => createHash('sha256').update(s).digest()
const readOnly = new Set(['GET', 'HEAD', 'OPTIONS'])

function bearerToken(c: Context): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  return match?.[1]
}

/**
 * The configured API keys. Keys are compared as SHA-256 digests with timingSafeEqual, against
 * every key, so the time taken says nothing about which bytes matched.
 */
export class ApiKeys {
  readonly #digests: Buffer[]
  // The rate limiter and the key check both ask about the same request: hash it once.
  readonly #seen = new WeakMap<Context, string | undefined>()
  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest)
  }
  get enabled(): boolean {
    return this.#digests.length > 0
  }
  /** The accepted key's id (a digest prefix, safe to log and to key on), or undefined. */
  accept(c: Context): string | undefined {
    if (this.#seen.has(c)) return this.#seen.get(c)
    const token = bearerToken(c)
    let id: string | undefined
    if (token) {
      const given = digest(token)
      let ok = false
      for (const d of this.#digests) ok = timingSafeEqual(d, given) || ok
      id = ok ? given.toString('base64url').slice(0, 16) : undefined
    }
    this.#seen.set(c, id)
    return id
  }
}

/**
 * When any keys are configured, requests need `Authorization: Bearer <key>` with one of them:
 * writes always, reads too unless `publicReads` (API_PUBLIC_READS). The accepted key's id is
 * kept in the context (`apiKeyId`).
 */
export function requireApiKey(
  keys: ApiKeys,
  options: { publicReads: boolean },
): MiddlewareHandler<{ Variables: { apiKeyId?: string } }> {
  return async (c, next) => {
    if (!keys.enabled || (options.publicReads && readOnly.has(c.req.method))) return next()
    const id = keys.accept(c)
    if (!id) {
      throw new AppError(
        'UNAUTHORIZED',
        bearerToken(c)
          ? 'The API key is not valid.'
          : 'This endpoint needs Authorization: Bearer <API key>.',
        undefined,
        undefined,
        { 'www-authenticate': 'Bearer' },
      )
    }
    c.set('apiKeyId', id)
    return next()
  }
}

/**
 * A fixed window per client (clientIdentity: a valid API key, else the address), in this
 * process's memory. An unknown token does not get a bucket of its own (or sending random tokens
 * would lift the limit, and key guessing would never be throttled).
 */
export function rateLimit(perMinute: number): MiddlewareHandler<{ Variables: { client: string } }> {
  if (perMinute === 0) return (_c, next) => next()
  return rateLimiter<{ Variables: { client: string } }>({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-6',
    keyGenerator: (c) => c.get('client'),
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
    const problem = problemFor(
      'REQUEST_TIMEOUT',
      `No answer within ${ms} ms. The change may or may not have been saved: retry with the same Idempotency-Key to find out safely.`,
    )
    return new HTTPException(503, { res: problemResponse(problem, { 'retry-after': '1' }) })
  })
}
