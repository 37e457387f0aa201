/**
 * The orders HTTP API. Each route is declared once with zod (@hono/zod-openapi): the same
 * declaration validates requests and generates the OpenAPI document at /openapi.json.
 */
import { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Db } from '../db/client'
import { AppError } from '../http/errors'
import { type IdempotencyOptions, runIdempotent, type StoredResponse } from '../http/idempotency'
import { validationFailed } from '../http/json-body'
import type { RequestEnv } from '../http/request-context'
import type { EventContext } from '../outbox'
import { findOrder, transitionOrder } from './commands'
import { OrderError } from './errors'
import { decodeCursor, encodeCursor, listOrders } from './list-orders'
import { type Clock, type OrderJson, type Transition, toOrderJson, transitions } from './order'
import { placeOrder } from './place-order'
import {
  getOrderRoute,
  idempotencyKeyOf,
  listOrdersRoute,
  placeOrderRoute,
  transitionRoute,
} from './routes-openapi'

export type OrdersDeps = { db: Db; clock: Clock; idempotencyTtlMs: number }

type OrdersApp = OpenAPIHono<RequestEnv>

function send(c: Context, response: StoredResponse & { replayed: boolean }) {
  if (response.location) c.header('Location', response.location)
  if (response.replayed) c.header('Idempotent-Replayed', 'true')
  return c.json(response.body as OrderJson, response.status)
}

const contextOf = (c: Context<RequestEnv>): EventContext => ({
  requestId: c.get('requestId'),
  traceparent: c.get('traceparent'),
})

export function ordersRoutes(deps: OrdersDeps) {
  const app: OrdersApp = new OpenAPIHono<RequestEnv>({
    defaultHook: (result) => {
      if (!result.success) validationFailed(result.error)
    },
  })
  writeRoutes(app, deps)
  readRoutes(app, deps.db)
  return app
}

/** POST /orders and the transitions: each under its Idempotency-Key, when one is sent. */
function writeRoutes(app: OrdersApp, { db, clock, idempotencyTtlMs }: OrdersDeps) {
  const idempotency: IdempotencyOptions = { ttlMs: idempotencyTtlMs, clock }

  app.openapi(placeOrderRoute, async (c) => {
    const input = c.req.valid('json')
    const request = { client: c.get('client'), method: 'POST', path: '/orders', input }
    // The order and its event commit together or not at all. Kafka is not involved here:
    // the relay publishes after commit, so this answers even while Kafka is down.
    const response = await runIdempotent(
      db,
      idempotencyKeyOf(c),
      request,
      idempotency,
      async (x) => {
        const order = await placeOrder(x, input, clock, contextOf(c))
        return { status: 201, body: toOrderJson(order), location: `/orders/${order.id}` }
      },
    )
    return send(c, response) as never
  })

  for (const transition of Object.keys(transitions) as Transition[]) {
    app.openapi(transitionRoute(transition), async (c) => {
      const { id } = c.req.valid('param')
      const body = (c.req.valid as (t: 'json') => { reason?: string } | undefined)('json') ?? {}
      const path = `/orders/${id}/${transition}`
      const request = { client: c.get('client'), method: 'POST', path, input: body }
      const key = idempotencyKeyOf(c)
      const response = await runIdempotent(db, key, request, idempotency, async (executor) => {
        // A transition is several statements: its own transaction (a savepoint under a key).
        const order = await executor.transaction((tx) =>
          transitionOrder(tx, id, transition, clock, { ...body, context: contextOf(c) }),
        )
        return { status: 200, body: toOrderJson(order) }
      })
      return send(c, response) as never
    })
  }
}

/** GET /orders and GET /orders/{id}. */
function readRoutes(app: OrdersApp, db: Db) {
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
    if (!order) throw new OrderError('ORDER_NOT_FOUND', `No order with id ${id}`)
    return c.json(toOrderJson(order), 200)
  })
}
