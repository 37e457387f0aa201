/**
 * kafkajs is patched for speed (patches/kafkajs+2.2.4.patch, applied by patch-package on
 * install): varints written in place, one buffer per record, murmur2 in 32-bit arithmetic,
 * messages grouped per partition in linear time, and no timer in a connection's request queue
 * while nothing waits in it. These tests pin that the patched code still writes exactly the
 * bytes the Kafka protocol specifies and picks the partition the Java client picks (references
 * are written out here from the protocol's definitions, in BigInt, independently of the patched
 * code), and that the queue still sends every request it holds.
 */
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { startTestKafka } from '../helpers/kafka'

type Encoder = { buffer: Buffer; writeVarInt(v: number): Encoder; writeVarLong(v: number): Encoder }
type EncoderClass = {
  new (initialSize?: number): Encoder
  sizeOfVarInt(v: number): number
  sizeOfVarLong(v: number): number
}
type RecordArgs = {
  key: string
  value: string
  headers: Record<string, string>
  offsetDelta: number
  timestampDelta: number
}
type GroupArgs = {
  topic: string
  partitionMetadata: unknown[]
  messages: { key: string }[]
  partitioner: (a: { message: { key: string } }) => number
}

const require = createRequire(import.meta.url)
const Encoder: EncoderClass = require('kafkajs/src/protocol/encoder')
const Decoder = require('kafkajs/src/protocol/decoder')
const encodeRecord: (
  r: RecordArgs,
) => Encoder = require('kafkajs/src/protocol/recordBatch/record/v0')
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder')
const murmur2: (
  key: string | Buffer,
) => number = require('kafkajs/src/producer/partitioners/default/murmur2')
const groupMessagesPerPartition: (
  a: GroupArgs,
) => Record<string, { key: string }[]> = require('kafkajs/src/producer/groupMessagesPerPartition')

/** Unsigned LEB128 of a non-negative bigint: the Kafka protocol's (unsigned) varint. */
function uvarint(n: bigint): Buffer {
  const bytes: number[] = []
  let v = n
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  bytes.push(Number(v))
  return Buffer.from(bytes)
}
/** Kafka varint (zigzag, 32 bits) and varlong (zigzag, 64 bits). */
const varint = (n: number) => uvarint(BigInt.asUintN(32, (BigInt(n) << 1n) ^ (BigInt(n) >> 31n)))
const varlong = (n: number) => uvarint(BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n)))
const varintBytes = (s: string) => {
  const b = Buffer.from(s, 'utf8')
  return Buffer.concat([varint(b.length), b])
}

/** A record as KIP-98 defines it (attributes 0, no compression). */
function referenceRecord(r: RecordArgs): Buffer {
  const headers = Object.entries(r.headers)
  const body = Buffer.concat([
    Buffer.from([0]),
    varlong(r.timestampDelta),
    varint(r.offsetDelta),
    varintBytes(r.key),
    varintBytes(r.value),
    varint(headers.length),
    ...headers.flatMap(([k, v]) => [varintBytes(k), varintBytes(v)]),
  ])
  return Buffer.concat([varint(body.length), body])
}

/** Java's Utils.murmur2 in 32-bit two's complement arithmetic, spelled out with BigInt. */
function referenceMurmur2(data: Buffer): number {
  const int = (x: bigint) => BigInt.asIntN(32, x)
  const ushr = (x: bigint, s: bigint) => BigInt.asUintN(32, x) >> s
  const m = 0x5bd1e995n
  const length = data.length
  let h = int(0x9747b28cn ^ BigInt(length))
  for (let i = 0; i + 4 <= length; i += 4) {
    let k = int(BigInt(data.readInt32LE(i)))
    k = int(k * m)
    k = int(k ^ ushr(k, 24n))
    k = int(k * m)
    h = int(h * m)
    h = int(h ^ k)
  }
  const tail = length & ~3
  // Java's switch falls through from case 3 to case 1.
  const rest = length % 4
  if (rest >= 3) h = int(h ^ (BigInt(data[tail + 2] ?? 0) << 16n))
  if (rest >= 2) h = int(h ^ (BigInt(data[tail + 1] ?? 0) << 8n))
  if (rest >= 1) {
    h = int(h ^ BigInt(data[tail] ?? 0))
    h = int(h * m)
  }
  h = int(h ^ ushr(h, 13n))
  h = int(h * m)
  h = int(h ^ ushr(h, 15n))
  return Number(h)
}

