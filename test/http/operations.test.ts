/** What an operator relies on at the HTTP edge: ids, traces, metrics, readiness, keys, limits. */
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createDb } from '../../src/db/client'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

const silent = pino({ level: 'silent' })
const order = (headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ item: 'book', quantity: 1 }),
})

describe('request context', () => {
  it('a request id (given or made) is echoed and stored with the event; the caller trace continues', async () => {
    const app = createApp({ db: db.db, logger: silent })
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await app.request(
      '/orders',
      order({ 'x-request-id': 'req-123', traceparent: `00-${traceId}-00f067aa0ba902b7-01` }),
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('x-request-id')).toBe('req-123')
    const { id } = (await res.json()) as { id: string }
    const [row] =
      await db.sql`select request_id, traceparent from outbox where aggregate_id = ${id}`
    expect(row?.request_id).toBe('req-123')
    // Same trace, a new span id for this request.
    expect(row?.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
    expect(row?.traceparent).not.toContain('00f067aa0ba902b7')

    const bad = await app.request(
      '/orders',
      order({ 'x-request-id': 'has spaces', traceparent: 'junk' }),
    )
    const made = bad.headers.get('x-request-id') ?? ''
    expect(made).toMatch(/^[0-9a-f-]{36}$/)
    const { id: id2 } = (await bad.json()) as { id: string }
    const [row2] =
      await db.sql`select request_id, traceparent from outbox where aggregate_id = ${id2}`
    expect(row2?.request_id).toBe(made)
    expect(row2?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })

  it('/metrics counts requests by route pattern, method and status; random paths share one label', async () => {
    const app = createApp({ db: db.db, logger: silent })
    await app.request('/orders', order())
    await app.request('/orders/0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d')
    await app.request('/no/such/path/1')
    await app.request('/no/such/path/2')
    const text = await (await app.request('/metrics')).text()
    expect(text).toMatch(
      /http_request_duration_seconds_count\{route="\/orders",method="POST",status="201"\} 1/,
    )
    expect(text).toMatch(
      /http_request_duration_seconds_count\{route="\/orders\/:id",method="GET",status="404"\} 1/,
    )
    expect(text).toMatch(
      /http_request_duration_seconds_count\{route="unmatched",method="GET",status="404"\} 2/,
    )
    expect(text).toMatch(/^process_cpu_seconds_total /m)
  })

  it('/readyz is 503 with a reason while the database is unreachable; /healthz stays 200', async () => {
    const down = createDb('postgres://nobody@127.0.0.1:1/none', { max: 1, connectTimeout: 1 })
    try {
      const app = createApp({ db: down.db, logger: silent })
      const res = await app.request('/readyz')
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({
        status: 'not ready',
        reasons: [expect.stringMatching(/database unreachable/)],
      })
      expect((await app.request('/healthz')).status).toBe(200)
    } finally {
      await down.sql.end({ timeout: 1 })
    }
  })
})

describe('API keys', () => {
  const key = 'k'.repeat(20)
  const other = 'o'.repeat(24)
  it('writes and reads need a valid bearer key (401 problem, nothing written)', async () => {
    const app = createApp({ db: db.db, logger: silent, apiKeys: [other, key] })
    const before = await db.counts()
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${key}x` },
      { authorization: key },
    ]
    for (const headers of attempts) {
      const res = await app.request('/orders', order(headers))
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
    }
    expect(await db.counts()).toEqual(before)
    const ok = await app.request('/orders', order({ authorization: `Bearer ${key}` }))
    expect(ok.status).toBe(201)
    const { id } = (await ok.json()) as { id: string }
    expect((await app.request(`/orders/${id}/confirm`, { method: 'POST' })).status).toBe(401)
    const bearer = { headers: { authorization: `Bearer ${key}` } }
    for (const path of [`/orders/${id}`, '/orders', '/metrics']) {
      const res = await app.request(path)
      expect([path, res.status]).toEqual([path, 401])
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect((await app.request(path, bearer)).status).toBe(200)
    }
    // Probes stay open: an orchestrator has no key.
    expect((await app.request('/readyz')).status).toBe(200)
  })

  it('API_PUBLIC_READS opens the reads, not the writes nor /metrics', async () => {
    const app = createApp({ db: db.db, logger: silent, apiKeys: [key], publicReads: true })
    expect((await app.request('/orders')).status).toBe(200)
    expect((await app.request('/orders', order())).status).toBe(401)
    expect((await app.request('/metrics')).status).toBe(401)
  })
})

describe('limits', () => {
  it('more than RATE_LIMIT_PER_MINUTE requests from one client: 429 problem with Retry-After', async () => {
    const app = createApp({ db: db.db, logger: silent, rateLimitPerMinute: 3 })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await app.request('/orders?limit=1')).status)
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    const res = await app.request('/orders?limit=1')
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    // Probes are never limited.
    expect((await app.request('/healthz')).status).toBe(200)
  })

  it('a request slower than its timeout gets a 503 problem saying how to retry safely', async () => {
    const app = createApp({ db: db.db, logger: silent, requestTimeoutMs: 50 })
    // A route added for the test runs behind the same middleware as the real ones; it answers
    // only once the test has its response.
    let finish: () => void = () => {}
    const finished = new Promise<void>((r) => {
      finish = r
    })
    app.get('/slow', async (c) => {
      await finished
      return c.text('late')
    })
    const res = await Promise.resolve(app.request('/slow')).finally(finish)
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({
      type: '/problems/request-timeout',
      detail: /Idempotency-Key/,
    })
  })

  it('the body limit is configurable; a declared Content-Length is checked without reading the body', async () => {
    const app = createApp({ db: db.db, logger: silent, maxBodyBytes: 100 })
    const big = JSON.stringify({ item: 'x'.repeat(200), quantity: 1 })
    const small = JSON.stringify({ item: 'x', quantity: 1 })
    const declared = (body: string) => order({ 'content-length': String(Buffer.byteLength(body)) })
    // Without a length (chunked), the body is counted as it is read.
    expect((await app.request('/orders', { ...order(), body: big })).status).toBe(413)
    expect((await app.request('/orders', { ...declared(big), body: big })).status).toBe(413)
    expect((await app.request('/orders', { ...declared(small), body: small })).status).toBe(201)
  })
})
