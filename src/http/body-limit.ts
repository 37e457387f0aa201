/**
 * The request body size limit, checked from Content-Length when the request declares one.
 *
 * Hono's own bodyLimit starts by reading `c.req.raw.body`, which on @hono/node-server turns the
 * lightweight request into a full undici Request (a stream over the socket, Headers) for every
 * request with a body: a large share of the API's CPU (docs/benchmarks.md). Node's HTTP parser
 * reads exactly Content-Length bytes, so the header is the size. A body without a length
 * (chunked, or a `Request` built in a test) still goes through Hono's counting reader.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit as countingBodyLimit } from 'hono/body-limit'

const bodiless = new Set(['GET', 'HEAD'])

export function bodyLimit(maxBytes: number, tooLarge: (c: Context) => never): MiddlewareHandler {
  const counting = countingBodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return (c, next) => {
    if (bodiless.has(c.req.method)) return next()
    const length = c.req.header('content-length')
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) {
      return counting(c, next)
    }
    return Number.parseInt(length, 10) > maxBytes ? tooLarge(c) : next()
  }
}