const edges = [0, 1, -1, 63, -64, 64, -65, 8191, 8192, -8193, 2 ** 20, 2 ** 30 - 1, -(2 ** 30)]

describe('patched kafkajs encoder', () => {
  it('writes varints as the protocol defines them, and sizes them right', () => {
    const check = (n: number) => {
      const written = new Encoder().writeVarInt(n).buffer
      expect(written).toEqual(varint(n))
      expect(Encoder.sizeOfVarInt(n)).toBe(written.length)
    }
    for (const n of [...edges, 2 ** 31 - 1, -(2 ** 31)]) check(n)
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), check), {
      numRuns: 2000,
    })
  })

  it('grows its buffer for varints written one after another from the smallest size', () => {
    // Bytes written past a Buffer's end are dropped silently: the room must be made first.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })), (ns) => {
        const encoder = new Encoder(1)
        for (const n of ns) encoder.writeVarInt(n).writeVarLong(n)
        expect(encoder.buffer).toEqual(Buffer.concat(ns.flatMap((n) => [varint(n), varlong(n)])))
      }),
      { numRuns: 500 },
    )
  })

  it('writes varlongs as the protocol defines them, inside and outside the 32-bit fast path', () => {
    const check = (n: number) => {
      const written = new Encoder().writeVarLong(n).buffer
      expect(written).toEqual(varlong(n))
      expect(Encoder.sizeOfVarLong(n)).toBe(written.length)
    }
    for (const n of [...edges, 2 ** 30, -(2 ** 30) - 1, 2 ** 40, -(2 ** 45), 1_732_000_000_000])
      check(n)
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), check), {
      numRuns: 2000,
    })
    fc.assert(fc.property(fc.maxSafeInteger(), check), { numRuns: 500 })
  })

  it('encodes a record with its headers byte for byte, and kafkajs decodes it back', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 })
    const record = fc.record({
      key: text,
      value: fc.oneof(text, fc.string({ minLength: 200, maxLength: 20_000 })),
      // Not Object.prototype's names: kafkajs's record decoder (unpatched) folds headers into a
      // plain object and misreads a header called e.g. "constructor".
      headers: fc.dictionary(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((k) => !(k in {})),
        text,
        { maxKeys: 12 },
      ),
      offsetDelta: fc.nat({ max: 100_000 }),
      timestampDelta: fc.nat({ max: 10_000_000 }),
    })
    fc.assert(
      fc.property(record, (r) => {
        const encoded = encodeRecord(r).buffer
        expect(encoded).toEqual(referenceRecord(r))
        const decoder = new Decoder(encoded)
        const decoded = decodeRecord(new Decoder(decoder.readVarIntBytes()), {
          firstOffset: '0',
          firstTimestamp: '0',
        })
        expect(decoded.key.toString()).toBe(r.key)
        expect(decoded.value.toString()).toBe(r.value)
        const headers = Object.fromEntries(
          Object.entries(decoded.headers as Record<string, Buffer>).map(([k, v]) => [
            k,
            v.toString(),
          ]),
        )
        expect(headers).toEqual(r.headers)
      }),
      { numRuns: 500 },
    )
  })
})

describe('patched kafkajs partitioning', () => {
  it("hashes keys as Kafka's Java client does (its own test vectors)", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ]
    for (const [key, hash] of cases) expect(murmur2(key)).toBe(hash)
  })

  it('hashes any key as the reference does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const key = Buffer.from(bytes)
        expect(murmur2(key)).toBe(referenceMurmur2(key))
      }),
      { numRuns: 3000 },
    )
    fc.assert(
      fc.property(fc.uuid(), (key) => {
        expect(murmur2(key)).toBe(referenceMurmur2(Buffer.from(key)))
      }),
      { numRuns: 1000 },
    )
  })

  it('groups messages per partition, keeping their order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 5 }), { maxLength: 300 }), (partitions) => {
        const messages = partitions.map((p, i) => ({ key: `${p}:${i}` }))
        const grouped = groupMessagesPerPartition({
          topic: 't',
          partitionMetadata: [{}],
          messages,
          partitioner: ({ message }) => Number(message.key.split(':')[0]),
        })
        for (const p of new Set(partitions)) {
          expect(grouped[p]).toEqual(messages.filter((m) => m.key.startsWith(`${p}:`)))
        }
        expect(Object.values(grouped).flat()).toHaveLength(messages.length)
      }),
      { numRuns: 300 },
    )
  })
})

