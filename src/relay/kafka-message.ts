import { isValidTopicName } from '../outbox/routing'
import { PermanentPublishError } from './classify-error'
import type { OutboxMessage } from './publish'

export type KafkaMessage = {
  key: string
  value: string
  headers: Record<string, string>
}

/**
 * What the relay knows of event types, given by the service that declares them (src/events):
 * the relay publishes any aggregate and imports no domain.
 */
export type EventSchemas = {
  /** `ce_dataschema` of a declared type at a version; undefined for a type with no schema. */
  uri(type: string, version: number): string | undefined
  /** Why a declared type's data does not fit its schema; undefined when it fits or has none. */
  problem(type: string, version: number, data: unknown): string | undefined
}

export type CloudEventAttributes = {
  /** CloudEvents `source` (a URI reference naming this service), for rows that name none. */
  source: string
  schemas: EventSchemas
}

/**
 * CloudEvents 1.0, Kafka protocol binding, binary content mode: the value is the event data
 * as JSON; the attributes travel as `ce_` headers. Consumers dedupe on `ce_id` and order on
 * `ce_sequence` (the sequence extension: the aggregate's version, "1", "2", ...), sent only when
 * the writer set one. `ce_dataschema` names a schema only for the types src/events declares
 * (the API serves those), whose data the publisher has checked against it; a plain-SQL
 * writer's own types have none. The writer's extra headers
 * go first, so they can add headers but never replace a CloudEvents attribute.
 */
export function toKafkaMessage(
  message: Omit<OutboxMessage, 'topic'>,
  attrs: CloudEventAttributes,
): KafkaMessage {
  const { eventType, sequence } = message
  const dataschema = attrs.schemas.uri(eventType, message.schemaVersion)
  return {
    key: message.aggregateId,
    value: JSON.stringify(message.payload),
    headers: {
      ...message.headers,
      ce_specversion: '1.0',
      ce_id: message.eventId,
      ce_type: message.eventType,
      ce_source: message.source ?? attrs.source,
      ce_subject: message.aggregateId,
      ce_time: message.occurredAt.toISOString(),
      ...(sequence === null ? {} : { ce_sequence: String(sequence) }),
      ...(dataschema === undefined ? {} : { ce_dataschema: dataschema }),
      'content-type': 'application/json',
      // W3C Trace Context over Kafka headers: consumers continue the request's trace.
      ...(message.traceparent ? { traceparent: message.traceparent } : {}),
    },
  }
}

/**
 * The batch as Kafka messages, or the PermanentPublishError of the first event that can never be
 * sent as it is: data that does not fit its declared type's schema, a message over
 * KAFKA_MAX_MESSAGE_BYTES, or a topic no topic can be named (it would wait forever).
 */
export function toKafkaMessages(
  batch: readonly OutboxMessage[],
  attrs: CloudEventAttributes,
  maxMessageBytes: number,
): KafkaMessage[] {
  for (const m of batch) {
    const problem = attrs.schemas.problem(m.eventType, m.schemaVersion, m.payload)
    if (problem) refuse(m, `SCHEMA_MISMATCH: event ${m.eventId} (${m.eventType}) ${problem}`)
  }
  const messages = batch.map((m) => toKafkaMessage(m, attrs))
  messages.forEach((k, i) => {
    const size = messageSize(k)
    if (size <= maxMessageBytes) return
    const eventId = batch[i]?.eventId ?? '?'
    refuse(
      batch[i],
      `MESSAGE_TOO_LARGE: event ${eventId} is ${size} bytes, over KAFKA_MAX_MESSAGE_BYTES (${maxMessageBytes})`,
    )
  })
  for (const m of batch) {
    if (isValidTopicName(m.topic)) continue
    refuse(
      m,
      `INVALID_TOPIC: event ${m.eventId} is routed to '${m.topic}', which is not a valid topic name`,
    )
  }
  return messages
}

function refuse(m: OutboxMessage | undefined, reason: string): never {
  throw new PermanentPublishError(m?.eventId ?? '?', reason)
}

/** Bytes of key, value and headers: close to what the broker counts against its limit. */
function messageSize(m: KafkaMessage): number {
  let size = Buffer.byteLength(m.key) + Buffer.byteLength(m.value)
  for (const [k, v] of Object.entries(m.headers))
    size += Buffer.byteLength(k) + Buffer.byteLength(v)
  return size
}
