import type { OutboxMessage } from './publish'

export type KafkaMessage = {
  key: string
  value: string
  headers: Record<string, string>
}

/**
 * CloudEvents 1.0, Kafka protocol binding, binary content mode: the value is the event data
 * as JSON; the attributes travel as `ce_` headers. Consumers dedupe on `ce_id`.
 */
export function toKafkaMessage(message: OutboxMessage, source: string): KafkaMessage {
  return {
    key: message.aggregateId,
    value: JSON.stringify(message.payload),
    headers: {
      ce_specversion: '1.0',
      ce_id: message.eventId,
      ce_type: message.eventType,
      ce_source: source,
      ce_time: message.occurredAt.toISOString(),
      'content-type': 'application/json',
    },
  }
}
