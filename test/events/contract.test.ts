/** The event contract: committed JSON Schemas match the zod code; nothing mistyped is written. */
import { Ajv2020 } from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { describe, expect, it } from 'vitest'
import { type EventType, eventContract, schemaFileName } from '../../src/events/contract'
import { generatedSchemas, readCommittedSchemas } from '../../src/events/schema-files'
import { orderEvents } from '../../src/orders/order-events'
import { useTestApp } from '../helpers/app'

const t = useTestApp()

const parsed = (files: Map<string, string>) =>
  Object.fromEntries([...files].map(([name, text]) => [name, JSON.parse(text)]))

describe('event JSON Schemas', () => {
  it('the committed schemas are what the zod contract generates (run `npm run schemas` if not)', () => {
    const committed = parsed(readCommittedSchemas())
    for (const [name, schema] of Object.entries(parsed(generatedSchemas()))) {
      expect(committed[name], `src/events/schemas/${name}`).toEqual(schema)
    }
  })

  it('drift is detected: a changed contract no longer matches the committed files', () => {
    const committed = parsed(readCommittedSchemas())
    const name = schemaFileName('OrderCreated', eventContract.OrderCreated.version)
    const changed = structuredClone(parsed(generatedSchemas())[name])
    changed.properties.quantity.maximum = 99
    expect(committed[name]).not.toEqual(changed)
  })

  it('each is served at /schemas/<Type>.v<n>.json and, as the newest, at /schemas/<Type>.json', async () => {
    const committed = readCommittedSchemas()
    for (const type of Object.keys(eventContract) as EventType[]) {
      const name = schemaFileName(type, eventContract[type].version)
      for (const path of [`/schemas/${name}`, `/schemas/${type}.json`]) {
        const res = await t.app.request(path)
        expect(res.status, path).toBe(200)
        expect(res.headers.get('content-type')).toBe('application/schema+json')
        expect(await res.text()).toBe(committed.get(name))
      }
    }
  })

  it('the events the API writes validate against their committed schemas', async () => {
    const ajv = new Ajv2020({ strict: false })
    addFormats(ajv)
    for (const text of readCommittedSchemas().values()) ajv.addSchema(JSON.parse(text))
    const post = (path: string, body?: unknown) =>
      t.app.request(path, {
        method: 'POST',
        ...(body
          ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
          : {}),
      })
    const a = (await (
      await post('/orders', { item: 'book', quantity: 2, customerId: 'c-9' })
    ).json()) as { id: string }
    await post(`/orders/${a.id}/confirm`)
    await post(`/orders/${a.id}/ship`)
    const b = (await (await post('/orders', { item: 'pen', quantity: 1 })).json()) as { id: string }
    await post(`/orders/${b.id}/cancel`, { reason: 'duplicate' })
    const rows = await t.db.sql<
      { event_type: EventType; schema_version: number; payload: unknown }[]
    >`
      select event_type, schema_version, payload from outbox order by id`
    expect(new Set(rows.map((r) => r.event_type))).toEqual(new Set(Object.keys(eventContract)))
    for (const row of rows) {
      const validate = ajv.getSchema(schemaFileName(row.event_type, row.schema_version))
      if (!validate) throw new Error(`no schema for ${row.event_type}`)
      expect(validate(row.payload) ? [] : validate.errors, row.event_type).toEqual([])
    }
  })
})

describe('enqueue', () => {
  it('refuses data that does not match its type, and the transaction writes nothing', async () => {
    const before = await t.db.counts()
    const attempt = t.db.db.transaction(async (tx) => {
      await tx.execute(
        "insert into orders (id, item, quantity, status, created_at, updated_at) values ('0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d', 'x', 1, 'pending', now(), now())",
      )
      await orderEvents.enqueue(tx, {
        type: 'OrderShipped',
        aggregateId: '0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d',
        sequence: 2,
        // A pending order is not a shipped event; the schema says status must be "shipped".
        data: { status: 'pending' } as never,
        occurredAt: new Date(),
      })
    })
    await expect(attempt).rejects.toThrow(/status/)
    expect(await t.db.counts()).toEqual(before)
  })
})
