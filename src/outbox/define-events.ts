/**
 * The write side of the outbox for a TypeScript service: declare the events of one aggregate
 * type with zod, then `enqueue(tx, event)` inside the transaction that makes the change. The
 * event exists if and only if the change committed.
 *
 *   const shipmentEvents = defineEvents('shipment', {
 *     ShipmentDispatched: { version: 1, data: z.object({ carrier: z.string() }) },
 *   })
 *   await db.transaction(async (tx) => {
 *     await tx.update(shipments)...
 *     await shipmentEvents.enqueue(tx, { type: 'ShipmentDispatched', aggregateId: id, data })
 *   })
 *
 * The data is parsed against its declaration first: an event that does not match throws before
 * anything is written. Services in other languages write the same row with plain SQL
 * (docs/outbox.md); this is a typed shortcut to it, not a second contract.
 */
import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import type { Executor } from '../db/client'
import { type NewOutboxRow, outbox } from '../db/schema'

/** One event type: its data schema and that schema's version (`ce_dataschema`'s `.v<n>`). */

/** What a change records about the request that caused it (outbox columns). */
export type EventContext = { requestId?: string; traceparent?: string }

export type EventDefinition = { version: number; data: z.ZodType }
export type EventDefinitions = Record<string, EventDefinition>

export type OutboxEvent<D extends EventDefinitions, T extends keyof D & string> = {
  type: T
  /** Which aggregate (any text key): the Kafka key, so its events stay in order. */
  aggregateId: string
  data: z.input<D[T]['data']>
  /** The aggregate's version after the change: `ce_sequence`. Omitted: no sequence header. */
  sequence?: number
  /** Defaults to the database's now() at insert. */
  occurredAt?: Date
  /** Publish to this topic instead of the template's topic for the aggregate type. */
  topic?: string
  /** Extra Kafka headers (the `ce_` ones cannot be replaced). */
  headers?: Record<string, string>
  /** The request that caused it: its id and W3C trace context travel with the event. */
  context?: EventContext
}

/** The row `enqueue` inserts; `eventId` is the CloudEvents `id` consumers dedupe on. */
export type EnqueuedRow = NewOutboxRow & { eventId: string; aggregateType: string }

export type AggregateEvents<D extends EventDefinitions> = {
  aggregateType: string
  definitions: D
  /** The outbox row for an event, its data parsed first (for writers with their own SQL). */
  row<T extends keyof D & string>(event: OutboxEvent<D, T>): EnqueuedRow
  /** Inserts the event with `tx`, the transaction that makes the change; returns its id. */
  enqueue<T extends keyof D & string>(tx: Executor, event: OutboxEvent<D, T>): Promise<string>
}

export function defineEvents<D extends EventDefinitions>(
  aggregateType: string,
  definitions: D,
): AggregateEvents<D> {
  const row = <T extends keyof D & string>(event: OutboxEvent<D, T>): EnqueuedRow => {
    const definition = definitions[event.type]
    if (!definition) throw new Error(`${event.type} is not an event of ${aggregateType}`)
    return {
      eventId: randomUUID(),
      aggregateType,
      aggregateId: event.aggregateId,
      eventType: event.type,
      payload: definition.data.parse(event.data),
      sequence: event.sequence ?? null,
      schemaVersion: definition.version,
      ...(event.occurredAt ? { occurredAt: event.occurredAt } : {}),
      topic: event.topic ?? null,
      headers: event.headers ?? null,
      requestId: event.context?.requestId ?? null,
      traceparent: event.context?.traceparent ?? null,
    }
  }
  return {
    aggregateType,
    definitions,
    row,
    async enqueue(tx, event) {
      const values = row(event)
      await tx.insert(outbox).values(values)
      return values.eventId
    },
  }
}
