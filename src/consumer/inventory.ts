/**
 * The inventory consumer's handler: one order event, in the caller's transaction.
 *
 * Kafka delivers at least once and, per order, in order; both can be broken (a redelivery after
 * a crash before the offset commit, a republish by the relay, a producer bug, a replayed topic).
 * The policy, by the event's `ce_id` and its `ce_sequence` (the order's version after it):
 *
 * - **Redelivered** (its `ce_id` is already in the inbox): no effect; the inbox row's
 *   `deliveries` is incremented, so absorbed redeliveries are visible.
 * - **Next** (version = applied + 1): its stock effect is applied and the order's version
 *   advances; then any parked successors (applied + 2, ...) are applied, in version order.
 * - **Stale** (version <= applied): recorded as `stale`, no effect. Each version has one event;
 *   another event claiming a version already applied is a duplicate under a new id (so is a
 *   parked one whose version another event filled first: it turns stale then).
 * - **Gap** (version > applied + 1): recorded as `parked` with its data, no effect, and a
 *   warning is logged; it is applied as soon as the missing version arrives. A gap that never
 *   fills stays visible: `select * from inventory.inbox where outcome = 'parked'`.
 * - **Unknown `ce_type`** (the producer's contract grew): tolerated. It still holds its place
 *   in the order's sequence, so it is deduped, sequenced and recorded like any other event and,
 *   when applied, advances the version without moving stock, like a confirmation (a warning is
 *   logged). Stalling every later event of the order behind a type this consumer cannot use
 *   would be worse.
 * - **Data that breaks the contract** of a known type (or disagrees with the headers): not
 *   recorded, not applied, the version does not advance, and the consumer moves on (logged as
 *   an error; no crash loop). Applying that order's later events on top of a missing one would
 *   corrupt the counts, so they park behind it, visibly, for an operator. The inbox has no
 *   outcome for a rejected event, which is why it is not recorded.
 *
 * The saga step: an applied OrderConfirmed writes StockReserved and an applied OrderCancelled
 * StockReleased (stock-events.ts) into the outbox, in this same transaction, so each is written
 * exactly once however often its order event is delivered.
 *
 * Messages without a usable envelope (no `ce_id`, order id or sequence, or a value that is not
 * JSON) never reach this handler: the consumer parks them as not an event (consume-message.ts).
 *
 * A discard marker (`EventDiscarded`, src/outbox/discard-marker.ts: the producer gave up on that
 * version) is handled like an unknown type: it takes the version's place, so what follows applies.
 */
import type { Tx } from '../db/client'
import type { InboxEvent } from './decode'
import { effectOf, type StockChange } from './effect'
import {
  findParked,
  lockAppliedVersion,
  lockItem,
  moveStock,
  recordDelivery,
  setAppliedVersion,
  settle,
  staleParkedUpTo,
} from './queries'
import { type StockEvent, stockEvents } from './stock-events'

export type Handled =
  /** `versions`: this event's, then those of the parked successors applied after it. */
  | { outcome: 'applied'; versions: number[] }
  /** `applied`: the order's version when the event arrived. */
  | { outcome: 'stale'; applied: number }
  | { outcome: 'parked'; applied: number }
  | { outcome: 'redelivered'; deliveries: number }
  | { outcome: 'rejected'; reason: string }

export async function handleEvent(tx: Tx, event: InboxEvent): Promise<Handled> {
  const effect = effectOf(event)
  if (!effect.ok) return { outcome: 'rejected', reason: effect.reason }
  // The inbox row first: a redelivery stops here, before anything else is read or locked.
  const deliveries = await recordDelivery(tx, event)
  if (deliveries > 1) return { outcome: 'redelivered', deliveries }
  const applied = await lockAppliedVersion(tx, event.orderId)
  if (event.version <= applied) {
    await settle(tx, event.eventId, 'stale')
    return { outcome: 'stale', applied }
  }
  // Inserted as parked, with its data: nothing more to do until the gap fills.
  if (event.version > applied + 1) return { outcome: 'parked', applied }
  return { outcome: 'applied', versions: await applyInOrder(tx, event, effect) }
}

type Applicable = { eventId: string; version: number; change?: StockChange; emits?: StockEvent }

/** Applies `first`, then each parked successor while the next version is there. */
async function applyInOrder(
  tx: Tx,
  event: InboxEvent,
  effect: { change?: StockChange; emits?: StockEvent },
): Promise<number[]> {
  const versions: number[] = []
  let next: Applicable | undefined = { eventId: event.eventId, version: event.version, ...effect }
  while (next) {
    // Either takes the item's row lock before its stock event is written (see lockItem).
    if (next.change) await moveStock(tx, next.change)
    else if (next.emits) await lockItem(tx, next.emits.data.item)
    if (next.emits) {
      const { type, data } = next.emits
      await stockEvents.enqueue(tx, { type, aggregateId: data.item, data })
    }
    await settle(tx, next.eventId, 'applied')
    versions.push(next.version)
    next = await parkedSuccessor(tx, event.orderId, next.version + 1)
  }
  const last = versions.at(-1) ?? event.version
  await setAppliedVersion(tx, event.orderId, last)
  await staleParkedUpTo(tx, event.orderId, last)
  return versions
}

async function parkedSuccessor(
  tx: Tx,
  orderId: string,
  version: number,
): Promise<Applicable | undefined> {
  const parked = await findParked(tx, orderId, version)
  if (!parked) return undefined
  // It passed the contract when it was parked; if a newer consumer build disagrees, it stays
  // parked (the gap policy) rather than failing the whole delivery again and again.
  const effect = effectOf({ type: parked.type, orderId, version, data: parked.data })
  if (!effect.ok) return undefined
  return { eventId: parked.eventId, version, change: effect.change, emits: effect.emits }
}
