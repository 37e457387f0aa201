/** The relay's /readyz verdict (relay-http.ts) against a real database and its trigger. */
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WakeupMode } from '../../src/db/doorbell-trigger'
import { doorbellTrigger, triggerMismatch } from '../../src/db/doorbell-trigger'
import { freePort } from '../../src/dev/free-port'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { checkRelayReadiness, type Readiness, serveRelayHttp } from '../../src/relay/relay-http'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

describe('relay readiness and the outbox trigger', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db.close()
  })

  const readiness = (mode: WakeupMode, over: Partial<Readiness> = {}): Readiness => ({
    lagSeconds: async () => 0,
    ownedPartitions: () => 64,
    maxLagSeconds: 30,
    wakeupMismatch: async () => triggerMismatch(mode, await doorbellTrigger(db.sql)),
    ...over,
  })

  it('adaptive over the trigger as migrated: ready, the trigger fits', async () => {
    const r = await checkRelayReadiness(readiness('adaptive'))
    expect(r).toMatchObject({ ready: true, reasons: [], checks: { trigger: 'fits RELAY_WAKEUP' } })
  })

  it('notify over a dropped trigger: not ready, saying how to recreate it', async () => {
    await db.sql`alter table outbox rename to outbox_kept`
    await db.sql`create table outbox (like outbox_kept)`
    try {
      const r = await checkRelayReadiness(readiness('notify'))
      expect(r.ready).toBe(false)
      expect(r.checks.trigger).toBe('does not fit RELAY_WAKEUP')
      expect(r.reasons).toEqual([
        expect.stringMatching(
          /^events wait for the fallback poll: RELAY_WAKEUP=notify needs the outbox_notify trigger, which is missing: recreate it/,
        ),
      ])
    } finally {
      await db.sql`drop table outbox`
      await db.sql`alter table outbox_kept rename to outbox`
    }
  })

  it('poll over an enabled trigger: ready; the check says what it costs', async () => {
    expect(await doorbellTrigger(db.sql)).toBe('enabled')
    const r = await checkRelayReadiness(readiness('poll'))
    expect(r.ready).toBe(true)
    expect(r.checks.trigger).toMatch(
      /^costs the writers: RELAY_WAKEUP=poll, but the outbox trigger is enabled/,
    )
  })

  it('database unreachable: one reason, the trigger not read', async () => {
    let asked = false
    const r = await checkRelayReadiness(
      readiness('adaptive', {
        lagSeconds: async () => {
          throw new Error('connect ECONNREFUSED')
        },
        wakeupMismatch: async () => {
          asked = true
          return undefined
        },
      }),
    )
    expect(r.ready).toBe(false)
    expect(r.reasons).toEqual(['database unreachable: connect ECONNREFUSED'])
    expect(r.checks.trigger).toBe('not read (database unreachable)')
    expect(asked).toBe(false)
  })

  it('trigger unreadable while the outbox answers: ready, the trigger unknown', async () => {
    const r = await checkRelayReadiness(
      readiness('adaptive', {
        wakeupMismatch: async () => {
          throw new Error('permission denied for table pg_trigger')
        },
      }),
    )
    expect(r).toMatchObject({
      ready: true,
      checks: { trigger: 'unknown: permission denied for table pg_trigger' },
    })
  })
})

/** A whole relay, started against a database or a broker that does not answer (loopback). */
describe('relay readiness before first contact', () => {
  let db: TestDatabase
  let kafka: MockKafka
  beforeAll(async () => {
    db = await createTestDatabase()
    kafka = startTestKafka('ready.events', { brokers: 1 })
  })
  afterAll(async () => {
    kafka.close()
    await db.close()
  })

  const get = async (port: number, path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: res.status, text: await res.text() }
  }

  it.each(['poll', 'adaptive'])(
    '%s, a database nothing answers on: not ready, saying the database was never reached; /metrics still answers',
    async (mode) => {
      const url = `postgres://outbox:outbox@127.0.0.1:${await freePort()}/nothing`
      const relay = await startTestRelay({
        databaseUrl: url,
        brokers: kafka.bootstrap,
        topic: 'ready.events',
        RELAY_WAKEUP: mode,
      })
      try {
        // Not ready from the start; the reason names the database once a join has failed.
        await waitFor('a failed join named', async () => {
          const ready = await get(relay.httpPort, '/readyz')
          expect(ready.status).toBe(503)
          const { reasons } = JSON.parse(ready.text) as { reasons: string[] }
          return reasons.some((r) => /^database not reached yet: (?!connecting)/.test(r))
        })
        const metrics = await get(relay.httpPort, '/metrics')
        expect(metrics.status).toBe(200)
        expect(metrics.text).toMatch(/^outbox_pending_events Nan$/m)
      } finally {
        await relay.stop()
      }
    },
  )

  it('a broker nothing answers on: not ready, saying the broker was never reached', async () => {
    const relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: `127.0.0.1:${await freePort()}`,
      topic: 'ready.events',
      RELAY_WAKEUP: 'poll',
    })
    try {
      await waitFor('joined', async () => {
        const body = JSON.parse((await get(relay.httpPort, '/readyz')).text) as {
          checks: { partitions: string }
        }
        return body.checks.partitions === 'owns 64'
      })
      const ready = await get(relay.httpPort, '/readyz')
      expect(ready.status).toBe(503)
      expect((JSON.parse(ready.text) as { reasons: string[] }).reasons).toEqual([
        expect.stringMatching(/^broker not reached yet: /),
      ])
    } finally {
      await relay.stop()
    }
  })
})

describe('the relay HTTP server', () => {
  it('HOST binds it to that address only', async () => {
    const server = await serveRelayHttp(
      new Hono().get('/healthz', (c) => c.text('ok')),
      0,
      '127.0.0.1',
    )
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200)
      await expect(fetch(`http://[::1]:${server.port}/healthz`)).rejects.toThrow()
    } finally {
      await server.close()
    }
  })
})
