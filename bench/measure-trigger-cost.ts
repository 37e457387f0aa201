/**
 * What the doorbell trigger costs one insert, in Postgres CPU: `npx tsx
 * bench/measure-trigger-cost.ts [inserts]` (default 10,000). One embedded Postgres, the
 * project's migrations; a session holds every partition's awake lock, as an awake relay does.
 * Then one backend inserts events one transaction each (a loop in a DO block, so no client
 * round trip is counted), once per variant of the trigger, eight rounds in turn, and its CPU
 * per insert is read from /proc; the least of the rounds is reported. Variants: no trigger; the trigger as migrated (trace lock, then
 * the awake probe); the awake probe alone (the clause before drizzle/0012); a clause that is
 * always false (what an AFTER ROW trigger costs with no lock call); one lock call that succeeds
 * (what a one-lock protocol would cost while the relay is awake).
 */
import postgres from 'postgres'
import { migrateDatabase } from '../src/db/migrate'
import { LOCK } from '../src/outbox/locks'
import { processCpuSeconds } from './cpu'
import { benchServer, createBenchDatabase } from './targets'

const inserts = Number(process.argv[2] ?? 10_000)
const FREE_LOCK = 780_099 // taken by nobody: a shared try always succeeds

const variants: Record<string, string | undefined> = {
  'no trigger': undefined,
  'as migrated': `CASE WHEN pg_try_advisory_xact_lock_shared(${LOCK.trace}, NEW.partition)
                  THEN pg_try_advisory_xact_lock_shared(${LOCK.awake}, NEW.partition)
                  ELSE true END`,
  'awake probe only': `pg_try_advisory_xact_lock_shared(${LOCK.awake}, NEW.partition)`,
  'always false': 'NEW.partition < 0',
  'one lock call': `NOT pg_try_advisory_xact_lock_shared(${FREE_LOCK}, NEW.partition)`,
}

const server = await benchServer(undefined)
try {
  const url = await createBenchDatabase(server.url, `trigger_cost_${Date.now()}`)
  await migrateDatabase(url)
  const relay = postgres(url, { max: 1, onnotice: () => {} })
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await relay`select pg_advisory_lock(${LOCK.awake}, p) from generate_series(0, 63) p`
    const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`
    const pid = backend?.pid
    const perInsert: Record<string, number[]> = {}
    for (let round = 0; round < 8; round++) {
      for (const [name, when] of Object.entries(variants)) {
        await sql`drop trigger if exists outbox_notify on outbox`
        if (when) {
          await sql.unsafe(`create trigger outbox_notify after insert on outbox for each row
                            when (${when}) execute function outbox_notify()`)
        }
        await sql`truncate outbox`
        const before = processCpuSeconds(pid)
        await sql.unsafe(`do $$ begin for i in 1..${inserts} loop
            insert into outbox (event_type, aggregate_id, payload) values ('X', i::text, '{}');
            commit;
          end loop; end $$`)
        const rounds = perInsert[name] ?? []
        rounds.push((1e6 * (processCpuSeconds(pid) - before)) / inserts)
        perInsert[name] = rounds
      }
    }
    // The least of the rounds: a neighbour's load only ever adds to the same work's CPU time.
    for (const [name, values] of Object.entries(perInsert)) {
      process.stdout.write(
        `${name.padEnd(17)} least ${Math.min(...values).toFixed(1)} µs per insert (rounds: ${values.map((v) => v.toFixed(0)).join(' ')})\n`,
      )
    }
  } finally {
    await sql.end()
    await relay.end()
  }
} finally {
  await server.close()
}
