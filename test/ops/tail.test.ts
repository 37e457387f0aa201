/** `npm run tail` follows one topic or several: by default the orders' and the inventory's. */

import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { eventSchemas } from '../../src/events/contract'
import { formatTailed, parseTailArgs, startTail } from '../../src/ops/tail'
import { toKafkaMessage } from '../../src/relay/kafka-message'
import { startTestKafka } from '../helpers/kafka'
import { waitFor } from '../helpers/wait'

const defaults = ['orders.events', 'inventory.events']

describe('parseTailArgs', () => {
  it('defaults to both topics; named topics replace them; --from-beginning', () => {
    expect(parseTailArgs([], defaults)).toEqual({ topics: defaults, fromBeginning: false })
    expect(parseTailArgs(['inventory.events', '--from-beginning'], defaults)).toEqual({
      topics: ['inventory.events'],
      fromBeginning: true,
    })
    expect(parseTailArgs([], ['all', 'all']).topics).toEqual(['all'])
    expect(() => parseTailArgs(['no such topic'], defaults)).toThrow(/not a topic name/)
    expect(() => parseTailArgs(['--follow'], defaults)).toThrow()
  })
})

const attack = '\u001b]0;PWNED\u0007\u001b[2J'

describe('formatTailed', () => {
  it('escapes what an outbox row written with plain SQL can put in key, type, headers and value', () => {
    const message = toKafkaMessage(
      {
        id: 1,
        eventId: '0f8fad5b-d9cb-469f-a165-70867728950e',
        eventType: `Evil${attack}`,
        aggregateType: 'orders',
        aggregateId: `key${attack}`,
        payload: { note: `v${attack}` },
        headers: { ce_time: `t${attack}` },
        occurredAt: new Date(0),
        sequence: null,
        schemaVersion: 1,
      },
      { source: '/x', schemas: eventSchemas('http://localhost/schemas') },
    )
    const kafkaHeaders = Object.fromEntries(
      Object.entries(message.headers).map(([k, v]) => [k, Buffer.from(v)]),
    )
    const line = formatTailed('orders.events', 0, {
      key: Buffer.from(message.key),
      value: Buffer.from(message.value),
      headers: kafkaHeaders,
      offset: '7',
    })
    // Only the newlines formatTailed puts there itself are control characters.
    expect([...line].filter((ch) => ch < ' ' && ch !== '\n')).toEqual([])
    expect(line).toContain('key=key\\x1b]0;PWNED\\x07\\x1b[2J')
    expect(line).toContain('Evil\\x1b]0;PWNED')
  })
})

describe('tail', () => {
  let kafka: MockKafka
  beforeAll(() => {
    kafka = startTestKafka('orders.events')
    kafka.createTopic('inventory.events', 3)
  })
  afterAll(() => kafka.close())

  it('says when it has joined, from which point it prints', async () => {
    let err = ''
    const tail = await startTail(
      kafka.bootstrap.split(','),
      { topics: ['orders.events'], fromBeginning: false },
      { out: () => {}, err: (t) => (err += t) },
    )
    try {
      expect(err).toContain('tailing orders.events on')
      await waitFor(
        'the joined line',
        () => err.includes('joined: printing events from now on'),
        20_000,
      )
    } finally {
      await tail.stop()
    }
  })

  it('prints the events of both topics, each line naming its topic', async () => {
    const producer = new Kafka({
      brokers: kafka.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
    }).producer()
    await producer.connect()
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        {
          topic: 'orders.events',
          messages: [
            { key: 'o-1', value: '{}', headers: { ce_type: 'OrderConfirmed' } },
            { key: `o-2${attack}`, value: '{}', headers: { ce_type: 'OrderShipped' } },
          ],
        },
        {
          topic: 'inventory.events',
          messages: [{ key: 'widget', value: '{}', headers: { ce_type: 'StockReserved' } }],
        },
      ],
    })
    await producer.disconnect()
    let out = ''
    let err = ''
    const tail = await startTail(
      kafka.bootstrap.split(','),
      { topics: defaults, fromBeginning: true },
      { out: (t) => (out += t), err: (t) => (err += t) },
    )
    try {
      await waitFor('the joined line', () => err.includes('joined: printing every event'), 20_000)
      await waitFor(
        'both lines',
        () =>
          out.includes('StockReserved') &&
          out.includes('OrderConfirmed') &&
          out.includes('OrderShipped'),
        20_000,
      )
      expect(out).toMatch(/ orders\.events OrderConfirmed .*key=o-1/)
      expect(out).toMatch(/ inventory\.events StockReserved .*key=widget/)
      expect(out).toContain('key=o-2\\x1b]0;PWNED\\x07\\x1b[2J ')
      expect(out).not.toContain('\u001b')
    } finally {
      await tail.stop()
    }
  })
})
