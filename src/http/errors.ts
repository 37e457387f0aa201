/**
 * Errors carry a code, not an HTTP status: problem.ts maps codes to statuses. Features throw
 * their own domain errors and map their codes at their own edge (src/orders/routes-problems.ts);
 * these are the HTTP layer's own.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'UNAUTHORIZED'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'

export type FieldError = { field: string; message: string }

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldErrors?: FieldError[],
    /** Extra members for the problem body (RFC 9457 extensions), e.g. `currentStatus`. */
    readonly extensions?: Record<string, unknown>,
    /** Response headers that go with the problem (WWW-Authenticate, Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
  }
}
