/**
 * Errors carry a code, not an HTTP status: the edge (app.ts) maps codes to statuses.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'NOT_FOUND'
  | 'ORDER_NOT_FOUND'
  | 'ORDER_STATE_CONFLICT'
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
