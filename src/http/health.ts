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
