/** GET /schemas/{name}: the events' JSON Schemas, which `ce_dataschema` points to. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import { z } from 'zod'
import { AppError } from '../http/errors'
import { problemResponses } from '../http/openapi-schemas'
import { httpProblems } from '../http/problem'
import { readCommittedSchemas } from './schema-files'

const schemaRoute = createRoute({
  method: 'get',
  path: '/{name}',
  summary: 'An event JSON Schema',
  description:
    '`<Type>.v<n>.json` is version n of the type’s data schema (what `ce_dataschema` names); `<Type>.json` is its newest version.',
  request: {
    params: z.object({
      name: z
        .string()
        .meta({ param: { name: 'name', in: 'path' }, example: 'OrderCreated.v1.json' }),
    }),
  },
  responses: {
    200: {
      description: 'A JSON Schema (draft 2020-12).',
      content: { 'application/schema+json': { schema: z.record(z.string(), z.unknown()) } },
    },
    ...problemResponses(httpProblems, 'NOT_FOUND'),
  },
})

/** `OrderCreated.json` -> the newest `OrderCreated.v<n>.json`; exact names as they are. */
export function resolveSchemaName(files: Iterable<string>, name: string): string | undefined {
  const names = [...files]
  if (names.includes(name)) return name
  const type = name.replace(/\.json$/, '')
  const versionOf = (f: string) => Number(/\.v(\d+)\.json$/.exec(f)?.[1] ?? 0)
  return names
    .filter((f) => f.startsWith(`${type}.v`))
    .sort((a, b) => versionOf(b) - versionOf(a))[0]
}

export function schemaRoutes() {
  const schemas = readCommittedSchemas()
  return new OpenAPIHono().openapi(schemaRoute, (c) => {
    const name = c.req.valid('param').name
    const file = resolveSchemaName(schemas.keys(), name)
    const text = file === undefined ? undefined : schemas.get(file)
    if (text === undefined) {
      throw new AppError(
        'NOT_FOUND',
        `No event schema ${name}; known: ${[...schemas.keys()].join(', ')}`,
      )
    }
    // Served as committed (byte for byte), not re-serialized.
    return c.body(text, 200, { 'content-type': 'application/schema+json' }) as never
  })
}
