/**
 * `npm run outbox` as an operator runs it: a child process per command, against a real test
 * database with dead, pending and published events, then with a real relay (and broker) running.
 */
import { randomUUID } from 'node:crypto'
import { tmpdir } from 'node:os'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { OUTBOX_CHANNEL } from '../../src/outbox/locks'
import type { RelayService } from '../../src/relay/start-relay'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { park } from '../helpers/outbox-state'
import { startTestRelay } from '../helpers/relay'
import { runCli } from '../helpers/run-cli'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db.url })

type State = 'pending' | 'published' | 'dead'

/** One event in the given state; `order` groups events of one order (ids ascending). */
async function insertEvent(
  state: State,
  o: { order?: string; minutesAgo?: number; error?: string } = {},
): Promise<string> {
  const minutes = o.minutesAgo ?? 1
  const [row] = await db.sql<{ eventId: string }[]>`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    values (gen_random_uuid(), 'OrderNoted', coalesce(${o.order ?? null}::uuid, gen_random_uuid()),
            '{}', now() - ${minutes} * interval '1 minute')
    returning event_id as "eventId"`
  if (!row) throw new Error('insert returned no row')
  // Published and dead events keep their state in outbox_parked (drizzle/0016).
  const which = db.sql`event_id = ${row.eventId}`
  if (state === 'published') await park(db.sql, which, { publishedAgo: '0' })
  if (state === 'dead') {
    await park(db.sql, which, {
      attempts: 10,
      lastError: o.error ?? 'broker refused',
      deadAgo: `${minutes * 60 - 1} seconds`,
    })
  }
  return row.eventId
}

const row = async (eventId: string) =>
  (
    await db.sql<
      {
        publishedAt: Date | null
        deadAt: Date | null
        attempts: number
        lastError: string | null
      }[]
    >`select x.published_at as "publishedAt", x.dead_at as "deadAt",
               coalesce(x.attempts, 0) as attempts, x.last_error as "lastError"
          from outbox o left join outbox_parked x on x.id = o.id where o.event_id = ${eventId}`
  )[0]

beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

describe('without a relay', () => {
  const ids: Record<string, string> = {}
  beforeAll(async () => {
    ids.pendingOld = await insertEvent('pending', { minutesAgo: 5 })
    ids.pending = await insertEvent('pending')
    ids.pending2 = await insertEvent('pending')
    ids.deadOlder = await insertEvent('dead', { minutesAgo: 30, error: 'message too large' })
    ids.deadNewer = await insertEvent('dead', { minutesAgo: 10, error: 'unknown topic' })
    for (let i = 0; i < 4; i++) ids[`published${i}`] = await insertEvent('published')
  })

  it('status --json: counts, oldest pending age, no owners', async () => {
    const { code, stdout } = await cli('status', '--json')
    expect(code).toBe(0)
    const status = JSON.parse(stdout)
    expect(status).toMatchObject({
      pending: 3,
      dead: 2,
      published: 4,
      partitions: 64,
      ownedPartitions: 0,
      liveRelays: 0,
      owners: [],
      // By topic, routed as the relay routes (KAFKA_TOPIC_TEMPLATE's default here).
      topics: [{ topic: 'orders.events', pending: 3, dead: 2, published: 4, waitingForTopic: 0 }],
    })
    expect(status.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(299)
    expect(status.oldestPendingAgeSeconds).toBeLessThan(360)
  })

  it('status: a table that says no relay is running', async () => {
    const { code, stdout } = await cli('status')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^pending\s+3\s+oldest 5m 0\ds$/m)
    expect(stdout).toMatch(/^dead\s+2\s/m)
    expect(stdout).toMatch(/^published\s+4\s/m)
    expect(stdout).toContain('no relay is running')
  })

  it('dead: newest first, --limit, --json', async () => {
    const table = await cli('dead')
    expect(table.code).toBe(0)
    expect(table.stdout).toContain('2 dead-lettered event(s)')
    expect(table.stdout.indexOf(ids.deadNewer ?? '?')).toBeLessThan(
      table.stdout.indexOf(ids.deadOlder ?? '?'),
    )
    expect(table.stdout).toContain('unknown topic')

    const json = await cli('dead', '--json', '--limit', '1')
    expect(json.code).toBe(0)
    const events = JSON.parse(json.stdout)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      eventId: ids.deadNewer,
      eventType: 'OrderNoted',
      attempts: 10,
      lastError: 'unknown topic',
    })
    expect(events[0].aggregateId).toMatch(/^[0-9a-f-]{36}$/)
    expect(events[0]).not.toHaveProperty('orderId')
  })

  it('refusals exit 1 saying why; usage errors exit 2', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000'
    const [
      notFound,
      pending,
      published,
      discardPending,
      discardMissing,
      none,
      bogus,
      badId,
      noUrl,
    ] = await Promise.all([
      cli('retry', unknown),
      cli('retry', ids.pending ?? ''),
      cli('retry', ids.published0 ?? ''),
      cli('discard', ids.pending ?? ''),
      cli('discard', unknown),
      cli(),
      cli('frobnicate'),
      cli('retry', 'not-a-uuid'),
      // No DATABASE_URL, and no `npm start` recorded a database (an empty DEV_DATA_DIR).
      runCli(['status'], { DEV_DATA_DIR: tmpdir() }),
    ])
    expect(notFound).toMatchObject({ code: 1, stderr: expect.stringMatching(/not found/) })
    expect(pending).toMatchObject({ code: 1, stderr: expect.stringMatching(/is pending/) })
    expect(published).toMatchObject({ code: 1, stderr: expect.stringMatching(/was published at/) })
    expect(discardPending).toMatchObject({ code: 1, stderr: expect.stringMatching(/is pending/) })
    expect(discardMissing).toMatchObject({ code: 1, stderr: expect.stringMatching(/not found/) })
    expect(none).toMatchObject({ code: 2, stderr: expect.stringMatching(/no command given/) })
    expect(none.stderr).toContain('Usage: npm run outbox')
    expect(bogus).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command/) })
    expect(badId).toMatchObject({ code: 2, stderr: expect.stringMatching(/expected an event id/) })
    expect(noUrl).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/DATABASE_URL: required/),
    })
    // Nothing was changed by any of them.
    expect(await row(ids.pending ?? '')).toMatchObject({ publishedAt: null, deadAt: null })
  })
})

