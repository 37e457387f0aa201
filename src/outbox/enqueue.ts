/**
 * The write side of the outbox. `enqueue` must be called with the same transaction that
 * changes the business row: the event exists if and only if the change committed.
 */
import { randomUUID } from 'node:crypto'
import type { Tx } from '../db/client'
import { outbox } from '../db/schema'
import { type EventData, type EventType, eventContract, parseEventData } from '../events/contract'
import type { EventContext } from '../http/request-context'

export type OutboxEvent<T extends EventType> = {
  type: T
  /** The aggregate (order) id: the Kafka key, so one order's events stay in order. */
  aggregateId: string
  /** The aggregate's version after the change: the event's per-aggregate sequence number. */
  sequence: number
  data: EventData<T>
  occurredAt: Date
  /** The request that caused it: its id and W3C trace context travel with the event. */
  context?: EventContext
}

/**
 * Inserts the event; returns its id (the CloudEvents `id` consumers dedupe on). The data is
 * parsed against the contract first: an event that does not match its schema throws here,
 * inside the transaction, so the change it describes does not commit either.
 */
export async function enqueue<T extends EventType>(tx: Tx, event: OutboxEvent<T>): Promise<string> {
  const eventId = randomUUID()
  await tx.insert(outbox).values({
    eventId,
    eventType: event.type,
    aggregateId: event.aggregateId,
    payload: parseEventData(event.type, event.data),
    sequence: event.sequence,
    schemaVersion: eventContract[event.type].version,
    occurredAt: event.occurredAt,
    requestId: event.context?.requestId ?? null,
    traceparent: event.context?.traceparent ?? null,
  })
  return eventId
}
