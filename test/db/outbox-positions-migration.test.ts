/**
 * drizzle/0016 upgrades an outbox in use to positions and parked events: published rows stay
 * published, and every unpublished one (deferred ones included) is delivered after it in order
 * per aggregate, before its aggregate's newer events; dead and discarded ones stay so, and a
 * dead one still holds its aggregate back. A writer whose transaction began before the
 * migration and writes its event after it is not skipped.
 */
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client'
import { migrateDatabase } from '../../src/db/migrate'
import { readOutboxStats } from '../../src/outbox/stats'
import type { RelayService } from '../../src/relay/start-relay'
import { collectMessages, messagesOnBroker, startTestKafka } from '../helpers/kafka'
import { migrationsUpTo } from '../helpers/previous-schema'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

let previous: Awaited<ReturnType<typeof migrationsUpTo>>
beforeAll(async () => {
  previous = await migrationsUpTo(13)
})
afterAll(async () => {
  await previous.remove()
})

async function previousSchemaDatabase() {
  const serverUrl = inject('postgresUrl')
  const name = `upgrade16_${Math.random().toString(16).slice(2, 10)}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
  const handle = createDb(url, { max: 3, applicationName: 'upgrade-test' })
  await migrate(handle.db, { migrationsFolder: previous.folder })
  return { ...handle, url }
}

it('delivers every unpublished event of a populated outbox after it, in order, and nothing published', async () => {
  const db = await previousSchemaDatabase()
  const kafka = startTestKafka('orders.events')
  const consumer = await collectMessages(kafka.bootstrap, 'orders.events')
  let relay: RelayService | undefined
  const late = await db.sql.reserve()
  try {
    // 300 aggregates with 3 events each; the first 100 published (one of them discarded).
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence, published_at)
      select 'orders', 'order-' || o, 'OrderNoted', jsonb_build_object('order', o, 'version', v),
             v, case when o <= 100 then now() end
        from generate_series(1, 300) o, generate_series(1, 3) v
       order by o, v`
    await db.sql`
      update outbox set dead_at = now(), last_error = 'permanent: discarded'
       where aggregate_id = 'order-50' and sequence = 3`
    // Dead: order-300's last event. Deferred (its retry time passed): order-250's first.
    await db.sql`
      update outbox set dead_at = now(), attempts = 1, last_error = 'permanent: test'
       where aggregate_id = 'order-300' and sequence = 3`
    await db.sql`
      update outbox set attempts = 2, last_error = 'leader moved',
                        next_attempt_at = now() - interval '1 minute'
       where aggregate_id = 'order-250' and sequence = 1`
    // A writer's transaction that began before the migration and writes its event after it.
    await late`begin`
    await late`select pg_current_xact_id()`

    await migrateDatabase(db.url)

    await late`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence)
      values ('orders', 'order-late', 'OrderNoted', '{"order": "late", "version": 1}', 1)`
    await late`commit`
    // A newer event of an aggregate whose older events are still waiting: it goes after them.
    await db.sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload, sequence)
      values ('orders', 'order-299', 'OrderNoted', '{"order": 299, "version": 4}', 4),
             ('orders', 'order-300', 'OrderNoted', '{"order": 300, "version": 4}', 4)`
    const stats = await readOutboxStats(db.sql)
    expect(stats).toMatchObject({ pending: 602, dead: 1 })

    relay = await startTestRelay({
      databaseUrl: db.url,
      brokers: kafka.bootstrap,
      topic: '{aggregate_type}.events',
    })
    // 200 aggregates x 3, less the dead one, plus order-299's fourth and the late one; order-300's
    // fourth waits behind its dead third.
    await waitFor('601 events', () => consumer.messages.length >= 601, 20_000)
    expect(await messagesOnBroker(kafka.bootstrap, 'orders.events')).toBe(601)
    expect(consumer.messages).toHaveLength(601)
    const versions = new Map<string, number[]>()
    for (const m of consumer.messages) {
      const v = m.value as { version: number }
      versions.set(m.key, [...(versions.get(m.key) ?? []), v.version])
    }
    expect(versions.size).toBe(201)
    expect(versions.get('order-late')).toEqual([1])
    expect(versions.get('order-299')).toEqual([1, 2, 3, 4])
    expect(versions.get('order-300')).toEqual([1, 2])
    expect(versions.get('order-250')).toEqual([1, 2, 3])
    for (const [key, seen] of versions) {
      if (!['order-late', 'order-299', 'order-300'].includes(key)) expect(seen).toEqual([1, 2, 3])
    }
    await waitFor('the positions stored', async () => (await readOutboxStats(db.sql)).pending === 1)
    expect(await readOutboxStats(db.sql)).toMatchObject({ pending: 1, dead: 1 })
  } finally {
    late.release()
    await relay?.stop()
    await consumer.stop()
    kafka.close()
    await db.sql.end({ timeout: 1 })
  }
})
