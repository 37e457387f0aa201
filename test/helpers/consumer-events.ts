/** Order events as the API would write them, for feeding the consumer directly. */

import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import type { InboxEvent } from '../../src/consumer/decode'
import { eventSchemas } from '../../src/events/contract'
import { type KafkaMessage, toKafkaMessage } from '../../src/relay/kafka-message'

const statusAfter: Record<string, string> = {
  OrderCreated: 'pending',
  OrderConfirmed: 'confirmed',
  OrderShipped: 'shipped',
  OrderCancelled: 'cancelled',
}

/**
 * One event per type, versions 1, 2, ... of a new order, each carrying the order's snapshot
 * after it (unknown types carry the snapshot unchanged).
 */
export function orderHistory<const T extends readonly string[]>(
  types: T,
  item = 'book',
  quantity = 2,
): { [K in keyof T]: InboxEvent } {
  const id = randomUUID()
  const at = new Date().toISOString()
  let status = 'pending'
  const events = types.map((type, i) => {
    status = statusAfter[type] ?? status
    const data = {
      id,
      item,
      quantity,
      customerId: null,
      status,
      version: i + 1,
      createdAt: at,
      updatedAt: at,
      cancellationReason: null,
    }
    return {
      eventId: randomUUID(),
      type,
      orderId: id,
      version: i + 1,
      data,
      receivedAt: new Date(),
    }
  })
  // One event per type: a tuple as long as `types`.
  return events as { [K in keyof T]: InboxEvent }
}

/** The event as the relay publishes it (the relay's own encoder). */
export function asKafkaMessage(event: InboxEvent): KafkaMessage {
  return toKafkaMessage(
    {
      id: 0,
      eventId: event.eventId,
      eventType: event.type,
      aggregateType: 'orders',
      aggregateId: event.orderId,
      payload: event.data,
      occurredAt: event.receivedAt,
      sequence: event.version,
      schemaVersion: 1,
    },
    { source: '/orders-api', schemas: eventSchemas('http://localhost:3000/schemas') },
  )
}

/** Produces events straight to a topic, encoded as the relay encodes them (acks=all). */
export async function produceEvents(
  bootstrap: string,
  topic: string,
  events: readonly InboxEvent[],
): Promise<void> {
  const producer = new Kafka({
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  }).producer()
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: events.map(asKafkaMessage) })
  } finally {
    await producer.disconnect()
  }
}
