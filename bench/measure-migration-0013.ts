/**
 * Measures drizzle/0013 on a populated outbox: `npx tsx bench/measure-migration-0013.ts [rows]`
 * (default 1,000,000; 1% unpublished, order-sized payloads). Starts its own embedded Postgres
 * with the project's defaults (fsync on), migrates to 0012, fills the outbox, then runs 0013's
 * statements in one transaction as db:migrate does, timing each, while a writer inserts a row
 * every 20 ms (the previous release's insert, without aggregate_type) and a watcher records the
 * locks the migration holds on the outbox. Prints the figures docs/outbox.md reports.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { createDb } from '../src/db/client'
import { migrationsFolder } from '../src/db/migrate'
import { createEmbeddedPostgres } from '../src/dev/embedded-postgres'
import { freePort } from '../src/dev/free-port'
import { migrationsUpTo } from '../test/helpers/previous-schema'

const rows = Number(process.argv[2] ?? 1_000_000)
const dataDir = await mkdtemp(join(tmpdir(), 'outbox-measure-'))
const pg = await createEmbeddedPostgres({ dataDir, port: await freePort() })
await pg.start()
const old = await migrationsUpTo(12)
try {
  const admin = postgres(pg.url(), { max: 1, onnotice: () => {} })
  await admin`create database measure`
  await admin.end()
  const url = pg.url('measure')
  const { db, sql } = createDb(url, { max: 1, applicationName: 'measure' })
  await migrate(db, { migrationsFolder: old.folder })
  const fillStarted = performance.now()
  for (let from = 0; from < rows; from += 100_000) {
    await sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, sequence, occurred_at, published_at)
      select gen_random_uuid(), 'OrderCreated', gen_random_uuid(),
             jsonb_build_object('id', gen_random_uuid(), 'item', 'item-' || i, 'quantity', 1 + i % 9,
                                'customerId', null, 'status', 'pending', 'version', 1,
                                'createdAt', now(), 'updatedAt', now(), 'cancellationReason', null),
             1, now(), case when i % 100 = 0 then null else now() end
        from generate_series(${from}::int, ${Math.min(from + 100_000, rows) - 1}::int) i`
  }
  await sql`vacuum analyze outbox`
  const [size] = await sql<{ size: string }[]>`
    select pg_size_pretty(pg_total_relation_size('outbox')) as size`
  console.log(`filled ${rows} rows (${size?.size}) in ${ms(fillStarted)} ms`)

  // The previous release's writer, during the migration: its longest insert is the block.
  const writer = postgres(url, { max: 1, onnotice: () => {} })
  let writing = true
  let longestInsert = 0
  const writes = (async () => {
    while (writing) {
      const t = performance.now()
      await writer`insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
                   values (gen_random_uuid(), 'OrderCreated', gen_random_uuid(), '{}', now())`
      longestInsert = Math.max(longestInsert, performance.now() - t)
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  const watcher = postgres(url, { max: 1, onnotice: () => {} })
  const modes = new Set<string>()
  let watching = true
  const watch = (async () => {
    while (watching) {
      const held = await watcher<{ mode: string }[]>`
        select l.mode from pg_locks l join pg_stat_activity a on a.pid = l.pid
         where l.relation = 'outbox'::regclass and l.granted and a.application_name = 'measure'`
      for (const h of held) modes.add(h.mode)
      await new Promise((r) => setTimeout(r, 50))
    }
  })()

  const text = await readFile(join(migrationsFolder, '0013_outbox_contract.sql'), 'utf8')
  const statements = text.split('--> statement-breakpoint').map((s) => s.trim())
  const started = performance.now()
  const timings: string[] = []
  await sql.begin(async (tx) => {
    for (const statement of statements) {
      const t = performance.now()
      await tx.unsafe(statement)
      const first = statement.split('\n').find((l) => l.trim() && !l.startsWith('--')) ?? ''
      timings.push(`  ${String(ms(t)).padStart(6)} ms  ${first.slice(0, 70)}`)
    }
  })
  const total = ms(started)
  writing = false
  watching = false
  await Promise.all([writes, watch])
  const [after] = await sql<{ n: number; unpublished: number }[]>`
    select count(*)::int as n, (count(*) filter (where published_at is null))::int as unpublished
      from outbox where aggregate_type = 'orders'`
  console.log(`0013 on ${rows} rows: ${total} ms in one transaction`)
  console.log(timings.join('\n'))
  console.log(`locks held on outbox: ${[...modes].join(', ')}`)
  console.log(`longest insert of a concurrent writer: ${Math.round(longestInsert)} ms`)
  console.log(`after: ${after?.n} rows of type orders, ${after?.unpublished} unpublished`)
  await Promise.all([writer.end(), watcher.end(), sql.end()])
} finally {
  await old.remove()
  await pg.stop()
  await rm(dataDir, { recursive: true, force: true })
}

function ms(since: number): number {
  return Math.round(performance.now() - since)
}
