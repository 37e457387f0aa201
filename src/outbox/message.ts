/** An outbox row as the relay claims and publishes it. */
export type OutboxMessage = {
  /** Outbox row id: the publication order. */
  id: number
  eventId: string
  eventType: string
  aggregateType: string
  /** The Kafka key and `ce_subject`. */
  aggregateId: string
  payload: unknown
  occurredAt: Date
  /** The aggregate's version after the change (CloudEvents `sequence`), when the writer set it. */
  sequence: number | null
  /** The data schema version of `eventType`, for types src/events/contract.ts knows. */
  schemaVersion: number
  /**
   * Where it goes: the row's own topic, else the template's for its aggregate type. Routed once,
   * when the row is read (routeOf, src/outbox/routing.ts); everything after reads this.
   */
  topic: string
  /** Extra Kafka headers the writer set (string values; the database checks). */
  headers?: Record<string, string> | null
  /** The writer's CloudEvents `source`; null: the relay's default source (src/config/fixed.ts). */
  source?: string | null
  /** W3C trace context of the request that wrote the event, if it came from one. */
  traceparent?: string | null
}
