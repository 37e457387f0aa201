/**
 * What an idle claim costs: `npx tsx bench/measure-idle-claim.ts [claims]` (default 3,000).
 * A lingering relay claims about every 1.5 ms and mostly finds nothing, so this is most of what
 * it spends at a low rate. One relay session owning all 64 partitions, on an embedded Postgres,
 * drains a published outbox `claims` times in a row, three rounds: wall time per drain, the
 * process's CPU (`process.cpuUsage`, this process is the relay) and the session backend's
 * (/proc). Back to back, not spaced as the relay spaces them: a backend woken after a
 * millisecond asleep costs more (docs/benchmarks.md, "The claim's text, built once").
 */

import postgres from 'postgres'
import { migrateDatabase } from '../src/db/migrate'
import { drain } from '../src/relay/drain'
import { RelaySession } from '../src/relay/session'
import { processCpuSeconds } from './cpu'
import { benchServer, createBenchDatabase } from './targets'

const claims = Number(process.argv[2] ?? 3000)
const server = await benchServer(undefined)
const session = new RelaySession(
  await (async () => {
    const url = await createBenchDatabase(server.url, `idle_claim_${Date.now()}`)
    await migrateDatabase(url)
    const sql = postgres(url, { max: 1 })
    await sql`
      insert into outbox (aggregate_type, aggregate_id, event_type, payload)
      select 'order', g::text, 'OrderCreated', '{}' from generate_series(1, 2000) g`
    await sql.end()
    return url
  })(),
  'measure-idle-claim',
)
try {
  await session.rebalance()
  const policy = { topicTemplate: 'bench', maxAttempts: 5, backoff: { baseMs: 1, capMs: 10 } }
  const publish = async () => {}
  await drain(session, 1000, publish, policy) // the 2,000, then nothing
  for (let round = 1; round <= 3; round++) {
    const backend0 = processCpuSeconds(session.pid)
    const process0 = process.cpuUsage()
    const started = performance.now()
    for (let i = 0; i < claims; i++) await drain(session, 1000, publish, policy)
    const wall = performance.now() - started
    const p = process.cpuUsage(process0)
    const backend = processCpuSeconds(session.pid) - backend0
    const ms = (x: number) => (x / claims).toFixed(3)
    console.log(
      `round ${round}: per idle drain, wall ${ms(wall)} ms, relay process ${ms((p.user + p.system) / 1000)} ms, backend ${ms(backend * 1000)} ms`,
    )
  }
} finally {
  await session.close()
  await server.close()
}
