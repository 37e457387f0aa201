/**
 * Database-side failures: the LISTEN connection killed, and Postgres itself stopped for 10 s.
 * The restart test needs a server of its own (the shared one serves the other test files).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { createDb } from '../../src/db/client'
import { migrateDatabase } from '../../src/db/migrate'
import { createEmbeddedPostgres, type EmbeddedPostgres } from '../../src/dev/embedded-postgres'
import { freePort } from '../../src/dev/free-port'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { insertOrderEvents, newOrderIds } from '../helpers/ledger'
import { startTestRelay } from '../helpers/relay'
import { delay, waitFor } from '../helpers/wait'

let kafka: MockKafka
let consumer: Collector
const topic = 'outage.events'

beforeAll(async () => {
  kafka = startTestKafka(topic)
  consumer = await collectMessages(kafka.bootstrap, topic)
})
afterAll(async () => {
  await consumer.stop()
  kafka.close()
})

const arrived = (orderIds: string[]) =>
  orderIds.every((o) => consumer.messages.some((m) => m.key === o))

describe('LISTEN connection killed', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.close())

  it('events written in the gap arrive without waiting for the fallback poll', async () => {
    const relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic,
      RELAY_POLL_INTERVAL_MS: '60000',
    })
    try {
      // The LISTEN in place (readiness no longer waits for it): from here a kill opens a gap.
      await waitFor('LISTEN in place', async () => {
        const ready = await (await fetch(`http://127.0.0.1:${relay.httpPort}/readyz`)).json()
        return !(ready as { reasons: string[] }).reasons.some((r) => r.startsWith('LISTEN'))
      })
      const killed = await db.sql`
        select pg_terminate_backend(pid) from pg_stat_activity
         where application_name = 'outbox-relay-listen' and datname = current_database()`
      expect(killed.length).toBeGreaterThan(0)
      const orders = newOrderIds(5)
      const started = Date.now()
      await insertOrderEvents(db.sql, orders, 1) // right in the gap before the re-LISTEN
      await waitFor('the gap events', () => arrived(orders), 10_000)
      expect(Date.now() - started).toBeLessThan(8000) // the poll would take 60 s
    } finally {
      await relay.stop()
    }
  })
})

describe('Postgres stopped for 10 s and restarted', () => {
  let dataDir: string
  let pg: EmbeddedPostgres
  let url: string
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'outbox-outage-'))
    await chmod(dataDir, 0o755)
    pg = await createEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port: await freePort() })
    await pg.start()
    url = pg.url()
    await migrateDatabase(url)
  })
  afterAll(async () => {
    await pg.stop()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('the API answers 503 promptly while it is down; the relay resumes by itself after', async () => {
    const api = createDb(url, { max: 2, connectTimeout: 2 })
    const app = createApp({ db: api.db, logger: pino({ level: 'silent' }) })
    const post = () =>
      app.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: 'outage', quantity: 1 }),
      })
    const relay = await startTestRelay(
      {
        databaseUrl: url,
        brokers: kafka.bootstrap,
        topic,
        RELAY_POLL_INTERVAL_MS: '60000',
      },
      { backoff: { baseMs: 100, capMs: 30_000 } }, // the real cap: the test is about its wait
    )
    try {
      const before = await post()
      expect(before.status).toBe(201)
      const first = (await before.json()) as { id: string }
      await waitFor('the first order published', () => arrived([first.id]))

      await pg.stop()
      const started = Date.now()
      const down = await post()
      expect(down.status).toBe(503)
      expect(down.headers.get('content-type')).toBe('application/problem+json')
      expect(Date.now() - started).toBeLessThan(3000)
      await delay(5000)
      const later = Date.now()
      expect((await post()).status).toBe(503) // still prompt deep into the outage
      expect(Date.now() - later).toBeLessThan(3000)
      await delay(Math.max(0, 10_000 - (Date.now() - started)))

      await pg.start()
      const restartedAt = Date.now()
      // The API recovers without a restart (its pool reconnects).
      const created = await waitFor('the API to accept orders again', async () => {
        const res = await post()
        return res.status === 201 ? ((await res.json()) as { id: string }) : undefined
      })
      const direct = postgres(url, { max: 1 })
      const orders = newOrderIds(3)
      await insertOrderEvents(direct, orders, 1)
      await direct.end()
      await waitFor(
        'events created after the restart',
        () => arrived([created.id, ...orders]),
        15_000,
      )
      expect(Date.now() - restartedAt).toBeLessThan(10_000) // the poll alone would take 60 s
    } finally {
      await relay.stop()
      await api.sql.end({ timeout: 1 })
    }
  }, 60_000)
})
