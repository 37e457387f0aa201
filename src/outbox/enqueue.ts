/**
 * The write side of the outbox. `enqueue` must be called with the same transaction that
 * changes the business row: the event exists if and only if the change committed.
 */
import { randomUUID } from 'node:crypto'
import type { Executor } from '../db/client'
import { type NewOutboxRow, outbox } from '../db/schema'
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
 * The outbox row for an event. The data is parsed against the contract first: an event that
 * does not match its schema throws here, before anything is written.
 */
export function outboxRow<T extends EventType>(
  event: OutboxEvent<T>,
): NewOutboxRow & { eventId: string } {
  return {
    eventId: randomUUID(),
    eventType: event.type,
    aggregateId: event.aggregateId,
    payload: parseEventData(event.type, event.data),
    sequence: event.sequence,
    schemaVersion: eventContract[event.type].version,
    occurredAt: event.occurredAt,
    requestId: event.context?.requestId ?? null,
    traceparent: event.context?.traceparent ?? null,
  }
}

/**
 * Inserts the event; returns its id (the CloudEvents `id` consumers dedupe on). Call it with
 * the transaction that makes the change, so the change and its event commit together.
 */
export async function enqueue<T extends EventType>(
  tx: Executor,
  event: OutboxEvent<T>,
): Promise<string> {
  const row = outboxRow(event)
  await tx.insert(outbox).values(row)
  return row.eventId
}
