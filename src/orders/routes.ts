import { Hono } from 'hono'
import { z } from 'zod'
import type { Db } from '../db/client'
import { AppError } from '../http/errors'
import { parseJsonBody } from '../http/json-body'
import { PlaceOrderInput, toOrderJson } from './order'
import { type Clock, findOrder, placeOrder } from './place-order'

export type OrdersDeps = { db: Db; clock: Clock }

const OrderId = z.uuid()

export function ordersRoutes({ db, clock }: OrdersDeps) {
  return new Hono()
    .post('/', async (c) => {
      const input = await parseJsonBody(c, PlaceOrderInput)
      // The order and its event commit together or not at all. Kafka is not involved here:
      // the relay publishes after commit, so this answers even while Kafka is down.
      const order = await db.transaction((tx) => placeOrder(tx, input, clock))
      c.header('Location', `/orders/${order.id}`)
      return c.json(toOrderJson(order), 201)
    })
    .get('/:id', async (c) => {
      const id = OrderId.safeParse(c.req.param('id'))
      if (!id.success) {
        throw new AppError('VALIDATION_FAILED', 'id must be a UUID', [
          { field: 'id', message: 'must be a UUID' },
        ])
      }
      const order = await findOrder(db, id.data)
      if (!order) throw new AppError('ORDER_NOT_FOUND', `No order with id ${id.data}`)
      return c.json(toOrderJson(order))
    })
}
