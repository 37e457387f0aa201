/**
 * The write side of the outbox. `enqueue` must be called with the same transaction that
 * changes the business row: the event exists if and only if the change committed.
 */
import { randomUUID } from 'node:crypto'
import type { Tx } from '../db/client'
import { outbox } from '../db/schema'

export type OutboxEvent = {
  type: string
  /** The aggregate (order) id: the Kafka key, so one order's events stay in order. */
  aggregateId: string
  data: unknown
  occurredAt: Date
}

/** Inserts the event; returns its id (the CloudEvents `id` consumers dedupe on). */
export async function enqueue(tx: Tx, event: OutboxEvent): Promise<string> {
  const eventId = randomUUID()
  await tx.insert(outbox).values({
    eventId,
    eventType: event.type,
    aggregateId: event.aggregateId,
    payload: event.data,
    occurredAt: event.occurredAt,
  })
  return eventId
}
