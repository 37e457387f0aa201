import { describe, expect, it } from 'vitest'
import { eventSchemas } from '../../src/events/contract'
import { toKafkaMessage } from '../../src/relay/kafka-message'

describe('toKafkaMessage', () => {
  it('maps an outbox row to a CloudEvents binary-mode Kafka message keyed by order id', () => {
    const message = toKafkaMessage(
      {
        id: 7,
        eventId: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c11',
        eventType: 'OrderCreated',
        aggregateType: 'orders',
        aggregateId: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d',
        payload: { id: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d', item: 'book' },
        occurredAt: new Date('2026-01-02T03:04:05.678Z'),
        sequence: 3,
        schemaVersion: 1,
      },
      { source: '/orders-api', schemas: eventSchemas('https://example.com/schemas/') },
    )
    expect(message).toEqual({
      key: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d',
      value: '{"id":"0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d","item":"book"}',
      headers: {
        ce_specversion: '1.0',
        ce_id: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c11',
        ce_type: 'OrderCreated',
        ce_source: '/orders-api',
        ce_subject: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d',
        ce_time: '2026-01-02T03:04:05.678Z',
        ce_sequence: '3',
        ce_dataschema: 'https://example.com/schemas/OrderCreated.v1.json',
        'content-type': 'application/json',
      },
    })
  })
  it('sends ce_sequence only when set, ce_dataschema only for known types, and extra headers that never replace a ce_ one', () => {
    const message = toKafkaMessage(
      {
        id: 8,
        eventId: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c12',
        eventType: 'ShipmentDispatched',
        aggregateType: 'shipment',
        aggregateId: 'SHP-42',
        payload: { carrier: 'dhl' },
        occurredAt: new Date('2026-01-02T03:04:05.678Z'),
        sequence: null,
        schemaVersion: 1,
        headers: { tenant: 'acme', ce_type: 'Forged' },
      },
      { source: '/orders-api', schemas: eventSchemas('https://example.com/schemas/') },
    )
    expect(message.key).toBe('SHP-42')
    expect(message.headers).toEqual({
      tenant: 'acme',
      ce_specversion: '1.0',
      ce_id: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c12',
      ce_type: 'ShipmentDispatched',
      ce_source: '/orders-api',
      ce_subject: 'SHP-42',
      ce_time: '2026-01-02T03:04:05.678Z',
      'content-type': 'application/json',
    })
  })

  it("sends the row's own source as ce_source, the relay's default when it names none", () => {
    const row = {
      id: 9,
      eventId: '6f1c3f0e-6a51-4bd0-9d43-0d6f0c8a1c13',
      eventType: 'ShipmentDispatched',
      aggregateType: 'shipment',
      aggregateId: 'SHP-43',
      payload: {},
      occurredAt: new Date(0),
      sequence: null,
      schemaVersion: 1,
      headers: { ce_source: '/forged' },
    }
    const attrs = { source: '/orders-api', schemas: eventSchemas('https://example.com/schemas') }
    expect(toKafkaMessage({ ...row, source: '/shipping' }, attrs).headers.ce_source).toBe(
      '/shipping',
    )
    expect(toKafkaMessage({ ...row, source: null }, attrs).headers.ce_source).toBe('/orders-api')
  })
})
