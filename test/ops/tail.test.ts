/** `npm run tail` follows one topic or several: by default the orders' and the inventory's. */
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { parseTailArgs, startTail } from '../../src/ops/tail'
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
          messages: [{ key: 'o-1', value: '{}', headers: { ce_type: 'OrderConfirmed' } }],
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
        () => out.includes('StockReserved') && out.includes('OrderConfirmed'),
        20_000,
      )
      expect(out).toMatch(/ orders\.events OrderConfirmed .*key=o-1/)
      expect(out).toMatch(/ inventory\.events StockReserved .*key=widget/)
    } finally {
      await tail.stop()
    }
  })
})
