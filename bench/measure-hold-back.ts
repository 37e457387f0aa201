/**
 * What a claim pays behind events held back by a dead letter:
 * `npx tsx bench/measure-hold-back.ts [held]` (default 100,000). One aggregate's first event is
 * dead-lettered and `held` more of it are written; the relay's drain (src/relay/drain.ts, a
 * recording publish, no broker) parks them. Then, five times, 10 events of other aggregates are
 * written and drained: the time of each drain (a claim, the publish, an empty claim), and the
 * outbox_parked blocks (heap and index, read or hit) one such drain touches. Last, the dead
 * letter is requeued and everything drained: how long until all of it is out. Run it on two
 * checkouts to compare (docs/benchmarks.md).
 */
import postgres from 'postgres'
import { migrateDatabase } from '../src/db/migrate'
import { requeueDead } from '../src/outbox/admin'
import { drain } from '../src/relay/drain'
import { RelaySession } from '../src/relay/session'
import { benchServer, createBenchDatabase } from './targets'

const held = Number(process.argv[2] ?? 100_000)
const server = await benchServer(undefined)
const url = await createBenchDatabase(server.url, `hold_back_${Date.now()}`)
await migrateDatabase(url)
const sql = postgres(url, { max: 1, onnotice: () => {} })
const session = new RelaySession(url, 'measure-hold-back')
const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  reclaimAfterShort: false,
  topicTemplate: '{aggregate_type}.events',
}
const insert = (n: number, aggregate?: string) => sql`
  insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  select gen_random_uuid(), 'OrderCreated', coalesce(${aggregate ?? null}, gen_random_uuid()::text),
         '{}', now()
    from generate_series(1, ${n})`
const run = () => drain(session, 1000, async () => {}, policy)

/** outbox_parked blocks touched so far, as the relay's backend reported them. */
async function parkedBlocks(): Promise<number> {
  await session.sql`select pg_stat_force_next_flush()`
  await session.sql`select 1` // the flush happens when the backend goes idle after a statement
  await sql`select pg_stat_clear_snapshot()`
  const [row] = await sql<{ b: string }[]>`
    select heap_blks_read + heap_blks_hit + idx_blks_read + idx_blks_hit as b
      from pg_statio_user_tables where relname = 'outbox_parked'`
  return Number(row?.b ?? 0)
}

try {
  await session.rebalance()
  await insert(1, 'poisoned')
  await sql`
    insert into outbox_parked (id, partition, aggregate_type, aggregate_id, event_id, attempts,
                               failure, last_error, dead_at)
    select id, partition, aggregate_type, aggregate_id, event_id, 1, 'permanent', 'bench', now()
      from outbox where aggregate_id = 'poisoned'`
  await insert(held, 'poisoned')
  const parkedFrom = performance.now()
  await run()
  const parkMs = performance.now() - parkedFrom
  await sql`vacuum analyze outbox_parked`
  const times: string[] = []
  let blocks = 0
  for (let i = 0; i < 5; i++) {
    await insert(10)
    const before = await parkedBlocks()
    const from = performance.now()
    await run()
    times.push((performance.now() - from).toFixed(1))
    blocks = (await parkedBlocks()) - before
  }
  // The dead letter requeued: it goes out, then everything it held, in batches of 1,000.
  await requeueDead(sql, 'all')
  const releasedFrom = performance.now()
  let out = 0
  while (out < held + 1) {
    const result = await drain(session, 1000, async () => {}, policy)
    if (result.published === 0) throw new Error(`drained ${out} of ${held + 1}, then nothing`)
    out += result.published
  }
  const releaseMs = performance.now() - releasedFrom
  console.log(
    `${held.toLocaleString()} held back: parked in ${parkMs.toFixed(0)} ms; a drain of 10 other events ${times.join(', ')} ms; outbox_parked blocks per drain ${blocks}; requeued, all out in ${releaseMs.toFixed(0)} ms`,
  )
} finally {
  await session.close()
  await sql.end()
  await server.close()
}
