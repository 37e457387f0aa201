/**
 * The port between the relay loop and the broker. kafkajs is in maintenance mode; a
 * different client (e.g. Confluent's KafkaJS-compatible one) only needs another Publish.
 */
import type { OutboxMessage } from '../outbox/message'

export type { OutboxMessage }

/**
 * Publishes the batch in order and resolves only once the broker acknowledged every message
 * (acks = all). Rejects if any message was not acknowledged; the caller then advances nothing.
 */
export type Publish = (batch: readonly OutboxMessage[]) => Promise<void>
