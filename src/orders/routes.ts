/**
 * The orders HTTP API. Each route is declared once with zod (@hono/zod-openapi): the same
 * declaration validates requests and generates the OpenAPI document at /openapi.json.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { z } from 'zod'
import type { Db } from '../db/client'
import { AppError } from '../http/errors'
import { type IdempotencyOptions, runIdempotent, type StoredResponse } from '../http/idempotency'
import { validationFailed } from '../http/json-body'
import type { RequestEnv } from '../http/request-context'
import type { EventContext } from '../outbox'
import {
  type Clock,
  decodeCursor,
  encodeCursor,
  findOrder,
  listOrders,
  placeOrder,
  transitionOrder,
} from './commands'
import { type Transition, toOrderJson, transitions } from './order'
import {
  getOrderRoute,
  idempotencyKeyOf,
  listOrdersRoute,
  type OrderSchema,
  placeOrderRoute,
  transitionRoute,
} from './routes-openapi'

export type OrdersDeps = { db: Db; clock: Clock; idempotencyTtlMs: number }

function send(c: Context, response: StoredResponse & { replayed: boolean }) {
  if (response.location) c.header('Location', response.location)
  if (response.replayed) c.header('Idempotent-Replayed', 'true')
  return c.json(response.body as z.output<typeof OrderSchema>, response.status)
}

export function ordersRoutes({ db, clock, idempotencyTtlMs }: OrdersDeps) {
  const idempotency: IdempotencyOptions = { ttlMs: idempotencyTtlMs, clock }
  const contextOf = (c: Context<RequestEnv>): EventContext => ({
    requestId: c.get('requestId'),
    traceparent: c.get('traceparent'),
  })
  const app = new OpenAPIHono<RequestEnv>({
    defaultHook: (result) => {
      if (!result.success) validationFailed(result.error)
    },
  })

  app.openapi(placeOrderRoute, async (c) => {
    const input = c.req.valid('json')
    const key = idempotencyKeyOf(c)
    // The order and its event commit together or not at all. Kafka is not involved here:
    // the relay publishes after commit, so this answers even while Kafka is down.
    const response = await runIdempotent(
      db,
      key,
      { client: c.get('client'), method: 'POST', path: '/orders', input },
      idempotency,
      async (executor) => {
        const order = await placeOrder(executor, input, clock, contextOf(c))
        return { status: 201, body: toOrderJson(order), location: `/orders/${order.id}` }
      },
    )
    return send(c, response) as never
  })

  app.openapi(listOrdersRoute, async (c) => {
    const { limit, cursor, status } = c.req.valid('query')
    const after = cursor === undefined ? undefined : decodeCursor(cursor)
    if (cursor !== undefined && !after) {
      throw new AppError('VALIDATION_FAILED', 'cursor: not a cursor from this API', [
        { field: 'cursor', message: 'not a cursor from this API' },
      ])
    }
    const page = await listOrders(db, { limit, after, status })
    return c.json(
      {
        items: page.items.map(toOrderJson),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      },
      200,
    )
  })

  app.openapi(getOrderRoute, async (c) => {
    const { id } = c.req.valid('param')
    const order = await findOrder(db, id)
    if (!order) throw new AppError('ORDER_NOT_FOUND', `No order with id ${id}`)
    return c.json(toOrderJson(order), 200)
  })

  for (const transition of Object.keys(transitions) as Transition[]) {
    app.openapi(transitionRoute(transition), async (c) => {
      const { id } = c.req.valid('param')
      const key = idempotencyKeyOf(c)
      const body = (c.req.valid as (t: 'json') => { reason?: string } | undefined)('json') ?? {}
      const response = await runIdempotent(
        db,
        key,
        {
          client: c.get('client'),
          method: 'POST',
          path: `/orders/${id}/${transition}`,
          input: body,
        },
        idempotency,
        // A transition is several statements: its own transaction (a savepoint under a key).
        async (executor) => {
          const order = await executor.transaction((tx) =>
            transitionOrder(tx, id, transition, clock, {
              ...body,
              context: contextOf(c),
            }),
          )
          return { status: 200, body: toOrderJson(order) }
        },
      )
      return send(c, response) as never
    })
  }
  return app
}
