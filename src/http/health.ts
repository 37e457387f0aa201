/** The operational routes, documented in the OpenAPI document like the others. */
import { createRoute } from '@hono/zod-openapi'
import { z } from 'zod'

export const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  description: 'The process is up and serving HTTP. Says nothing about the database.',
  responses: {
    200: {
      description: 'Alive.',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
  },
})

const Readiness = z
  .object({
    status: z.enum(['ready', 'not ready']),
    reasons: z.array(z.string()).describe('Why not ready; empty when ready.'),
  })
  .meta({ id: 'Readiness' })

export const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness',
  description: 'Ready when the database answers: only then can orders be placed.',
  responses: {
    200: { description: 'Ready.', content: { 'application/json': { schema: Readiness } } },
    503: {
      description: 'Not ready; `reasons` says why.',
      content: { 'application/json': { schema: Readiness } },
    },
  },
})

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics',
  responses: {
    200: {
      description: 'Prometheus text exposition format.',
      content: { 'text/plain': { schema: z.string() } },
    },
  },
})
