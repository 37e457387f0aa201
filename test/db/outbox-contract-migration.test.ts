/**
 * drizzle/0013 upgrades an outbox that is in use: the rows of the previous schema (uuid ids, no
 * aggregate type) become aggregate type `orders`, and the ones still unpublished are delivered
 * after it, in order, while published and dead ones stay as they were. Its columns are checked
 * at 0013 itself; delivery after every later migration (drizzle/0016 moved the publication
 * state out of the row: test/db/outbox-positions-migration.test.ts).
 */
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client'
import { doorbellTrigger } from '../../src/db/doorbell-trigger'
import { migrateDatabase } from '../../src/db/migrate'
import type { MockKafka } from '../../src/dev/mock-kafka'
import type { RelayService } from '../../src/relay/start-relay'
import { type Collector, collectMessages, startTestKafka } from '../helpers/kafka'
import { migrationsUpTo } from '../helpers/previous-schema'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

const BEFORE = 12 // the last migration of the previous schema (0012_skip_trace)

let oldMigrations: Awaited<ReturnType<typeof migrationsUpTo>>
let upTo0013: Awaited<ReturnType<typeof migrationsUpTo>>
beforeAll(async () => {
  oldMigrations = await migrationsUpTo(BEFORE)
  upTo0013 = await migrationsUpTo(13)
})
afterAll(async () => {
  await oldMigrations.remove()
  await upTo0013.remove()
})

/** A new database at the previous schema. */
async function previousSchemaDatabase() {
  const serverUrl = inject('postgresUrl')
  const name = `upgrade_${Math.random().toString(16).slice(2, 10)}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
  const handle = createDb(url, { max: 2, applicationName: 'upgrade-test' })
  await migrate(handle.db, { migrationsFolder: oldMigrations.folder })
  return { ...handle, url }
}

/** Applies the migrations up to and including 0013. */
async function migrateTo0013(url: string) {
  const handle = createDb(url, { max: 1, applicationName: 'upgrade-test' })
  try {
    await migrate(handle.db, { migrationsFolder: upTo0013.folder })
  } finally {
    await handle.sql.end()
  }
}

describe('drizzle/0013 on a populated outbox', () => {
  let kafka: MockKafka
  let consumer: Collector
  let relay: RelayService | undefined
  beforeAll(async () => {
    kafka = startTestKafka('orders.events')
    consumer = await collectMessages(kafka.bootstrap, 'orders.events')
  })
  afterAll(async () => {
    await relay?.stop()
    await consumer.stop()
    kafka.close()
  })

  it('keeps every row, makes them orders, and the unpublished ones are delivered after it', async () => {
    const db = await previousSchemaDatabase()
    try {
      // 300 orders with 3 events each, the first 100 orders already published, one dead event.
      await db.sql`
        insert into outbox (event_id, event_type, aggregate_id, payload, sequence, occurred_at,
                            published_at)
        select gen_random_uuid(), 'OrderNoted', ('00000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid,
               jsonb_build_object('order', o, 'version', v), v, now(),
               case when o <= 100 then now() end
          from generate_series(1, 300) o, generate_series(1, 3) v
         order by o, v`
      await db.sql`
        update outbox set dead_at = now(), last_error = 'permanent: test'
         where id = (select max(id) from outbox)`
      const before = await db.sql<{ id: string; event_id: string; published: boolean }[]>`
        select id, event_id, published_at is not null as published from outbox order by id`

      await migrateTo0013(db.url)

      const after = await db.sql<
        { id: string; event_id: string; published: boolean; aggregate_type: string; ok: boolean }[]
      >`
        select id, event_id, published_at is not null as published, aggregate_type,
               partition = (hashtextextended(aggregate_type || '/' || aggregate_id, 0) & 63) as ok
          from outbox order by id`
      expect(after.map(({ id, event_id, published }) => ({ id, event_id, published }))).toEqual(
        before,
      )
      expect(after.every((r) => r.aggregate_type === 'orders' && r.ok)).toBe(true)
      expect(await doorbellTrigger(db.sql)).toBe('enabled')
      // New rows get their partition from the trigger, whatever the writer says; marks leave it.
      await db.sql`
        insert into outbox (aggregate_type, aggregate_id, event_type, payload, partition)
        values ('shipment', 'SHP-1', 'X', '{}', 63), ('shipment', 'SHP-2', 'X', '{}', 0)`
      await db.sql`update outbox set published_at = now() where aggregate_type = 'shipment'`
      const [fresh] = await db.sql<{ ok: boolean }[]>`
        select bool_and(partition = (hashtextextended(aggregate_type || '/' || aggregate_id, 0) & 63)) as ok
          from outbox where aggregate_type = 'shipment'`
      expect(fresh?.ok).toBe(true)
      await db.sql`delete from outbox where aggregate_type = 'shipment'`
      await migrateDatabase(db.url)

      relay = await startTestRelay({
        databaseUrl: db.url,
        brokers: kafka.bootstrap,
        topic: '{aggregate_type}.events',
      })
      // 200 orders x 3 events, less the dead one (its order's other events went before it).
      await waitFor('599 events on orders.events', () => consumer.messages.length >= 599, 20_000)
      expect(consumer.messages).toHaveLength(599)
      const versions = new Map<string, number[]>()
      for (const m of consumer.messages) {
        const v = m.value as { version: number }
        versions.set(m.key, [...(versions.get(m.key) ?? []), v.version])
      }
      expect(versions.size).toBe(200)
      for (const seen of versions.values())
        expect([
          [1, 2, 3],
          [1, 2],
        ]).toContainEqual(seen)
      expect(consumer.messages.every((m) => m.headers.ce_sequence !== undefined)).toBe(true)
    } finally {
      await relay?.stop()
      relay = undefined
      await db.sql.end({ timeout: 1 })
    }
  })

  it('leaves a disabled doorbell trigger disabled (a poll deployment), and the same trigger', async () => {
    const db = await previousSchemaDatabase()
    try {
      const definition = async () =>
        (
          await db.sql<{ def: string }[]>`
          select pg_get_triggerdef(oid) as def from pg_trigger where tgname = 'outbox_notify'`
        )[0]?.def
      const old = await definition()
      await db.sql`alter table outbox disable trigger outbox_notify`
      await migrateTo0013(db.url)
      expect(await doorbellTrigger(db.sql)).toBe('disabled')
      expect(await definition()).toBe(old)
    } finally {
      await db.sql.end({ timeout: 1 })
    }
  })
})
