/**
 * RFC 9457 problem details: every error response is `application/problem+json`
 * with type, title, status and detail (and `errors` for validation failures).
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ErrorCode, FieldError } from './errors'

export type Problem = {
  type: string
  title: string
  status: ContentfulStatusCode
  detail: string
  errors?: FieldError[]
  [extension: string]: unknown
}

/** How one error code is answered: its status and a short, fixed title. */
export type ProblemKind = { status: ContentfulStatusCode; title: string }

/** The HTTP layer's own codes. A feature keeps its own table beside its routes. */
export const httpProblems: Record<ErrorCode, ProblemKind> = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: 'Idempotency-Key already used for a different request',
  },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  REQUEST_TIMEOUT: { status: 503, title: 'Request timed out' },
}

const slug = (s: string) => s.toLowerCase().replaceAll('_', '-')

/** The problem body for one of the HTTP layer's own codes. */
export function problemFor(
  code: ErrorCode,
  detail: string,
  errors?: FieldError[],
  extensions?: Record<string, unknown>,
): Problem {
  return problemOf(code, httpProblems[code], detail, errors, extensions)
}

/** The problem body for any code, given how it is answered (a feature's table). */
export function problemOf(
  code: string,
  { status, title }: ProblemKind,
  detail: string,
  errors?: FieldError[],
  extensions?: Record<string, unknown>,
): Problem {
  return {
    ...extensions,
    type: `/problems/${slug(code)}`,
    title,
    status,
    detail,
    ...(errors ? { errors } : {}),
  }
}

export const internalProblem: Problem = {
  type: '/problems/internal-error',
  title: 'Internal server error',
  status: 500,
  detail: 'The request failed on the server and nothing was saved. It is safe to retry.',
}

export const unavailableProblem: Problem = {
  type: '/problems/service-unavailable',
  title: 'Service unavailable',
  status: 503,
  detail: 'The database is unreachable; nothing was saved. Retry shortly.',
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  })
}
