import type { Context } from 'hono'
import type { z } from 'zod'
import { AppError } from './errors'

/**
 * Reads and validates a JSON request body. Everything that is wrong with the request becomes
 * an AppError (4xx); nothing unparsed reaches a use case.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json, got ${type ? `"${type}"` : 'none'}`,
    )
  }
  let body: unknown
  try {
    body = JSON.parse(await c.req.text())
  } catch (err) {
    throw new AppError('MALFORMED_JSON', `The body is not valid JSON: ${(err as Error).message}`)
  }
  const result = schema.safeParse(body)
  if (!result.success) {
    const fieldErrors = result.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            field: [...issue.path, key].join('.'),
            message: 'unknown field',
          }))
        : [{ field: issue.path.join('.') || '(body)', message: issue.message }],
    )
    throw new AppError(
      'VALIDATION_FAILED',
      fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; '),
      fieldErrors,
    )
  }
  return result.data
}
