/**
 * The publisher's log lines as an operator filters them: the relay passes a logger that already
 * says `component: "relay"`, and each line must carry that key once (pino writes a child's key
 * again instead of replacing it, and jq then reads the last one).
 */

import { afterAll, beforeAll, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { eventSchemas } from '../../src/events/contract'
import { MissingTopicError } from '../../src/relay/classify-error'
import { createKafkaPublisher } from '../../src/relay/kafka-publisher'
import { startTestKafka } from '../helpers/kafka'
import { memoryLogger } from '../helpers/memory-logger'

let kafka: MockKafka
beforeAll(() => {
  kafka = startTestKafka('orders.events', { brokers: 1, partitions: 1 })
})
afterAll(() => kafka.close())

it('the missing-topic warning carries one component, the relay', async () => {
  const { logger, lines, raw } = memoryLogger()
  const publisher = createKafkaPublisher({
    brokers: kafka.bootstrap.split(','),
    clientId: 'test',
    idempotent: false,
    maxMessageBytes: 1_000_000,
    sendTimeoutMs: 10_000,
    cloudEvents: { source: '/test', schemas: eventSchemas('http://localhost:3000/schemas') },
    logger: logger.child({ component: 'relay' }),
  })
  try {
    const event = {
      id: 1,
      eventId: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c11',
      eventType: 'ParcelLost',
      aggregateType: 'parcel',
      topic: 'parcel.events',
      aggregateId: 'P-1',
      payload: {},
      occurredAt: new Date(),
      sequence: null,
      schemaVersion: 1,
    }
    await expect(publisher.publish([event])).rejects.toBeInstanceOf(MissingTopicError)
  } finally {
    await publisher.disconnect()
  }
  const index = lines.findIndex((l) => l.msg.startsWith('topic does not exist'))
  expect(index).toBeGreaterThanOrEqual(0)
  const line = raw[index] ?? ''
  expect(line.match(/"component":/g)).toHaveLength(1)
  expect(lines[index]).toMatchObject({ component: 'relay', topic: 'parcel.events', level: 40 })
})
