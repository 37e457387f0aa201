/**
 * The port between the relay loop and the broker. kafkajs is in maintenance mode; a
 * different client (e.g. Confluent's KafkaJS-compatible one) only needs another Publish.
 */
export type OutboxMessage = {
  /** Outbox row id: the publication order. */
  id: number
  eventId: string
  eventType: string
  aggregateId: string
  payload: unknown
  occurredAt: Date
  /** The order's version after the change (CloudEvents `sequence`). */
  sequence: number
  /** The data schema version of `eventType` (src/events/contract.ts). */
  schemaVersion: number
  /** W3C trace context of the request that wrote the event, if it came from one. */
  traceparent?: string | null
}

/**
 * Publishes the batch in order and resolves only once the broker acknowledged every message
 * (acks = all). Rejects if any message was not acknowledged; the caller then marks nothing.
 */
export type Publish = (batch: readonly OutboxMessage[]) => Promise<void>