type QueuedRequest = {
  entry: {
    correlationId: number
    apiKey: number
    apiName: string
    apiVersion: number
    resolve: () => void
    reject: (e: unknown) => void
  }
  expectResponse: boolean
  sendRequest: () => void
}
type RequestQueue = {
  throttleCheckTimeoutId: unknown
  push(r: QueuedRequest): void
  checkPendingRequests(): void
  scheduleCheckPendingRequests(): void
  maybeThrottle(ms: number): void
  fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void
  destroy(): void
}
const RequestQueueClass: new (
  o: object,
) => RequestQueue = require('kafkajs/src/network/requestQueue')

/**
 * Unpatched, the queue checks for pending requests after every response and then schedules the
 * next check with a negative delay (`throttledUntil` is -1 when not throttled), which Node runs
 * after 1 ms, and each check schedules another: a timer every millisecond for as long as the
 * connection lives (kafkajs issues #1556, #1604, #1704). Each wakes the process: an idle
 * relay drew 0.040 cores unpatched against 0.010 patched (the write benchmark's idle reading,
 * side by side), and the idle producer below set ~300 such timers in 200 ms unpatched.
 */
describe('patched kafkajs request queue', () => {
  const logger = { debug() {}, info() {}, warn() {}, error() {} }
  const newQueue = () =>
    new RequestQueueClass({
      maxInFlightRequests: 1,
      requestTimeout: 30_000,
      enforceRequestTimeout: false,
      clientId: 'test',
      broker: 'test:9092',
      logger,
    })
  const request = (correlationId: number, sent: number[]): QueuedRequest => ({
    entry: {
      correlationId,
      apiKey: 0,
      apiName: 'Produce',
      apiVersion: 3,
      resolve() {},
      reject() {},
    },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  })

  it('schedules no check while nothing is pending and nothing throttles', () => {
    const queue = newQueue()
    const sent: number[] = []
    queue.push(request(1, sent))
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 })
    queue.checkPendingRequests()
    expect(sent).toEqual([1])
    expect(queue.throttleCheckTimeoutId).toBeNull()
    queue.destroy()
  })

  it('still sends a request held back by the in-flight limit, once the one before is answered', () => {
    const queue = newQueue()
    const sent: number[] = []
    queue.push(request(1, sent))
    queue.push(request(2, sent)) // maxInFlightRequests 1: held
    expect(sent).toEqual([1])
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 })
    expect(sent).toEqual([1, 2])
    queue.destroy()
  })

  it('still sends a request held back by broker throttling, when the throttle ends', async () => {
    const queue = newQueue()
    const sent: number[] = []
    queue.maybeThrottle(30)
    queue.push(request(1, sent))
    expect(sent).toEqual([])
    expect(queue.throttleCheckTimeoutId).not.toBeNull()
    await vi.waitFor(() => expect(sent).toEqual([1]), { timeout: 2000, interval: 5 })
    queue.destroy()
  })

  describe('a connected producer, idle', () => {
    const topic = 'idle-producer'
    let kafka: MockKafka
    beforeAll(() => {
      kafka = startTestKafka(topic, { brokers: 1, partitions: 1 })
    })
    afterAll(() => kafka.close())

    it('sets no timer from its request queues', async () => {
      const producer = new Kafka({
        brokers: kafka.bootstrap.split(','),
        logLevel: logLevel.NOTHING,
      }).producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 })
      await producer.connect()
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] })
        await new Promise((r) => setTimeout(r, 20)) // the send's own follow-ups settle
        const real = globalThis.setTimeout
        let fromQueue = 0
        const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
          ...args: Parameters<typeof setTimeout>
        ) => {
          if (new Error().stack?.includes('requestQueue')) fromQueue++
          return real(...args)
        }) as typeof setTimeout)
        try {
          await new Promise((r) => real(r, 200))
        } finally {
          spy.mockRestore()
        }
        // Unpatched: one per millisecond per connection (296 in one run).
        expect(fromQueue).toBe(0)
      } finally {
        await producer.disconnect()
      }
    })
  })
})
