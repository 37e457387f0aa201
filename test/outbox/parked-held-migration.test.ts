/**
 * drizzle/0022 adds outbox_parked.held to a populated table: events parked behind a dead or
 * deferred event of their aggregate are held (out of the claim's index) and go out, in order,
 * once it is; one whose blocker is already out stays claimable.
 */
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client'
import { migrateDatabase } from '../../src/db/migrate'
import { discardDead } from '../../src/outbox/admin'
import { drain } from '../../src/relay/drain'
import { RelaySession } from '../../src/relay/session'
import { migrationsUpTo } from '../helpers/previous-schema'

let previous: Awaited<ReturnType<typeof migrationsUpTo>>
beforeAll(async () => {
  previous = await migrationsUpTo(21)
})
afterAll(async () => {
  await previous.remove()
})

const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  reclaimAfterShort: false,
  topicTemplate: '{aggregate_type}.events',
}

it('holds what a dead or deferred event holds back, and releases it in order when that is out', async () => {
  const serverUrl = inject('postgresUrl')
  const name = `upgrade22_${Math.random().toString(16).slice(2, 10)}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
  const db = createDb(url, { max: 1, applicationName: 'upgrade-test' })
  const session = new RelaySession(url, 'upgrade-test-relay')
  try {
    await migrate(db.db, { migrationsFolder: previous.folder })
    // [event, state]: dead, deferred (retry in an hour), published, or held (parked, no failure).
    const parked: [string, 'dead' | 'deferred' | 'published' | 'held'][] = [
      ['a1', 'dead'],
      ['a2', 'held'],
      ['a3', 'held'],
      ['b1', 'published'],
      ['b2', 'held'],
      ['c1', 'deferred'],
      ['c2', 'held'],
    ]
    for (const [event, state] of parked) {
      await db.sql`
        with o as (
          insert into outbox (aggregate_type, aggregate_id, event_type, payload)
          values ('orders', ${event.slice(0, 1)}, 'OrderNoted',
                  jsonb_build_object('event', ${event}::text))
          returning *)
        insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id,
                                   attempts, failure, dead_at, next_attempt_at, published_at)
        select id, partition, aggregate_type, aggregate_id, event_id,
               case when ${state} = 'held' then 0 else 1 end,
               case when ${state} <> 'held' then 'permanent' end,
               case when ${state} = 'dead' then now() end,
               case when ${state} = 'deferred' then now() + interval '1 hour' end,
               case when ${state} = 'published' then now() end
          from o`
    }

    await migrateDatabase(url)

    const rows = await db.sql<{ event: string; held: boolean }[]>`
      select o.payload->>'event' as event, x.held
        from outbox_parked x join outbox o using (id) order by o.id`
    expect(Object.fromEntries(rows.map((r) => [r.event, r.held]))).toEqual({
      a1: false,
      a2: true,
      a3: true,
      b1: false,
      b2: false,
      c1: false,
      c2: true,
    })

    const published: string[] = []
    await session.rebalance()
    const run = () =>
      drain(
        session,
        100,
        async (batch) => {
          published.push(...batch.map((m) => String((m.payload as { event: string }).event)))
        },
        policy,
      )
    await run()
    expect(published).toEqual(['b2']) // its blocker was out already
    const [dead] = await db.sql<{ event_id: string }[]>`
      select x.event_id from outbox_parked x join outbox o using (id)
       where o.payload->>'event' = 'a1'`
    await discardDead(db.sql, String(dead?.event_id))
    await run()
    await run()
    expect(published.slice(1, 3)).toEqual(['a2', 'a3'])
  } finally {
    await session.close()
    await db.sql.end({ timeout: 1 })
  }
})
