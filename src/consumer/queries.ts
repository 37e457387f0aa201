/** The inventory consumer's SQL, one named function per statement, all in the caller's transaction. */
import { and, asc, eq, lte, sql } from 'drizzle-orm'
import type { Tx } from '../db/client'
import { inbox, orderVersions, STOCK_MAX, stock } from '../db/schema'
import type { InboxEvent } from './decode'
import type { StockChange } from './effect'
import { InventoryRefusal } from './refusal'

type Outcome = (typeof inbox.$inferSelect)['outcome']

/**
 * Records a delivery and returns how many there have been. A new event is inserted as parked,
 * with its data, and settled later in the same transaction; a known one only has its count
 * bumped. Two deliveries of one event racing each other serialise on the primary key.
 */
export async function recordDelivery(tx: Tx, event: InboxEvent): Promise<number> {
  const [row] = await tx
    .insert(inbox)
    .values({
      eventId: event.eventId,
      orderId: event.orderId,
      eventType: event.type,
      version: event.version,
      outcome: 'parked',
      data: event.data,
      receivedAt: event.receivedAt,
    })
    .onConflictDoUpdate({
      target: inbox.eventId,
      set: { deliveries: sql`${inbox.deliveries} + 1` },
    })
    .returning({ deliveries: inbox.deliveries })
  if (!row) throw new Error('insert into inventory.inbox returned no row')
  return row.deliveries
}

/**
 * The order's applied version (0: none yet), with its row locked until commit, so events of one
 * order are handled one at a time even if two consumers briefly share a partition during a
 * rebalance. The no-op update is what takes the lock when the row already exists.
 */
export async function lockAppliedVersion(tx: Tx, orderId: string): Promise<number> {
  const [row] = await tx
    .insert(orderVersions)
    .values({ orderId, version: 0 })
    .onConflictDoUpdate({
      target: orderVersions.orderId,
      set: { version: sql`${orderVersions.version}` },
    })
    .returning({ version: orderVersions.version })
  if (!row) throw new Error('insert into inventory.order_versions returned no row')
  return row.version
}

export async function setAppliedVersion(tx: Tx, orderId: string, version: number): Promise<void> {
  await tx
    .update(orderVersions)
    .set({ version, appliedAt: sql`now()` })
    .where(eq(orderVersions.orderId, orderId))
}

/** Applied and stale events keep no data: only a parked event needs it later. */
export async function settle(tx: Tx, eventId: string, outcome: Exclude<Outcome, 'parked'>) {
  await tx.update(inbox).set({ outcome, data: null }).where(eq(inbox.eventId, eventId))
}

/** The parked event holding this version of the order, if one has arrived (partial index). */
export async function findParked(tx: Tx, orderId: string, version: number) {
  const [row] = await tx
    .select({ eventId: inbox.eventId, type: inbox.eventType, data: inbox.data })
    .from(inbox)
    .where(and(eq(inbox.orderId, orderId), eq(inbox.version, version), eq(inbox.outcome, 'parked')))
    .orderBy(asc(inbox.receivedAt))
    .limit(1)
  return row
}

/**
 * Parked events the order has now passed (another event already claimed their version) can
 * never apply: they become stale, so every parked row is always ahead of its order.
 */
export async function staleParkedUpTo(tx: Tx, orderId: string, version: number): Promise<void> {
  await tx
    .update(inbox)
    .set({ outcome: 'stale', data: null })
    .where(
      and(eq(inbox.orderId, orderId), lte(inbox.version, version), eq(inbox.outcome, 'parked')),
    )
}

/**
 * The item's stock row, created if new, locked until commit. Every event that moves an item's
 * stock or writes one of its stock events takes it first, so two transactions touching one item
 * serialise on it: their outbox rows commit, and are published, in the order they were written
 * (docs/outbox.md: a writer serialises on its aggregate).
 */
export async function lockItem(
  tx: Tx,
  item: string,
): Promise<{ reserved: number; shipped: number }> {
  await tx.insert(stock).values({ item }).onConflictDoNothing()
  const [row] = await tx
    .select({ reserved: stock.reserved, shipped: stock.shipped })
    .from(stock)
    .where(eq(stock.item, item))
    .for('update')
  if (!row) throw new Error(`inventory.stock has no row for ${item} after inserting it`)
  return row
}

/**
 * Adds `change` to the item's counters (locked by `lockItem`). A move that would take a counter
 * below 0 or above STOCK_MAX is refused: an InventoryRefusal, not the check constraint's SQL error.
 */
export async function moveStock(tx: Tx, change: StockChange): Promise<void> {
  const current = await lockItem(tx, change.item)
  const reserved = current.reserved + change.reserved
  const shipped = current.shipped + change.shipped
  for (const [name, value] of [
    ['reserved', reserved],
    ['shipped', shipped],
  ] as const) {
    if (value < 0 || value > STOCK_MAX) {
      throw new InventoryRefusal(
        'STOCK_OUT_OF_RANGE',
        `${name} stock of ${JSON.stringify(change.item)} would be ${value} (allowed: 0 to ${STOCK_MAX})`,
      )
    }
  }
  await tx.update(stock).set({ reserved, shipped }).where(eq(stock.item, change.item))
}
