/**
 * The inventory's own events: its saga step. Each is written through the outbox (src/outbox) in
 * the transaction that applies the order event, with its inbox record, so the effect, the
 * record and the event commit together: a redelivered order event finds its inbox row and
 * writes no second one. The relay publishes them to `inventory.events` (aggregate type
 * `inventory`), keyed by item, so one item's events stay in order.
 */
import { z } from 'zod'
import { defineEvents } from '../outbox'

const stockMove = z.strictObject({
  item: z.string().min(1).max(200),
  quantity: z.int().min(1).max(10_000),
  orderId: z.uuid().describe('The order whose event caused it.'),
})

export const stockEvents = defineEvents('inventory', {
  StockReserved: {
    version: 1,
    description: "A confirmed order's quantity stays reserved for it.",
    data: stockMove,
  },
  StockReleased: {
    version: 1,
    description: "A cancelled order's reserved quantity went back to stock.",
    data: stockMove,
  },
})

export type StockEvent = {
  type: keyof typeof stockEvents.definitions
  data: z.output<typeof stockMove>
}
