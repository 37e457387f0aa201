/** The entrypoints as a user runs them: separate processes, real environment, real signals. */
import { once } from 'node:events'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/dev/free-port'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { spawnEntrypoint } from '../helpers/process'
import { waitFor } from '../helpers/wait'

describe('fail fast on missing configuration', () => {
  it.each([
    ['src/main/api.ts', ['DATABASE_URL']],
    ['src/main/relay.ts', ['DATABASE_URL', 'KAFKA_BROKERS']],
    ['src/main/migrate.ts', ['DATABASE_URL']],
  ])('%s exits 1 naming %j', async (file, missing) => {
    const proc = spawnEntrypoint(file, { PORT: 'not-a-port' })
    expect(await proc.exited).toBe(1)
    for (const name of missing) expect(proc.output()).toContain(`${name}: required but not set`)
    if (file.endsWith('api.ts')) expect(proc.output()).toContain('PORT') // every problem, not the first
  })
})

describe('a port in use', () => {
  it('start:api exits 1 with one line naming the port and the setting, no stack trace', async () => {
    const db = await createTestDatabase()
    const port = await freePort()
    const taken = createServer().listen(port, '0.0.0.0')
    await once(taken, 'listening')
    try {
      const api = spawnEntrypoint('src/main/api.ts', { DATABASE_URL: db.url, PORT: String(port) })
      expect(await api.exited).toBe(1)
      const lines = api.output().trim().split('\n')
      expect(lines.at(-1)).toBe(
        `PORT ${port} is in use; set PORT=<a free port>, e.g. PORT=${port + 1}`,
      )
      expect(api.output()).not.toMatch(/\n\s+at /) // no stack frames
    } finally {
      taken.close()
      await db.close()
    }
  })
})

