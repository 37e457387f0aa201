/** Transitions: each writes the order and its event together; illegal ones are 409 and write nothing. */
import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app'

const t = useTestApp()

type OrderJson = { id: string; status: string; version: number; cancellationReason: string | null }

async function createOrder(): Promise<OrderJson> {
  const res = await t.app.request('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item: 'lamp', quantity: 3 }),
  })
  expect(res.status).toBe(201)
  return (await res.json()) as OrderJson
}

const act = (id: string, action: string, body?: unknown) =>
  t.app.request(`/orders/${id}/${action}`, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })

const events = (orderId: string) =>
  t.db.sql<{ event_type: string; sequence: number; payload: OrderJson }[]>`
    select event_type, sequence, payload from outbox where aggregate_id = ${orderId} order by id`

describe('order lifecycle', () => {
  it('pending -> confirmed -> shipped: versions 1, 2, 3, one event per change with that sequence', async () => {
    const order = await createOrder()
    const confirmed = await act(order.id, 'confirm')
    expect(confirmed.status).toBe(200)
    expect(await confirmed.json()).toMatchObject({ status: 'confirmed', version: 2 })
    const shipped = await act(order.id, 'ship')
    expect(shipped.status).toBe(200)
    const last = (await shipped.json()) as OrderJson
    expect(last).toMatchObject({ status: 'shipped', version: 3 })

    const rows = await events(order.id)
    expect(
      rows.map((r) => [r.event_type, r.sequence, r.payload.version, r.payload.status]),
    ).toEqual([
      ['OrderCreated', 1, 1, 'pending'],
      ['OrderConfirmed', 2, 2, 'confirmed'],
      ['OrderShipped', 3, 3, 'shipped'],
    ])
    expect(rows[2]?.payload).toEqual(last)
    expect(await (await t.app.request(`/orders/${order.id}`)).json()).toEqual(last)
  })

  it('cancel takes an optional reason, from pending or from confirmed', async () => {
    const a = await createOrder()
    const res = await act(a.id, 'cancel', { reason: ' changed my mind ' })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      status: 'cancelled',
      version: 2,
      cancellationReason: 'changed my mind',
    })
    const b = await createOrder()
    expect((await act(b.id, 'confirm')).status).toBe(200)
    const noReason = await act(b.id, 'cancel')
    expect(noReason.status).toBe(200)
    expect(await noReason.json()).toMatchObject({
      status: 'cancelled',
      version: 3,
      cancellationReason: null,
    })
    expect((await events(b.id)).map((r) => r.event_type)).toEqual([
      'OrderCreated',
      'OrderConfirmed',
      'OrderCancelled',
    ])
  })

  const illegal: Array<[string, string[], string, string]> = [
    ['ship a pending order', [], 'ship', 'pending'],
    ['confirm a confirmed order', ['confirm'], 'confirm', 'confirmed'],
    ['cancel a shipped order', ['confirm', 'ship'], 'cancel', 'shipped'],
    ['confirm a cancelled order', ['cancel'], 'confirm', 'cancelled'],
    ['ship a cancelled order', ['confirm', 'cancel'], 'ship', 'cancelled'],
  ]
  it.each(illegal)(
    '%s is 409 naming the current state, and writes nothing',
    async (_, path, action, state) => {
      const order = await createOrder()
      for (const step of path) expect((await act(order.id, step)).status).toBe(200)
      const before = await t.db.counts()
      const [{ version } = { version: 0 }] = await t.db
        .sql`select version from orders where id = ${order.id}`
      const res = await act(order.id, action)
      expect(res.status).toBe(409)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      const problem = (await res.json()) as { detail: string; currentStatus: string }
      expect(problem.currentStatus).toBe(state)
      expect(problem.detail).toContain(`is ${state}`)
      expect(await t.db.counts()).toEqual(before)
      const [after] = await t.db.sql`select status, version from orders where id = ${order.id}`
      expect(after).toEqual({ status: state, version })
    },
  )

  it('404 for an unknown order, 400 for a bad id or a bad cancel body, 415 for a non-JSON body', async () => {
    const before = await t.db.counts()
    const unknown = await act('0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d', 'confirm')
    expect(unknown.status).toBe(404)
    expect((await act('nope', 'confirm')).status).toBe(400)
    const order = await createOrder()
    const afterCreate = await t.db.counts()
    expect(afterCreate.orders).toBe(before.orders + 1)
    const blank = await act(order.id, 'cancel', { reason: '   ' })
    expect(blank.status).toBe(400)
    expect(((await blank.json()) as { errors: unknown[] }).errors).toEqual([
      { field: 'reason', message: 'reason must not be blank' },
    ])
    expect((await act(order.id, 'cancel', { reason: 'x', extra: 1 })).status).toBe(400)
    const text = await t.app.request(`/orders/${order.id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'please',
    })
    expect(text.status).toBe(415)
    expect(await t.db.counts()).toEqual(afterCreate)
  })

  it('concurrent conflicting transitions on one order: exactly one wins', async () => {
    for (let round = 0; round < 10; round++) {
      const order = await createOrder()
      expect((await act(order.id, 'confirm')).status).toBe(200)
      // Both are legal from `confirmed`; neither is legal after the other.
      const [ship, cancel] = await Promise.all([act(order.id, 'ship'), act(order.id, 'cancel')])
      expect([ship.status, cancel.status].sort()).toEqual([200, 409])
      const rows = await events(order.id)
      expect(rows.map((r) => r.sequence)).toEqual([1, 2, 3])
      const winner = ship.status === 200 ? 'OrderShipped' : 'OrderCancelled'
      expect(rows[2]?.event_type).toBe(winner)
    }
    const order = await createOrder()
    const confirms = await Promise.all(Array.from({ length: 5 }, () => act(order.id, 'confirm')))
    expect(confirms.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409])
    expect((await events(order.id)).length).toBe(2)
  })
})
