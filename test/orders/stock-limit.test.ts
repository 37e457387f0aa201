/**
 * An order that would take its item's reserved stock (inventory.stock, as the consumer records
 * it) past STOCK_MAX is refused with 409 and writes nothing: no order, no event, no stored key.
 */
import { describe, expect, it } from 'vitest'
import { STOCK_MAX } from '../../src/db/schema'
import { useTestApp } from '../helpers/app'

const t = useTestApp()

const post = (body: unknown, key?: string) =>
  t.app.request('/orders', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  })

const seed = (item: string, reserved: number) =>
  t.db.sql`insert into inventory.stock (item, reserved) values (${item}, ${reserved})
           on conflict (item) do update set reserved = excluded.reserved`

describe('the stock limit', () => {
  it('refuses an order past it with 409 naming the item, and writes nothing', async () => {
    await seed('huge', STOCK_MAX - 5)
    const before = await t.db.counts()
    const res = await post({ item: 'huge', quantity: 6 }, 'stock-1')
    expect(res.status).toBe(409)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = (await res.json()) as Record<string, unknown>
    expect(problem).toMatchObject({
      type: '/problems/stock-limit-exceeded',
      status: 409,
      item: 'huge',
    })
    expect(problem.detail).toContain('"huge"')
    expect(problem.detail).toContain(String(STOCK_MAX))
    expect(await t.db.counts()).toEqual(before)
  })

  it('did not consume the Idempotency-Key: the same request succeeds once stock is released', async () => {
    await seed('huge', STOCK_MAX - 5)
    expect((await post({ item: 'huge', quantity: 6 }, 'stock-2')).status).toBe(409)
    await seed('huge', STOCK_MAX - 6)
    const res = await post({ item: 'huge', quantity: 6 }, 'stock-2')
    expect(res.status).toBe(201)
    expect(res.headers.get('idempotent-replayed')).toBeNull()
  })

  it('accepts an order that reaches the limit exactly, and one for an item with no stock yet', async () => {
    await seed('edge', STOCK_MAX - 5)
    expect((await post({ item: 'edge', quantity: 5 })).status).toBe(201)
    expect((await post({ item: 'never-stocked', quantity: 10_000 })).status).toBe(201)
  })
})
