/** Shapes shared by the OpenAPI document: the problem body and the responses that use it. */
import { z } from 'zod'
import type { ProblemKind } from './problem'

export const ProblemSchema = z
  .object({
    type: z
      .string()
      .describe('A URI reference naming the kind of problem, e.g. /problems/validation-failed'),
    title: z.string(),
    status: z.int(),
    detail: z.string().describe('What was wrong with this request, for a human.'),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .describe('For validation failures: every field that was wrong.'),
    currentStatus: z
      .string()
      .optional()
      .describe("For 409 on a transition: the order's current status."),
    item: z.string().optional().describe('For 409 on a stock limit: the item.'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' })

const problemContent = { 'application/problem+json': { schema: ProblemSchema } }

/**
 * OpenAPI response entries for the given error codes (grouped by status), looked up in `kinds`:
 * httpProblems, or a feature's table merged with it.
 */
export function problemResponses<C extends string>(kinds: Record<C, ProblemKind>, ...codes: C[]) {
  const byStatus: Record<number, string[]> = {}
  for (const code of codes) {
    const { status, title } = kinds[code]
    byStatus[status] = [...(byStatus[status] ?? []), title]
  }
  return Object.fromEntries(
    Object.entries(byStatus).map(([status, titles]) => [
      status,
      { description: titles.join('; '), content: problemContent },
    ]),
  )
}

/** Every route can fail with these. */
export const serverProblems = {
  500: { description: 'Internal server error; nothing was saved.', content: problemContent },
  503: {
    description: 'The database is unreachable; nothing was saved. Sent with Retry-After.',
    content: problemContent,
  },
}
