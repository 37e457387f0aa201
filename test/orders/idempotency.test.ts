/** Idempotency-Key: a retried request returns the original response and writes nothing new. */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { purgeExpiredKeys } from '../../src/http/idempotency'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
let app: ReturnType<typeof createApp>
let now = new Date('2026-11-24T10:00:00Z')
const ttlMs = 3600_000

beforeAll(async () => {
  db = await createTestDatabase()
  app = createApp({
    db: db.db,
    logger: pino({ level: 'silent' }),
    clock: () => now,
    idempotencyTtlMs: ttlMs,
  })
})
afterAll(() => db.close())

const placeOrder = (key: string | undefined, body: unknown = { item: 'book', quantity: 2 }) =>
  app.request('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  })

describe('Idempotency-Key on POST /orders', () => {
  it('the same key and request: the original response, replayed, and one order', async () => {
    const before = await db.counts()
    const first = await placeOrder('key-1')
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const original = await first.json()
    const again = await placeOrder('key-1')
    expect(again.status).toBe(201)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('location')).toBe(first.headers.get('location'))
    expect(await again.json()).toEqual(original)
    expect(await db.counts()).toEqual({
      orders: before.orders + 1,
      outbox: before.outbox + 1,
      keys: before.keys + 1,
    })
  })

  it('the same key with a different body is 422 and writes nothing', async () => {
    expect((await placeOrder('key-2')).status).toBe(201)
    const before = await db.counts()
    const res = await placeOrder('key-2', { item: 'book', quantity: 3 })
    expect(res.status).toBe(422)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ type: '/problems/idempotency-key-reused' })
    expect(await db.counts()).toEqual(before)
  })

  it('concurrent requests with one key create one order; all get its response', async () => {
    const before = await db.counts()
    const responses = await Promise.all(Array.from({ length: 8 }, () => placeOrder('key-race')))
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(201))
    const ids = new Set(
      await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id)),
    )
    expect(ids.size).toBe(1)
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true').length).toBe(7)
    expect((await db.counts()).orders).toBe(before.orders + 1)
  })

  it('a request that failed stored no key: the retry runs for real', async () => {
    // Confirming twice with one key: the first succeeds, the replay returns it (not a 409).
    const created = (await (await placeOrder(undefined)).json()) as { id: string }
    const confirm = (key: string) =>
      app.request(`/orders/${created.id}/confirm`, {
        method: 'POST',
        headers: { 'idempotency-key': key },
      })
    const ship = (key: string) =>
      app.request(`/orders/${created.id}/ship`, {
        method: 'POST',
        headers: { 'idempotency-key': key },
      })
    // Shipping a pending order is refused: nothing, not even the key, is stored ...
    expect((await ship('ship-1')).status).toBe(409)
    expect((await db.sql`select 1 from idempotency_keys where key = 'ship-1'`).length).toBe(0)
    const first = await confirm('confirm-1')
    expect(first.status).toBe(200)
    const replay = await confirm('confirm-1')
    expect(replay.status).toBe(200)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await replay.json()).toEqual(await first.json())
    // ... so the same key works once the order can ship.
    const shipped = await ship('ship-1')
    expect(shipped.status).toBe(200)
    expect(await shipped.json()).toMatchObject({ status: 'shipped', version: 3 })
    // A key is one request: reusing it on another endpoint is refused.
    expect((await confirm('ship-1')).status).toBe(422)
  })

  it('a key expires after the TTL: the same key then places a new order; purge deletes it', async () => {
    const first = (await (await placeOrder('key-ttl')).json()) as { id: string }
    now = new Date(now.getTime() + ttlMs + 1000)
    const second = await placeOrder('key-ttl')
    expect(second.status).toBe(201)
    expect(second.headers.get('idempotent-replayed')).toBeNull()
    expect(((await second.json()) as { id: string }).id).not.toBe(first.id)
    const expiredBefore =
      await db.sql`select count(*)::int as n from idempotency_keys where expires_at <= ${now.toISOString()}`
    expect(expiredBefore[0]?.n).toBeGreaterThan(0)
    const purged = await purgeExpiredKeys(db.db, now)
    expect(purged).toBe(expiredBefore[0]?.n)
    expect((await db.sql`select 1 from idempotency_keys where key = 'key-ttl'`).length).toBe(1)
  })

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'a key'],
  ])('an invalid key (%s) is 400 and writes nothing', async (_, key) => {
    const before = await db.counts()
    const res = await app.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ item: 'book', quantity: 1 }),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ errors: [{ field: 'idempotency-key' }] })
    expect(await db.counts()).toEqual(before)
  })
})

describe('idempotency keys are scoped to the client', () => {
  const keyA = 'a'.repeat(20)
  const keyB = 'b'.repeat(20)

  it('two clients using one key each get their own order, and each replay is their own', async () => {
    const app2 = createApp({ db: db.db, logger: pino({ level: 'silent' }), apiKeys: [keyA, keyB] })
    const post = (apiKey: string, item: string) =>
      app2.request('/orders', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${apiKey}`,
          'idempotency-key': 'order-1002',
        },
        body: JSON.stringify({ item, quantity: 1 }),
      })
    const b = await post(keyB, 'from-b')
    const a = await post(keyA, 'from-a')
    expect([b.status, a.status]).toEqual([201, 201])
    const [orderA, orderB] = [
      (await a.json()) as { id: string },
      (await b.json()) as { id: string },
    ]
    expect(orderA.id).not.toBe(orderB.id)
    const againA = await post(keyA, 'from-a')
    expect(againA.headers.get('idempotent-replayed')).toBe('true')
    expect(await againA.json()).toMatchObject({ id: orderA.id, item: 'from-a' })
  })
})

describe('purging expired keys', () => {
  it('100,000 expired keys are gone within two passes; live keys stay', async () => {
    await db.sql`
      insert into idempotency_keys (client, key, fingerprint, status, created_at, expires_at)
      select 'addr:test', 'bulk-' || i, 'f', 201, now() - interval '2 days', now() - interval '1 day'
        from generate_series(1, 100000) i`
    await db.sql`
      insert into idempotency_keys (client, key, fingerprint, status, created_at, expires_at)
      values ('addr:test', 'live', 'f', 201, now(), now() + interval '1 day')`
    const at = new Date()
    await purgeExpiredKeys(db.db, at)
    await purgeExpiredKeys(db.db, at)
    const [left] = await db.sql<{ expired: number; live: number }[]>`
      select count(*) filter (where expires_at <= ${at.toISOString()})::int as expired,
             count(*) filter (where key = 'live')::int as live
        from idempotency_keys where client = 'addr:test'`
    expect(left).toEqual({ expired: 0, live: 1 })
  })
})