describe('with a relay running', () => {
  let kafka: MockKafka
  let relay: RelayService
  beforeAll(async () => {
    kafka = startTestKafka('ops.events')
    // Polling only once a minute: an event published within seconds was woken by a NOTIFY.
    relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic: 'ops.events',
      RELAY_POLL_INTERVAL_MS: '60000',
    })
    await waitFor('the relay owns every partition', async () => {
      const { stdout } = await cli('status', '--json')
      return JSON.parse(stdout).ownedPartitions === 64
    })
  })
  afterAll(async () => {
    await relay.stop()
    kafka.close()
  })

  it('status names the owner: pid, application, address, 64 partitions', async () => {
    const [session] = await db.sql<{ pid: number }[]>`
      select pid from pg_stat_activity
       where datname = current_database() and application_name = 'outbox-relay'`
    const status = JSON.parse((await cli('status', '--json')).stdout)
    expect(status.liveRelays).toBe(1)
    expect(status.owners).toHaveLength(1)
    expect(status.owners[0]).toMatchObject({
      pid: session?.pid,
      applicationName: 'outbox-relay',
      clientAddress: '127.0.0.1',
      member: true,
      partitions: Array.from({ length: 64 }, (_, p) => p),
    })
    const table = (await cli('status')).stdout
    expect(table).toContain('relays: 1 live, 64 of 64 partitions owned')
    expect(table).toMatch(
      new RegExp(`^${session?.pid}\\s+outbox-relay\\s+127\\.0\\.0\\.1\\s+64\\s`, 'm'),
    )
  })

  it('retry <id>: requeued and published at once (its NOTIFY wakes the relay)', async () => {
    const retried = await insertEvent('dead', { error: 'was down' })
    // Listening from after that insert's commit: what is heard comes from the CLI.
    const rings: string[] = []
    const listening = await db.sql.listen(OUTBOX_CHANNEL, (payload) => rings.push(payload))
    try {
      const { code, stdout } = await cli('retry', retried)
      expect({ code, stdout }).toEqual({ code: 0, stdout: 'requeued 1 event(s)\n' })
      await waitFor('the retry rang', () => rings.length > 0, 5000)
    } finally {
      await listening.unlisten()
    }
    await waitFor(
      'the retried event published',
      async () => (await row(retried))?.publishedAt,
      5000,
    )
    expect(await row(retried)).toMatchObject({ deadAt: null, attempts: 0, lastError: 'was down' })
    expect(await cli('retry', retried)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/was published at/),
    })
  })

  it('retry --all: every dead event requeued and published', async () => {
    for (let i = 0; i < 3; i++) await insertEvent('dead')
    const [{ n: dead } = { n: 0 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from outbox_unpublished where dead_at is not null`
    expect(dead).toBeGreaterThanOrEqual(3)
    const { code, stdout } = await cli('retry', '--all')
    expect({ code, stdout }).toEqual({ code: 0, stdout: `requeued ${dead} event(s)\n` })
    await waitFor(
      'all published',
      async () => {
        const [r] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from outbox_unpublished`
        return r?.n === 0
      },
      5000,
    )
    expect(await cli('dead')).toMatchObject({ code: 0, stdout: 'no dead-lettered events\n' })
    expect(await cli('retry', '--all')).toMatchObject({ code: 0, stdout: 'requeued 0 event(s)\n' })
  })

  it('discard: never published, and the later events of its order are released', async () => {
    const order = randomUUID()
    const dead = await insertEvent('dead', { order, error: 'poison' })
    const later = await insertEvent('pending', { order })
    // An event of another order, written after `later`: the drain that publishes it has seen
    // `later` too, and held it.
    const probe = await insertEvent('pending')
    await waitFor('the probe published', async () => {
      const [left] = await db.sql`select 1 from outbox_unpublished where event_id = ${probe}`
      return !left
    })
    expect((await row(later))?.publishedAt).toBeNull()

    const { code, stdout } = await cli('discard', dead)
    expect(code).toBe(0)
    expect(stdout).toMatch(/^discarded event .+ it will not be published/)
    expect((await row(dead))?.lastError).toMatch(/^discarded by operator at .+; was: poison$/)
    await waitFor('the held event published', async () => (await row(later))?.publishedAt, 5000)
    const status = JSON.parse((await cli('status', '--json')).stdout)
    expect(status).toMatchObject({ pending: 0, dead: 0 })
    expect(await cli('discard', dead)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/was discarded at/),
    })
  })
})
