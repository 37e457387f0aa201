import { dataSchemaUri, isEventType } from '../events/contract'
import type { OutboxMessage } from './publish'

export type KafkaMessage = {
  key: string
  value: string
  headers: Record<string, string>
}

export type CloudEventAttributes = {
  /** CloudEvents `source` (a URI reference naming this service), for rows that name none. */
  source: string
  /** Base URL of the event JSON Schemas; `ce_dataschema` = `<base>/<Type>.v<n>.json`. */
  schemaBaseUrl: string
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
export function toKafkaMessage(message: OutboxMessage, attrs: CloudEventAttributes): KafkaMessage {
  const { eventType, sequence } = message
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
      ...(isEventType(eventType)
        ? { ce_dataschema: dataSchemaUri(attrs.schemaBaseUrl, eventType, message.schemaVersion) }
        : {}),
      'content-type': 'application/json',
      // W3C Trace Context over Kafka headers: consumers continue the request's trace.
      ...(message.traceparent ? { traceparent: message.traceparent } : {}),
    },
  }
}
