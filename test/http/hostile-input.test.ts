/**
 * The API under hostile input: text that is not text is refused naming the field, error logs
 * hold none of the request's data, every response (errors too) carries X-Request-Id, and the
 * client behind a trusted proxy is the one X-Forwarded-For names.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { memoryLogger } from '../helpers/memory-logger'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
})

describe('text fields', () => {
  it.each([
    ['a terminal escape', { item: 'x\u001b]0;PWNED\u0007\u001b[2J', quantity: 1 }, 'item'],
    ['a lone surrogate', { item: '\ud800', quantity: 1 }, 'item'],
    ['a trailing lone surrogate', { item: 'ok\udc00', quantity: 1 }, 'item'],
    ['a control in customerId', { item: 'ok', quantity: 1, customerId: 'c\u0008' }, 'customerId'],
  ])('%s is a 400 naming the field; nothing written', async (_, body, field) => {
    const app = createApp({ db: db.db, logger: memoryLogger().logger })
    const before = await db.counts()
    const res = await app.request('/orders', post(body))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      errors: [{ field, message: expect.stringMatching(/control characters or unpaired/) }],
    })
    expect(await db.counts()).toEqual(before)
  })

  it('a cancellation reason with a control character is a 400 naming it', async () => {
    const app = createApp({ db: db.db, logger: memoryLogger().logger })
    const { id } = (await (
      await app.request('/orders', post({ item: 'a', quantity: 1 }))
    ).json()) as {
      id: string
    }
    const res = await app.request(`/orders/${id}/cancel`, post({ reason: 'no\u001b[2J' }))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ errors: [{ field: 'reason' }] })
  })
})

describe('errors', () => {
  it('a 500 logs no request data (debug does); X-Request-Id comes back on 500, 401, 404, 400', async () => {
    const secret = 'customer-secret-4242'
    await db.sql.unsafe(
      `alter table orders add constraint test_refuse check (customer_id is distinct from '${secret}')`,
    )
    try {
      const info = memoryLogger()
      // memoryLogger logs at debug: an info-level copy is what production writes.
      info.logger.level = 'info'
      const app = createApp({ db: db.db, logger: info.logger })
      const res = await app.request(
        '/orders',
        post(
          { item: 'secret-item-7', quantity: 1, customerId: secret },
          { 'x-request-id': 'r-500' },
        ),
      )
      expect(res.status).toBe(500)
      expect(res.headers.get('x-request-id')).toBe('r-500')
      const failed = info.lines.filter((l) => l.msg === 'request failed')
      expect(failed).toHaveLength(1)
      expect(JSON.stringify(info.lines)).not.toMatch(/customer-secret-4242|secret-item-7/)

      const debug = memoryLogger()
      const verbose = createApp({ db: db.db, logger: debug.logger })
      await verbose.request('/orders', post({ item: 'i', quantity: 1, customerId: secret }))
      expect(JSON.stringify(debug.lines)).toContain(secret)
    } finally {
      await db.sql.unsafe('alter table orders drop constraint test_refuse')
    }

    const keyed = createApp({ db: db.db, logger: memoryLogger().logger, apiKeys: ['k'.repeat(20)] })
    for (const [app, path, init, status] of [
      [keyed, '/orders', post({ item: 'a', quantity: 1 }), 401],
      [keyed, '/no/such', {}, 404],
      [
        createApp({ db: db.db, logger: memoryLogger().logger }),
        '/orders',
        post({ quantity: 0 }),
        400,
      ],
    ] as const) {
      const res = await app.request(path, {
        ...init,
        headers: { ...('headers' in init ? init.headers : {}), 'x-request-id': `r-${status}` },
      })
      expect([res.status, res.headers.get('x-request-id')]).toEqual([status, `r-${status}`])
    }
  })
})

describe('TRUSTED_PROXIES', () => {
  async function serveApp(trustedProxies: string[]) {
    const app = createApp({
      db: db.db,
      logger: memoryLogger().logger,
      rateLimitPerMinute: 2,
      trustedProxies,
    })
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
    })
    const { port } = server.address() as AddressInfo
    const get = (forwardedFor: string) =>
      fetch(`http://127.0.0.1:${port}/orders?limit=1`, {
        headers: { 'x-forwarded-for': forwardedFor },
      }).then((r) => r.status)
    return { get, close: () => new Promise((r) => server.close(r)) }
  }

  it('behind a trusted proxy each forwarded client has its own bucket; otherwise the header is ignored', async () => {
    const trusted = await serveApp(['127.0.0.1'])
    try {
      expect([await trusted.get('10.0.0.1'), await trusted.get('10.0.0.1')]).toEqual([200, 200])
      expect(await trusted.get('10.0.0.1')).toBe(429)
      // A client cannot pose as another by prepending: the proxy appended its real address.
      expect(await trusted.get('10.0.0.2, 10.0.0.1')).toBe(429)
      expect(await trusted.get('10.0.0.2')).toBe(200)
    } finally {
      await trusted.close()
    }
    const direct = await serveApp([])
    try {
      expect([await direct.get('10.0.0.1'), await direct.get('10.0.0.2')]).toEqual([200, 200])
      expect(await direct.get('10.0.0.3')).toBe(429)
    } finally {
      await direct.close()
    }
  })
})
