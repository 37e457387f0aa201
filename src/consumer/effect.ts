/**
 * The inventory's rules: what an order event does to stock, from its type and data alone.
 * Pure: no database, no Kafka.
 *
 * The counters move by deltas, so applying an event twice would count twice: the inbox
 * (inventory.ts) is what makes delivery idempotent, not these rules.
 */
import { z } from 'zod'
import { type EventType, eventContract, isEventType } from '../events/contract'
import type { InboxEvent } from './decode'
import type { StockEvent } from './stock-events'

/** Amounts to add to an item's counters (negative to take away). */
export type StockChange = { item: string; reserved: number; shipped: number }

export type Effect =
  /**
   * `change` is absent when the event moves no stock (a confirmation, or an unknown type);
   * `emits`, the inventory's own event in answer (its saga step), when there is one.
   */
  | { ok: true; change?: StockChange; emits?: StockEvent }
  /** The data breaks the contract: the event must not be applied. */
  | { ok: false; reason: string }

export function effectOf(event: Pick<InboxEvent, 'type' | 'orderId' | 'version' | 'data'>): Effect {
  // A type this consumer does not know (the producer's contract grew): tolerated, no effect.
  if (!isEventType(event.type)) return { ok: true }
  const parsed = eventContract[event.type].data.safeParse(event.data)
  if (!parsed.success) return { ok: false, reason: z.prettifyError(parsed.error) }
  const order = parsed.data
  // The headers are what the inbox orders and dedupes by; data that disagrees is not trusted.
  if (order.id !== event.orderId || order.version !== event.version) {
    return {
      ok: false,
      reason: `the data says order ${order.id} version ${order.version}, the headers say order ${event.orderId} version ${event.version}`,
    }
  }
  return {
    ok: true,
    change: stockChange(event.type, order),
    emits: stockEventOf(event.type, order),
  }
}

/** Confirming an order keeps its stock reserved; cancelling it releases the stock. */
function stockEventOf(
  type: EventType,
  order: { id: string; item: string; quantity: number },
): StockEvent | undefined {
  const data = { item: order.item, quantity: order.quantity, orderId: order.id }
  if (type === 'OrderConfirmed') return { type: 'StockReserved', data }
  if (type === 'OrderCancelled') return { type: 'StockReleased', data }
  return undefined
}

function stockChange(
  type: EventType,
  order: { item: string; quantity: number },
): StockChange | undefined {
  const { item, quantity } = order
  switch (type) {
    case 'OrderCreated':
      return { item, reserved: quantity, shipped: 0 }
    case 'OrderConfirmed':
      return undefined
    case 'OrderShipped':
      return { item, reserved: -quantity, shipped: quantity }
    case 'OrderCancelled':
      // Only pending or confirmed orders can be cancelled, and versions are applied in order,
      // so this order's OrderCreated has been applied and its quantity is still reserved.
      return { item, reserved: -quantity, shipped: 0 }
  }
}
