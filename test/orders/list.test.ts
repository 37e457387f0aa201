/** GET /orders: newest first, keyset cursor pagination, status filter, validated limits. */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
let app: ReturnType<typeof createApp>
const created: string[] = [] // oldest first

type Page = { items: Array<{ id: string; status: string }>; nextCursor: string | null }

beforeAll(async () => {
  db = await createTestDatabase()
  let tick = Date.parse('2026-11-01T00:00:00Z')
  // Every third order shares its timestamp with the previous one: ties are broken by id.
  app = createApp({
    db: db.db,
    logger: pino({ level: 'silent' }),
    clock: () => {
      if (created.length % 3 !== 2) tick += 1000
      return new Date(tick)
    },
  })
  for (let i = 0; i < 25; i++) {
    const res = await app.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: `item-${i}`, quantity: 1 }),
    })
    const order = (await res.json()) as { id: string }
    created.push(order.id)
    if (i % 5 === 0) await app.request(`/orders/${order.id}/cancel`, { method: 'POST' })
  }
})
afterAll(() => db.close())

const list = async (query: string) => {
  const res = await app.request(`/orders${query}`)
  return { status: res.status, body: (await res.json()) as Page & { errors?: unknown[] } }
}

async function walk(query: string, limit: number) {
  const seen: Page['items'] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const sep = query ? '&' : '?'
    const url: string = `${query}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`
    const { status, body } = await list(url.startsWith('&') ? `?${url.slice(1)}` : url)
    expect(status).toBe(200)
    expect(body.items.length).toBeLessThanOrEqual(limit)
    seen.push(...body.items)
    cursor = body.nextCursor
    pages++
  } while (cursor)
  return { seen, pages }
}

describe('GET /orders', () => {
  it('pages through every order exactly once, newest first', async () => {
    const { seen, pages } = await walk('', 10)
    expect(pages).toBe(3)
    expect(seen.map((o) => o.id)).toHaveLength(25)
    // Same-timestamp orders come in descending id order; check against the database's order.
    const expected = await db.sql<
      { id: string }[]
    >`select id from orders order by created_at desc, id desc`
    expect(seen.map((o) => o.id)).toEqual(expected.map((r) => r.id))
    expect(new Set(seen.map((o) => o.id))).toEqual(new Set(created))
  })

  it('filters by status', async () => {
    const { seen } = await walk('?status=cancelled', 2)
    expect(seen).toHaveLength(5)
    expect(seen.every((o) => o.status === 'cancelled')).toBe(true)
    expect((await list('?status=pending&limit=100')).body.items).toHaveLength(20)
  })

  it('defaults to 20 per page', async () => {
    const { body } = await list('')
    expect(body.items).toHaveLength(20)
    expect(body.nextCursor).toEqual(expect.any(String))
  })

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
    ['status=lost', 'status'],
    ['cursor=not-a-cursor', 'cursor'],
  ])('?%s is 400 naming %s', async (query, field) => {
    const res = await app.request(`/orders?${query}`)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(((await res.json()) as { errors: Array<{ field: string }> }).errors[0]?.field).toBe(
      field,
    )
  })
})
