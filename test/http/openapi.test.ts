/**
 * The OpenAPI document against the real API: every response a real request gets must be
 * documented (status and media type) and valid against its documented schema; every route is
 * in the document and every documented operation is exercised here.
 */
import { Ajv2020 } from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { STOCK_MAX } from '../../src/db/schema'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

type Operation = {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

let db: TestDatabase
let app: ReturnType<typeof createApp>
let doc: Doc
const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
const exercised = new Set<string>()

beforeAll(async () => {
  db = await createTestDatabase()
  app = createApp({ db: db.db, logger: pino({ level: 'silent' }) })
  const res = await app.request('/openapi.json')
  expect(res.status).toBe(200)
  doc = (await res.json()) as Doc
  ajv.addSchema(doc, 'openapi.json')
})
afterAll(() => db.close())

/** The documented path template a concrete path matches, e.g. /orders/{id}/ship. */
function templateOf(path: string): string {
  const match = Object.keys(doc.paths).find((template) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  )
  if (!match) throw new Error(`${path} is not in the OpenAPI document`)
  return match
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')

/** Sends the request and checks the response against the document; returns it parsed. */
async function call(method: string, path: string, init: RequestInit = {}) {
  const res = await app.request(path, { method, ...init })
  const url = new URL(path, 'http://x')
  const template = templateOf(url.pathname)
  const operation = doc.paths[template]?.[method.toLowerCase()]
  expect(operation, `${method} ${template} documented`).toBeDefined()
  const status = String(res.status)
  const documented = operation?.responses[status]
  expect(documented, `${method} ${template} documents status ${status}`).toBeDefined()
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0] ?? ''
  expect(
    Object.keys(documented?.content ?? {}),
    `${method} ${template} ${status} media type`,
  ).toContain(mediaType)
  const body: unknown = /json$/.test(mediaType) ? await res.json() : await res.text()
  const validate = ajv.getSchema(
    `openapi.json#/${pointer('paths', template, method.toLowerCase(), 'responses', status, 'content', mediaType, 'schema')}`,
  )
  if (!validate) throw new Error('no schema to validate against')
  expect(validate(body) ? [] : validate.errors, `${method} ${template} ${status} body`).toEqual([])
  exercised.add(`${method.toLowerCase()} ${template}`)
  return { status: res.status, body }
}

const json = (body: unknown): RequestInit => ({
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every route the app serves', () => {
    expect(doc.openapi).toBe('3.1.0')
    const served = app.routes
      .filter((r) => r.method !== 'ALL' && !/^\/(docs|openapi\.json)/.test(r.path))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`)
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    )
    expect(new Set(served)).toEqual(new Set(documented))
  })

  it('real responses, successes and problems, match the document', async () => {
    await call('GET', '/healthz')
    expect((await call('GET', '/readyz')).body).toEqual({ status: 'ready', reasons: [] })
    expect((await call('GET', '/metrics')).body).toMatch(/^http_request_duration_seconds_bucket\{/m)
    const created = await call('POST', '/orders', json({ item: 'book', quantity: 2 }))
    expect(created.status).toBe(201)
    const id = (created.body as { id: string }).id
    await call('POST', '/orders', json({ item: '', quantity: 0 })) // 400
    await call('POST', '/orders', { body: '{}' }) // 415
    await call('POST', '/orders', json({ item: 'x'.repeat(70_000), quantity: 1 })) // 413
    await call('POST', '/orders', {
      headers: { 'content-type': 'application/json', 'idempotency-key': 'doc-1' },
      body: JSON.stringify({ item: 'a', quantity: 1 }),
    })
    const reused = await call('POST', '/orders', {
      headers: { 'content-type': 'application/json', 'idempotency-key': 'doc-1' },
      body: JSON.stringify({ item: 'b', quantity: 1 }),
    })
    expect(reused.status).toBe(422)
    await db.sql`insert into inventory.stock (item, reserved) values ('full', ${STOCK_MAX})`
    expect((await call('POST', '/orders', json({ item: 'full', quantity: 1 }))).status).toBe(409)
    expect((await call('GET', `/orders/${id}`)).status).toBe(200)
    expect((await call('GET', '/orders/0b9b1f5e-3f8e-4c59-8d2b-0d1f2a3b4c5d')).status).toBe(404)
    expect((await call('GET', '/orders/nope')).status).toBe(400)
    expect((await call('GET', '/orders?limit=1')).status).toBe(200)
    expect((await call('GET', '/orders?limit=0')).status).toBe(400)
    expect((await call('POST', `/orders/${id}/ship`)).status).toBe(409)
    expect((await call('POST', `/orders/${id}/confirm`)).status).toBe(200)
    expect((await call('POST', `/orders/${id}/ship`)).status).toBe(200)
    expect((await call('POST', `/orders/${id}/cancel`, json({ reason: 'late' }))).status).toBe(409)
    const other = (await call('POST', '/orders', json({ item: 'pen', quantity: 1 }))).body as {
      id: string
    }
    expect(
      (await call('POST', `/orders/${other.id}/cancel`, json({ reason: 'late' }))).status,
    ).toBe(200)
    expect((await call('GET', '/schemas/OrderCreated.v1.json')).status).toBe(200)
    expect((await call('GET', '/schemas/Nothing.json')).status).toBe(404)

    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    )
    expect([...exercised].sort()).toEqual(documented.sort())
  })

  it('/docs works offline: the page loads its scripts and styles from this server', async () => {
    const page = await app.request('/docs')
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).not.toMatch(/(src|href)="https?:/)
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '')
    expect(assets).toEqual(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/init.js'])
    for (const asset of assets) {
      const res = await app.request(asset)
      expect(res.status, asset).toBe(200)
      expect((await res.text()).length).toBeGreaterThan(10)
    }
  })

  it("every route fits Hono's RegExpRouter (a route it refuses drops the whole app to the slower TrieRouter)", async () => {
    const router = new RegExpRouter<unknown>()
    for (const route of app.routes) router.add(route.method, route.path, route.handler)
    expect(() => router.match('GET', '/healthz')).not.toThrow()
    // And the app did pick it: SmartRouter names the router it settled on.
    await app.request('/healthz')
    expect(app.router.name).toBe('SmartRouter + RegExpRouter')
  })

  it('the Idempotency-Key header is documented on every write and a malformed one is a 400 naming it', async () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.post as { parameters?: Array<{ name: string; in: string }> } | undefined
      if (!op) continue
      expect(op.parameters, `post ${path}`).toContainEqual(
        expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }),
      )
    }
    const res = await app.request('/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'two words' },
      body: JSON.stringify({ item: 'book', quantity: 1 }),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      errors: [{ field: 'idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }],
    })
  })
})
