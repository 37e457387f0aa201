/**
 * `poll` means no trigger work at all: db:migrate with RELAY_WAKEUP=poll disables the doorbell
 * trigger (src/db/doorbell-trigger.ts), any other mode enables it, and a relay refuses to start
 * in a mode that needs rings the database will not make.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { doorbellTrigger, triggerMismatch } from '../../src/db/doorbell-trigger'
import { migrateDatabase } from '../../src/db/migrate'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { waitFor } from '../helpers/wait'

let db: TestDatabase
let kafka: MockKafka
beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events')
})
afterAll(async () => {
  kafka.close()
  await db.close()
})

/**
 * Inserts one event with no relay running, and counts the notifications it caused: those that
 * came before a marker NOTIFY sent after the insert's commit (Postgres delivers a session's
 * notifications in commit order).
 */
async function ringsOfOneInsert(): Promise<number> {
  let rings = 0
  let marked = false
  const listening = await db.sql.listen('outbox_events', (payload) => {
    if (payload === 'marker') marked = true
    else if (!marked) rings++
  })
  await db.sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    values (gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}'::jsonb, now())`
  await db.sql`select pg_notify('outbox_events', 'marker')`
  await waitFor('the marker', () => marked)
  await listening.unlisten()
  return rings
}

const relayIn = (mode: string) =>
  startTestRelay({
    databaseUrl: db.url,
    brokers: kafka.bootstrap,
    topic: 'orders.events',
    RELAY_WAKEUP: mode,
  })

describe('the doorbell trigger follows RELAY_WAKEUP', () => {
  it('is enabled after a migration for adaptive, and an insert rings', async () => {
    expect(await migrateDatabase(db.url, {}, 'adaptive')).toEqual({ loginsEnabled: [] })
    expect(await doorbellTrigger(db.sql)).toBe('enabled')
    expect(await ringsOfOneInsert()).toBe(1)
  })

  it('is disabled by a migration for poll: an insert runs no trigger and rings nobody', async () => {
    expect(await migrateDatabase(db.url, {}, 'poll')).toEqual({
      loginsEnabled: [],
      trigger: 'disabled',
    })
    expect(await doorbellTrigger(db.sql)).toBe('disabled')
    expect(await ringsOfOneInsert()).toBe(0)
    // Migrating again in the same mode changes nothing (no table lock taken).
    expect(await migrateDatabase(db.url, {}, 'poll')).toEqual({ loginsEnabled: [] })
  })

  it('refuses an adaptive or notify relay over the disabled trigger, saying what to run', async () => {
    for (const mode of ['adaptive', 'notify']) {
      await expect(relayIn(mode)).rejects.toThrow(
        `RELAY_WAKEUP=${mode} needs the outbox trigger, which is disabled`,
      )
    }
    const relay = await relayIn('poll')
    await relay.stop()
  })

  it('is enabled again by a migration for notify, and inserts ring again', async () => {
    expect(await migrateDatabase(db.url, {}, 'notify')).toEqual({
      loginsEnabled: [],
      trigger: 'enabled',
    })
    expect(await ringsOfOneInsert()).toBe(1)
    const relay = await relayIn('adaptive')
    await relay.stop()
  })
})

describe('the relay check at start', () => {
  it('takes a dropped trigger as fine for poll and fatal for the modes that ring', () => {
    expect(triggerMismatch('poll', 'missing')).toBeUndefined()
    expect(triggerMismatch('poll', 'disabled')).toBeUndefined()
    expect(triggerMismatch('poll', 'enabled')).toMatchObject({ fatal: false })
    expect(triggerMismatch('adaptive', 'enabled')).toBeUndefined()
    expect(triggerMismatch('notify', 'missing')).toMatchObject({
      fatal: true,
      message: expect.stringContaining('which is missing'),
    })
  })
})

describe('migrating without RELAY_WAKEUP, or over a trigger dropped by hand', () => {
  it('leaves the trigger as it is without a mode; poll accepts it dropped, the others say so', async () => {
    await migrateDatabase(db.url, {}, 'poll')
    // A migration run by hand, RELAY_WAKEUP not set: its default must not undo the poll setup.
    expect(await migrateDatabase(db.url)).toEqual({ loginsEnabled: [] })
    expect(await doorbellTrigger(db.sql)).toBe('disabled')
    await db.sql`drop trigger outbox_notify on outbox`
    expect(await migrateDatabase(db.url, {}, 'poll')).toEqual({ loginsEnabled: [] })
    await expect(migrateDatabase(db.url, {}, 'adaptive')).rejects.toThrow(
      'RELAY_WAKEUP=adaptive needs the outbox_notify trigger, which is missing',
    )
  })
})
