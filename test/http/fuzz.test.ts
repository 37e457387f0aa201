/**
 * Property: whatever arrives (random methods, paths, headers and bodies, some close to valid),
 * the API never answers 5xx, every 4xx is problem+json, and a rejected request writes nothing.
 */
import fc from 'fast-check'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
let app: ReturnType<typeof createApp>
let existing: string

beforeAll(async () => {
  db = await createTestDatabase()
  app = createApp({ db: db.db, logger: pino({ level: 'silent' }), maxBodyBytes: 4096 })
  const res = await app.request('/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ item: 'seed', quantity: 1 }),
  })
  existing = ((await res.json()) as { id: string }).id
})
afterAll(() => db.close())

const segment = fc.oneof(
  fc.constantFrom('orders', 'confirm', 'ship', 'cancel', 'schemas', 'docs', 'metrics', '..', '%00'),
  fc.uuid(),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
)
const path = fc.oneof(
  fc.constantFrom('/orders', '/orders?limit=2', '/healthz', '/readyz', '/openapi.json'),
  fc.constantFrom('confirm', 'ship', 'cancel', 'refund').map((a) => `/orders/${existing}/${a}`),
  fc
    .tuple(fc.constantFrom('limit', 'cursor', 'status'), fc.string({ maxLength: 20 }))
    .map(([k, v]) => `/orders?${k}=${encodeURIComponent(v)}`),
  // Cursors of the right shape with wrong contents: what a tampering client would send.
  fc
    .tuple(
      fc.oneof(fc.date(), fc.string()),
      fc.oneof(fc.uuid(), fc.string({ minLength: 36, maxLength: 36 }), fc.constant('-'.repeat(36))),
    )
    .map(([at, id]) => {
      const time = at instanceof Date && !Number.isNaN(at.getTime()) ? at.toISOString() : at
      return `/orders?cursor=${Buffer.from(JSON.stringify([time, id])).toString('base64url')}`
    }),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
)
const nearlyAnOrder = fc.record(
  {
    item: fc.oneof(
      fc.string({ maxLength: 210 }),
      fc.string({ unit: 'binary', maxLength: 20 }), // any code point, U+0000 included
      fc.integer(),
      fc.constant(null),
    ),
    quantity: fc.oneof(fc.integer({ min: -5, max: 20_000 }), fc.double(), fc.string()),
    customerId: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constant('')),
    reason: fc.oneof(fc.string({ maxLength: 600 }), fc.string({ unit: 'binary' })),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
)
const body = fc.oneof(
  fc.constant(undefined),
  nearlyAnOrder.map((o) => JSON.stringify(o)),
  fc.json(),
  fc.string({ maxLength: 300 }),
  fc.string({ minLength: 4100, maxLength: 5000 }),
)
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/problem+json',
      ),
      fc.string({ maxLength: 30 }),
    ),
    'idempotency-key': fc.oneof(fc.constantFrom('fuzz-1', 'fuzz-2'), fc.string({ maxLength: 300 })),
    'x-request-id': fc.string({ maxLength: 200 }),
    traceparent: fc.string({ maxLength: 60 }),
  },
  { requiredKeys: [] },
)
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
  path,
  headers,
  body,
})

const isHeaderSafe = (v: string) => /^[\t\x20-\x7e]*$/.test(v)

describe('random requests', () => {
  it('never 5xx; every 4xx is problem+json and writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const safeHeaders = Object.fromEntries(
          Object.entries(r.headers).filter(([, v]) => isHeaderSafe(v)),
        )
        const before = await db.counts()
        const res = await app.request(r.path, {
          method: r.method,
          headers: safeHeaders,
          ...(r.body === undefined || r.method === 'GET' ? {} : { body: r.body }),
        })
        await res.arrayBuffer()
        expect(res.status, `${r.method} ${r.path}`).toBeLessThan(500)
        if (res.status >= 400) {
          expect(res.headers.get('content-type')).toBe('application/problem+json')
          expect(await db.counts()).toEqual(before)
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    )
  })
})
