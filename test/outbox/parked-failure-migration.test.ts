/**
 * drizzle/0019 adds outbox_parked.failure to a populated table and fills it from the reasons the
 * relay wrote: what waits for its topic, and what was dead-lettered, are told by their text; the
 * others by whether an attempt was counted; events held back behind their aggregate stay NULL.
 */
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, beforeAll, expect, inject, it } from 'vitest'
import { createDb } from '../../src/db/client'
import { migrateDatabase } from '../../src/db/migrate'
import { migrationsUpTo } from '../helpers/previous-schema'

let previous: Awaited<ReturnType<typeof migrationsUpTo>>
beforeAll(async () => {
  previous = await migrationsUpTo(18)
})
afterAll(async () => {
  await previous.remove()
})

it('classifies the parked events of a populated outbox from their last_error', async () => {
  const serverUrl = inject('postgresUrl')
  const name = `upgrade19_${Math.random().toString(16).slice(2, 10)}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`)
  const db = createDb(url, { max: 1, applicationName: 'upgrade-test' })
  try {
    await migrate(db.db, { migrationsFolder: previous.folder })
    const reasons: [string, string | null, number][] = [
      ['waiting', 'MissingTopicError: MISSING_TOPIC: x.events does not exist', 0],
      ['dead', 'permanent: KafkaJSProtocolError(MESSAGE_TOO_LARGE): too large', 1],
      ['discarded-waiting', 'discarded by operator at 2026-01-01; was: MissingTopicError: x', 0],
      ['deferred', 'KafkaJSProtocolError(LEADER_NOT_AVAILABLE): leader moved', 2],
      ['unreachable', 'KafkaJSConnectionError: Connection refused', 0],
      ['held', 'held behind an earlier event of its aggregate', 0],
      ['held-by-claim', null, 0],
    ]
    for (const [id, lastError, attempts] of reasons) {
      await db.sql`
        with o as (
          insert into outbox (aggregate_type, aggregate_id, event_type, payload)
          values ('orders', ${id}, 'OrderNoted', '{}') returning *)
        insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id,
                                   attempts, last_error)
        select id, partition, aggregate_type, aggregate_id, event_id, ${attempts}, ${lastError}
          from o`
    }

    await migrateDatabase(url)

    const rows = await db.sql<{ id: string; failure: string | null }[]>`
      select aggregate_id as id, failure from outbox_unpublished order by id`
    expect(Object.fromEntries(rows.map((r) => [r.id, r.failure]))).toEqual({
      waiting: 'missing-topic',
      dead: 'permanent',
      'discarded-waiting': 'missing-topic',
      deferred: 'retriable',
      unreachable: 'unavailable',
      held: null,
      'held-by-claim': null,
    })
    await expect(
      db.sql`update outbox_parked set failure = 'no such class' where aggregate_id = 'held'`,
    ).rejects.toMatchObject({ code: '23514' }) // check_violation
  } finally {
    await db.sql.end({ timeout: 1 })
  }
})
