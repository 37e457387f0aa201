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

export type FieldError = { field: string; message: string }

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldErrors?: FieldError[],
  ) {
    super(message)
    this.name = 'AppError'
  }
}
