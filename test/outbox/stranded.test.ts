/**
 * What no relay can fix on its own, as `npm run outbox -- status` and the relay's gauges show it
 * (src/outbox/stranded.ts): rows written with the trigger off, and a prepared transaction that
 * holds a partition's trace lock.
 */
import postgres from 'postgres'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createRegistry, createRelayMetrics } from '../../src/observability/metrics'
import { formatStatus } from '../../src/ops/format'
import { LOCK } from '../../src/outbox/locks'
import { readOutboxStats } from '../../src/outbox/stats'
import { readStatus } from '../../src/outbox/status'
import { readStranded } from '../../src/outbox/stranded'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
/** A client as the CLI opens one (src/main/outbox.ts): timestamps parsed to Dates. */
let cli: postgres.Sql
beforeAll(async () => {
  db = await createTestDatabase()
  cli = postgres(db.url, { max: 1, onnotice: () => {} })
})
afterAll(async () => {
  await cli.end()
  await db.close()
})
beforeEach(() => db.sql`truncate outbox, outbox_parked`)

/** Inserts one event in its own transaction; with the trigger off as a restore would. */
async function insert(aggregateId: string, triggersOff = false): Promise<void> {
  await db.sql.begin(async (tx) => {
    if (triggersOff) await tx`set local session_replication_role = replica`
    await tx`insert into outbox (aggregate_type, aggregate_id, event_type, payload)
             values ('orders', ${aggregateId}, 'OrderNoted', '{}')`
  })
}

async function gauge(name: string): Promise<number> {
  const registry = createRegistry()
  createRelayMetrics(registry, {
    stats: () => readOutboxStats(db.sql),
    ownedPartitions: () => 0,
    stalledSeconds: async () => 0,
    longestWaitSeconds: () => 0,
    ready: async () => true,
  })
  const text = await registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  if (!line) throw new Error(`${name} not exposed:\n${text}`)
  return Number(line.split(' ')[1])
}

describe('rows written with the trigger off', () => {
  it('are counted once a row the relay reads precedes them, and leave the count when released', async () => {
    // Before any row with an xid: what a table upgraded by drizzle/0016 keeps, not counted.
    await insert('legacy', true)
    await insert('normal')
    await insert('restored-1', true)
    await insert('restored-2', true)
    expect((await readStranded(db.sql)).unclaimable).toBe(2)
    expect(await gauge('outbox_unclaimable_events')).toBe(2)
    expect(formatStatus(await readStatus(cli))).toContain(
      '2 event(s) no relay can claim: written with the outbox trigger off',
    )

    // The release docs/outbox.md gives.
    await db.sql`
      update outbox
         set partition = (hashtextextended(aggregate_type || '/' || aggregate_id, 0) & 63)::smallint,
             xid = pg_current_xact_id(), created_at = now()
       where aggregate_id like 'restored-%'`
    expect((await readStranded(db.sql)).unclaimable).toBe(0)
    expect(await gauge('outbox_unclaimable_events')).toBe(0)
    expect(formatStatus(await readStatus(cli))).not.toContain('no relay can claim')
  })
})

describe('a prepared transaction that wrote an event while its partition was awake', () => {
  it('is shown holding that partition until it is committed', async () => {
    const [row] = await db.sql<{ p: number }[]>`
      select (hashtextextended('orders/prepared-1', 0) & 63)::int as p`
    const partition = row?.p ?? -1
    // An awake relay: the writer skips its NOTIFY (which PREPARE would refuse) and keeps the
    // partition's trace lock instead.
    const relay = await db.sql.reserve()
    const writer = await db.sql.reserve()
    try {
      await relay`select pg_advisory_lock(${LOCK.awake}, ${partition})`
      await writer`begin`
      await writer`insert into outbox (aggregate_type, aggregate_id, event_type, payload)
                   values ('orders', 'prepared-1', 'OrderNoted', '{}')`
      await writer`prepare transaction 'stranded-test'`

      const stranded = await readStranded(cli)
      expect(stranded.preparedPartitions).toEqual([partition])
      expect(stranded.prepared.map((p) => p.gid)).toEqual(['stranded-test'])
      expect(await gauge('outbox_prepared_partitions')).toBe(1)
      expect(formatStatus(await readStatus(cli))).toMatch(
        new RegExp(`partition\\(s\\) ${partition} cannot go to sleep: .* stranded-test`),
      )

      await writer`commit prepared 'stranded-test'`
      expect(await readStranded(db.sql)).toEqual({
        unclaimable: 0,
        preparedPartitions: [],
        prepared: [],
      })
      expect(await gauge('outbox_prepared_partitions')).toBe(0)
    } finally {
      await writer`rollback prepared 'stranded-test'`.catch(() => {})
      relay.release()
      writer.release()
    }
  })
})
