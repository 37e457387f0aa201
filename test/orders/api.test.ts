import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app'

const t = useTestApp()

const json = { 'content-type': 'application/json' }
const post = (body: string, headers: Record<string, string> = json) =>
  t.app.request('/orders', { method: 'POST', body, headers })

describe('POST /orders', () => {
  it('creates the order and its OrderCreated outbox row in one go', async () => {
    const before = await t.db.counts()
    const res = await post(JSON.stringify({ item: 'book', quantity: 2, customerId: 'c-1' }))
    expect(res.status).toBe(201)
    const order = (await res.json()) as { id: string }
    expect(order).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      item: 'book',
      quantity: 2,
      customerId: 'c-1',
      status: 'pending',
      version: 1,
      cancellationReason: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    })
    expect(res.headers.get('location')).toBe(`/orders/${order.id}`)
    expect(await t.db.counts()).toEqual({
      ...before,
      orders: before.orders + 1,
      outbox: before.outbox + 1,
    })
    const [row] = await t.db.sql`select * from outbox where aggregate_id = ${order.id}`
    expect(row).toMatchObject({
      event_type: 'OrderCreated',
      payload: order,
      sequence: 1,
      schema_version: 1,
    })

    const got = await t.app.request(`/orders/${order.id}`)
    expect(got.status).toBe(200)
    expect(await got.json()).toEqual(order)
  })

  it('trims the item and defaults customerId to null', async () => {
    const res = await post(JSON.stringify({ item: '  pen ', quantity: 10000 }))
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ item: 'pen', quantity: 10000, customerId: null })
  })

  const bad: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['empty body', '', json, 400, /not valid JSON/],
    ['malformed JSON', '{"item": "book",', json, 400, /not valid JSON/],
    ['JSON array', '[1,2]', json, 400, /\(body\)/],
    ['JSON null', 'null', json, 400, /\(body\)/],
    ['missing item', '{"quantity": 1}', json, 400, /item/],
    ['blank item', '{"item": "   ", "quantity": 1}', json, 400, /item must not be blank/],
    ['item too long', JSON.stringify({ item: 'x'.repeat(201), quantity: 1 }), json, 400, /200/],
    ['item not a string', '{"item": 5, "quantity": 1}', json, 400, /item/],
    ['quantity zero', '{"item": "a", "quantity": 0}', json, 400, /at least 1/],
    ['quantity too big', '{"item": "a", "quantity": 10001}', json, 400, /at most 10000/],
    ['quantity fractional', '{"item": "a", "quantity": 1.5}', json, 400, /whole number/],
    ['quantity as string', '{"item": "a", "quantity": "2"}', json, 400, /quantity/],
    [
      'unknown field',
      '{"item": "a", "quantity": 1, "price": 3}',
      json,
      400,
      /price: unknown field/,
    ],
    ['customerId blank', '{"item": "a", "quantity": 1, "customerId": ""}', json, 400, /customerId/],
    ['no content type', '{"item": "a", "quantity": 1}', {}, 415, /Content-Type/],
    [
      'text/plain',
      '{"item": "a", "quantity": 1}',
      { 'content-type': 'text/plain' },
      415,
      /text\/plain/,
    ],
    [
      'body over 64 KiB',
      JSON.stringify({ item: 'a', quantity: 1, pad: 'x'.repeat(70_000) }),
      json,
      413,
      /65536 bytes/,
    ],
  ]

  it.each(bad)(
    'rejects %s with a problem response and writes nothing',
    async (_, body, headers, status, detail) => {
      const before = await t.db.counts()
      const res = await post(body, headers)
      expect(res.status).toBe(status)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      const problem = (await res.json()) as { detail: string; type: string; errors: unknown[] }
      expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String), status })
      expect(problem.detail).toMatch(detail)
      if (status === 400 && problem.type === '/problems/validation-failed') {
        expect(problem.errors.length).toBeGreaterThan(0)
      }
      expect(await t.db.counts()).toEqual(before)
    },
  )

  it('answers 5xx and leaves no order when the outbox insert fails in the same transaction', async () => {
    // Test-only constraint: the outbox refuses OrderCreated rows, so the second insert of the
    // transaction fails after the order row was already inserted.
    await t.db
      .sql`alter table outbox add constraint test_refuse_created check (event_type <> 'OrderCreated') not valid`
    try {
      const before = await t.db.counts()
      const res = await post(JSON.stringify({ item: 'atomic', quantity: 1 }))
      expect(res.status).toBe(500)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.json()).toMatchObject({ status: 500, type: '/problems/internal-error' })
      expect(await t.db.counts()).toEqual(before)
      expect(await t.db.sql`select 1 from orders where item = 'atomic'`).toHaveLength(0)
    } finally {
      await t.db.sql`alter table outbox drop constraint test_refuse_created`
    }
  })
})

describe('GET /orders/:id', () => {
  it('is 404 problem+json for an unknown id', async () => {
    const res = await t.app.request('/orders/00000000-0000-4000-8000-000000000000')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 404, type: '/problems/order-not-found' })
  })

  it('is 400 problem+json when the id is not a uuid', async () => {
    const res = await t.app.request('/orders/not-a-uuid')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ status: 400, errors: [{ field: 'id' }] })
  })
})

describe('everything else', () => {
  it('GET /healthz is 200', async () => {
    expect((await t.app.request('/healthz')).status).toBe(200)
  })

  it('unknown routes are 404 problem+json', async () => {
    const res = await t.app.request('/nope')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })
})
