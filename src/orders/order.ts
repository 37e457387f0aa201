/**
 * The order's pure rules and its one shape: no HTTP, no SQL. `Order` is the row as drizzle
 * infers it from the table (src/db/schema-api.ts); `OrderJson`, the zod schema below, is the
 * order as the API returns it and as every event carries it: the OpenAPI document
 * (routes-openapi.ts) and the event contract (src/events/contract.ts) are derived from it.
 */
import { z } from 'zod'
import { type orders, QUANTITY_MAX } from '../db/schema'
import type { EventType } from '../events/contract'

export type Clock = () => Date

/** The order as stored. */
export type Order = typeof orders.$inferSelect
export type OrderStatus = Order['status']

/**
 * The lifecycle's states; the table's column names the same ones: `satisfies` refuses a state the
 * column lacks, and toOrderJson (an Order into an OrderJson) one this list lacks.
 */
export const orderStatuses = [
  'pending',
  'confirmed',
  'shipped',
  'cancelled',
] as const satisfies readonly OrderStatus[]

// Control characters (U+0000 cannot even be stored; ESC drives terminals, and these fields end
// up in events, Kafka keys and operators' screens) and unpaired surrogates (not text: no UTF-8
// for them) are refused here as a 400 naming the field, not by the database as a 500.
const notText =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const textOnly = (field: string) =>
  [
    (s: string) => !notText.test(s),
    `${field} must not contain control characters or unpaired surrogates`,
  ] as const

/** An order's bounds: the request's and the order's as JSON (the table checks them too). */
const ITEM_MAX = 200

export const PlaceOrderInput = z.strictObject({
  item: z
    .string()
    .trim()
    .min(1, 'item must not be blank')
    .max(ITEM_MAX, `item must be at most ${ITEM_MAX} characters`)
    .refine(...textOnly('item')),
  quantity: z
    .number()
    .int('quantity must be a whole number')
    .min(1, 'quantity must be at least 1')
    .max(QUANTITY_MAX, `quantity must be at most ${QUANTITY_MAX}`),
  customerId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine(...textOnly('customerId'))
    .optional(),
})
export type PlaceOrderInput = z.infer<typeof PlaceOrderInput>

export const CancelOrderInput = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, 'reason must not be blank')
    .max(500, 'reason must be at most 500 characters')
    .refine(...textOnly('reason'))
    .optional(),
})
export type CancelOrderInput = z.infer<typeof CancelOrderInput>

/**
 * The lifecycle: pending -> confirmed -> shipped; pending or confirmed -> cancelled.
 * Shipped and cancelled are final. Each transition writes one event.
 */
export const transitions = {
  confirm: { from: ['pending'], to: 'confirmed', event: 'OrderConfirmed' },
  ship: { from: ['confirmed'], to: 'shipped', event: 'OrderShipped' },
  cancel: { from: ['pending', 'confirmed'], to: 'cancelled', event: 'OrderCancelled' },
} as const satisfies Record<
  string,
  { from: readonly OrderStatus[]; to: OrderStatus; event: EventType }
>
export type Transition = keyof typeof transitions

/**
 * The order as JSON. Field by field what the events' data schemas hold (closed, and bounded as
 * the table is): a change here changes the events' JSON Schemas, which a test compares with the
 * committed files, so it cannot slip into the events unversioned.
 */
export const OrderJson = z.strictObject({
  id: z.uuid().describe('Order id; also the Kafka key and `ce_subject`.'),
  item: z.string().min(1).max(ITEM_MAX),
  quantity: z.int().min(1).max(QUANTITY_MAX),
  customerId: z.string().nullable(),
  version: z
    .int()
    .min(1)
    .max(2_147_483_647)
    .describe("The order's version after this change: its per-order sequence."),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
  cancellationReason: z.string().nullable(),
  status: z.enum(orderStatuses),
})
export type OrderJson = z.output<typeof OrderJson>

export function toOrderJson(order: Order): OrderJson {
  return {
    id: order.id,
    item: order.item,
    quantity: order.quantity,
    customerId: order.customerId,
    status: order.status,
    version: order.version,
    cancellationReason: order.cancellationReason,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  }
}
