import type { MiddlewareHandler } from 'hono'
import type { z } from 'zod'
import { AppError, type FieldError } from './errors'

const jsonType = /^application\/(.+\+)?json\s*(;|$)/i

/**
 * Checks the media type and parses the JSON body before the route's zod validator runs, so a
 * wrong Content-Type is a 415 and broken JSON a 400 that says where it broke (the validator on
 * its own would report both as missing fields). The parsed body is cached for the validator.
 * With `optional`, a request without a body passes through.
 */
export function jsonBody(options: { optional?: boolean } = {}): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header('content-type') ?? ''
    const length = c.req.header('content-length')
    const hasBody = type !== '' || (length !== undefined && length !== '0')
    if (options.optional && !hasBody) return next()
    if (!jsonType.test(type)) {
      throw new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`,
      )
    }
    try {
      await c.req.json()
    } catch (err) {
      throw new AppError('MALFORMED_JSON', `The body is not valid JSON: ${(err as Error).message}`)
    }
    return next()
  }
}

/** zod issues as field errors: `quantity: must be at least 1`, `extra: unknown field`. */
export function fieldErrorsOf(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: [...issue.path, key].join('.'),
          message: 'unknown field',
        }))
      : [{ field: issue.path.map(String).join('.') || '(body)', message: issue.message }],
  )
}

/** The routes' validation hook: every zod failure becomes one 400 problem listing each field. */
export function validationFailed(error: z.ZodError): never {
  const fieldErrors = fieldErrorsOf(error)
  throw new AppError(
    'VALIDATION_FAILED',
    fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; '),
    fieldErrors,
  )
}
