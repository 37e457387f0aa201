import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { type MockKafka, startMockKafka } from '../../src/dev/mock-kafka'
import { waitFor } from './wait'

export type ReceivedMessage = {
  key: string
  value: unknown
  headers: Record<string, string>
  partition: number
  offset: string
  receivedAt: number
}

export type Collector = {
  readonly messages: ReceivedMessage[]
  byEventId(): Map<string, ReceivedMessage[]>
  stop(): Promise<void>
}

/** A real Kafka-protocol broker for this test file (the cluster lives in this process). */
export function startTestKafka(
  topic: string,
  options: { brokers?: number; partitions?: number } = {},
) {
  const kafka: MockKafka = startMockKafka({ brokers: options.brokers ?? 3 })
  kafka.createTopic(topic, options.partitions ?? 3)
  return kafka
}

/**
 * Messages ever written to a topic, by its partitions' end offsets: read from the broker, so
 * "nothing more was sent" needs no wait for a consumer to catch up.
 */
export async function messagesOnBroker(bootstrap: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers: bootstrap.split(','), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.reduce((sum, p) => sum + Number(p.high), 0)
  } finally {
    await admin.disconnect()
  }
}

/** Consumes the topic from the beginning with a kafkajs consumer group, recording everything. */
export async function collectMessages(bootstrap: string, topic: string): Promise<Collector> {
  const consumer = new Kafka({
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  }).consumer({
    groupId: `test-${randomUUID()}`,
    maxWaitTimeInMs: 50,
    // Ride out broker outages that tests inject instead of crashing for good.
    retry: { retries: 1000, initialRetryTime: 100, maxRetryTime: 1000 },
  })
  const messages: ReceivedMessage[] = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let joined: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    joined = resolve
  })
  consumer.on(consumer.events.GROUP_JOIN, () => joined())
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v)
      messages.push({
        key: message.key?.toString() ?? '',
        value: JSON.parse(message.value?.toString() ?? 'null'),
        headers,
        partition,
        offset: message.offset,
        receivedAt: Date.now(),
      })
    },
  })
  await ready
  return {
    messages,
    byEventId() {
      const map = new Map<string, ReceivedMessage[]>()
      for (const m of messages) {
        const id = m.headers.ce_id ?? ''
        map.set(id, [...(map.get(id) ?? []), m])
      }
      return map
    },
    stop: () => consumer.disconnect(),
  }
}

/**
 * Places an order through the API at `apiUrl` and waits until its event reaches `collector`'s
 * topic; returns the order id. Throws if the API does not answer 201.
 */
export async function placeOrderOnBroker(apiUrl: string, collector: Collector): Promise<string> {
  const res = await fetch(`${apiUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item: 'book', quantity: 2 }),
  })
  if (res.status !== 201)
    throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`)
  const { id } = (await res.json()) as { id: string }
  await waitFor('the order on the broker', () => collector.messages.some((m) => m.key === id))
  return id
}
