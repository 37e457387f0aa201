/** The order's pure rules and shapes: no HTTP, no SQL. */
import { z } from 'zod'

export const orderStatuses = ['pending', 'confirmed', 'shipped', 'cancelled'] as const
export type OrderStatus = (typeof orderStatuses)[number]

export const PlaceOrderInput = z.strictObject({
  item: z
    .string()
    .trim()
    .min(1, 'item must not be blank')
    .max(200, 'item must be at most 200 characters'),
  quantity: z
    .number()
    .int('quantity must be a whole number')
    .min(1, 'quantity must be at least 1')
    .max(10_000, 'quantity must be at most 10000'),
  customerId: z.string().trim().min(1).max(200).optional(),
})
export type PlaceOrderInput = z.infer<typeof PlaceOrderInput>

export type Order = {
  id: string
  item: string
  quantity: number
  customerId: string | null
  status: OrderStatus
  version: number
  createdAt: Date
  updatedAt: Date
}

/** The order as the API returns it and as events carry it. */
export type OrderJson = {
  id: string
  item: string
  quantity: number
  customerId: string | null
  status: OrderStatus
  createdAt: string
}

export function toOrderJson(order: Order): OrderJson {
  return {
    id: order.id,
    item: order.item,
    quantity: order.quantity,
    customerId: order.customerId,
    status: order.status,
    createdAt: order.createdAt.toISOString(),
  }
}