describe('running processes', () => {
  let db: TestDatabase
  let kafka: MockKafka
  beforeAll(async () => {
    db = await createTestDatabase()
    kafka = startTestKafka('orders.events')
  })
  afterAll(async () => {
    await db.close()
    kafka.close()
  })

  it('start:relay publishes, serves /metrics and /readyz, and exits 0 on SIGTERM', async () => {
    const metricsPort = await freePort()
    const relay = spawnEntrypoint('src/main/relay.ts', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_IDEMPOTENT: 'false',
      METRICS_PORT: String(metricsPort),
    })
    await relay.waitForOutput(/relay started/)
    await db.sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      values (gen_random_uuid(), 'OrderNoted', gen_random_uuid(), '{}', now())`
    await waitFor('the row published', async () => {
      const [row] = await db.sql`select count(*)::int as n from outbox_unpublished`
      return row?.n === 0
    })
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toMatch(/^outbox_published_events_total 1$/m)
    expect(metrics).toMatch(/^outbox_pending_events 0$/m)
    expect(metrics).toMatch(/^relay_owned_partitions 64$/m)
    // Nothing held any partition's lock, and the relay kept up.
    expect(metrics).toMatch(/^relay_lock_waits_total\{lock="awake"\} 0$/m)
    expect(metrics).toMatch(/^relay_stalled_seconds 0$/m)
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m)
    // Ready once the LISTEN watchdog has confirmed a ping (every 2 s).
    type Ready = { status: string; reasons: string[]; checks: Record<string, string> }
    const readyz = () => fetch(`http://127.0.0.1:${metricsPort}/readyz`)
    const body = async (res: Response) => (await res.json()) as Ready
    await waitFor('the relay ready', async () => (await readyz()).status === 200)
    expect((await body(await readyz())).checks.trigger).toBe('fits RELAY_WAKEUP')
    // The database migrated to poll under a running adaptive relay: its events would wait for
    // the fallback poll, and readiness says so until the trigger is back.
    await db.sql`alter table outbox disable trigger outbox_notify`
    try {
      const res = await readyz()
      expect(res.status).toBe(503)
      const ready = await body(res)
      expect(ready.checks.trigger).toBe('does not fit RELAY_WAKEUP')
      expect(ready.reasons).toEqual([
        expect.stringMatching(
          /^events wait for the fallback poll: RELAY_WAKEUP=adaptive needs the outbox trigger, which is disabled/,
        ),
      ])
    } finally {
      await db.sql`alter table outbox enable trigger outbox_notify`
    }
    expect((await readyz()).status).toBe(200)
    relay.child.kill('SIGTERM')
    expect(await relay.exited).toBe(0)
    expect(relay.output()).toMatch(/relay stopped/)
  })

  it('start:relay with METRICS_PORT=0 and LOG_LEVEL=warn still says the port it chose', async () => {
    const relay = spawnEntrypoint('src/main/relay.ts', {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: kafka.bootstrap,
      KAFKA_IDEMPOTENT: 'false',
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    })
    try {
      await relay.waitForOutput(/on a chosen port/)
      const line = relay
        .output()
        .split('\n')
        .find((l) => l.includes('on a chosen port'))
      const { httpPort, component } = JSON.parse(line ?? '{}')
      expect(component).toBe('relay')
      expect((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200)
      expect(relay.output()).not.toMatch(/relay started/) // the info lines stay hidden
    } finally {
      relay.child.kill('SIGTERM')
      await relay.exited
    }
  })

  it('npm start with nothing configured runs embedded Postgres and broker, serves orders, exits 0', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'outbox-start-'))
    await chmod(dataDir, 0o755) // as root, postgres runs as the postgres user and must get in
    const port = await freePort()
    const app = spawnEntrypoint('src/main/all.ts', {
      DEV_DATA_DIR: dataDir,
      PORT: String(port),
      METRICS_PORT: '0',
    })
    try {
      await app.waitForOutput(/curl -i -X POST/, 30_000)
      expect(app.output()).toMatch(/in memory only/)
      expect(app.output()).toMatch(/creates a topic the first time an\s+event waits for it/)
      const res = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ item: 'book', quantity: 2 }),
      })
      expect(res.status).toBe(201)
      // The banner names the relay's metrics URL (METRICS_PORT=0 here: a chosen port).
      const relayPort = app.output().match(/Relay +http:\/\/localhost:(\d+)\/metrics/)?.[1]
      const metrics = await fetch(`http://127.0.0.1:${relayPort}/metrics`)
      expect(await metrics.text()).toMatch(/^relay_owned_partitions \d+$/m)
      app.child.kill('SIGTERM')
      expect(await app.exited).toBe(0)
      // The relay stopped before the database: no warning (CONNECTION_CLOSED) on a clean stop.
      expect(app.output()).not.toMatch(/"level":(40|50|60)/)
    } finally {
      app.child.kill('SIGKILL')
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 60_000)

  it('db:migrate with RELAY_WAKEUP=poll turns the trigger off; an adaptive relay then exits 1 saying why', async () => {
    const env = { DATABASE_URL: db.url, KAFKA_BROKERS: kafka.bootstrap, METRICS_PORT: '0' }
    try {
      const migrate = spawnEntrypoint('src/main/migrate.ts', { ...env, RELAY_WAKEUP: 'poll' })
      expect(await migrate.exited).toBe(0)
      expect(migrate.output()).toMatch(/"trigger":"disabled"/)
      const relay = spawnEntrypoint('src/main/relay.ts', { ...env, RELAY_WAKEUP: 'adaptive' })
      expect(await relay.exited).toBe(1)
      expect(relay.output()).toContain(
        'RELAY_WAKEUP=adaptive needs the outbox trigger, which is disabled',
      )
      expect(relay.output()).not.toMatch(/ at /) // a configuration message, not a stack trace
    } finally {
      const back = spawnEntrypoint('src/main/migrate.ts', { ...env, RELAY_WAKEUP: 'adaptive' })
      expect(await back.exited).toBe(0)
    }
  })
})
