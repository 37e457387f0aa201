/**
 * The benchmark's bare fetch loop (fetch-loop.ts) reads what kafkajs produced to the test
 * broker: every key once, in offset order per partition, over many fetches and batches of
 * varied sizes, including what was there before it started; and it refuses what it cannot read.
 */
import { CompressionTypes, Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FetchLoop } from '../../bench/fetch-loop'
import { type MockKafka, startMockKafka } from '../../src/dev/mock-kafka'

const PARTITIONS = 6
let kafka: MockKafka
let producer: Producer

beforeAll(async () => {
  kafka = startMockKafka({ brokers: 1 })
  producer = new Kafka({ brokers: [kafka.bootstrap], logLevel: logLevel.NOTHING }).producer()
  await producer.connect()
})
afterAll(async () => {
  await producer.disconnect()
  kafka.close()
})

/** Fetches into `got` (keys in the order fetched, per partition) until it holds `n` keys or 5 s pass. */
async function readKeys(loop: FetchLoop, n: number, got = new Map<number, string[]>()) {
  const count = () => [...got.values()].reduce((s, k) => s + k.length, 0)
  for (let c = count(), deadline = Date.now() + 5000; c < n && Date.now() < deadline; ) {
    for (const f of await loop.fetch()) {
      got.set(f.partition, [...(got.get(f.partition) ?? []), ...f.keys])
      c += f.keys.length
    }
  }
  return got
}

describe('bench fetch loop', () => {
  it('reads every message once, in order per partition, from before and after it started', async () => {
    const topic = 'fetch-loop-order'
    kafka.createTopic(topic, PARTITIONS)
    const sent = new Map<number, string[]>()
    const send = async (keys: string[], valueBytes: number) => {
      const messages = keys.map((key, i) => ({
        key,
        value: 'v'.repeat(valueBytes + i),
        headers: { ce_id: key },
        partition: i % PARTITIONS,
      }))
      await producer.send({ topic, messages })
      for (const m of messages) sent.set(m.partition, [...(sent.get(m.partition) ?? []), m.key])
    }
    await send(
      Array.from({ length: 300 }, (_, i) => `before-${i}`),
      0,
    )
    const loop = await FetchLoop.open(kafka.bootstrap, topic, PARTITIONS)
    const fetchedAlong = new Map<number, string[]>()
    try {
      // Batches from 1 to 200 messages, values up to a few KB, with fetches between them.
      for (let b = 0; b < 40; b++) {
        await send(
          Array.from({ length: 1 + ((b * 37) % 200) }, (_, i) => `b${b}-${i}`),
          b * 100,
        )
        if (b % 5 === 0) {
          for (const f of await loop.fetch())
            fetchedAlong.set(f.partition, [...(fetchedAlong.get(f.partition) ?? []), ...f.keys])
        }
      }
      const total = [...sent.values()].reduce((s, k) => s + k.length, 0)
      expect(await readKeys(loop, total, fetchedAlong)).toEqual(sent)
      // Nothing new: the next fetch is empty, no key comes twice.
      expect(await loop.fetch()).toEqual([])
      // A loop started now reads it all, from offset 0.
      const fresh = await FetchLoop.open(kafka.bootstrap, topic, PARTITIONS)
      try {
        expect(await readKeys(fresh, total)).toEqual(sent)
      } finally {
        fresh.close()
      }
    } finally {
      loop.close()
    }
  })

  it('refuses compressed batches with a clear error rather than misreading them', async () => {
    const topic = 'fetch-loop-gzip'
    kafka.createTopic(topic, 1)
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: [{ key: 'k', value: 'v' }],
    })
    const loop = await FetchLoop.open(kafka.bootstrap, topic, 1)
    try {
      await expect(loop.fetch()).rejects.toThrow('compressed batches unsupported')
    } finally {
      loop.close()
    }
  })

  it('names the error a partition answers with', async () => {
    const loop = await FetchLoop.open(kafka.bootstrap, 'fetch-loop-no-such-topic', 1)
    try {
      await expect(loop.fetch()).rejects.toThrow(/partition 0 answered error \d+/)
    } finally {
      loop.close()
    }
  })
})
