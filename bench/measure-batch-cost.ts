/**
 * What one batch costs the relay's process: `npx tsx bench/measure-batch-cost.ts [events]`
 * (default 20,000). For each RELAY_BATCH_SIZE of 10, 30, 100 and 1,000, a fresh stack (embedded
 * Postgres, the in-process broker, an adaptive relay already started and asleep) gets `events`
 * order-sized events in one insert; the relay's process CPU is read from just before the insert
 * until the stored positions pass them, so start-up is left out. CPU per event = a per-event part + a
 * per-batch part / batch size: the rows give both (docs/benchmarks.md reports them).
 */

import { migrateDatabase } from '../src/db/migrate'
import { positionsPassed } from '../test/helpers/ledger'
import { processCpuSeconds } from './cpu'
import { startPhase } from './stack'
import { benchBroker, benchServer, createBenchDatabase } from './targets'

const events = Number(process.argv[2] ?? 20_000)
const server = await benchServer(undefined)
const kafka = await benchBroker(undefined)
try {
  const template = `batch_cost_${Date.now()}`
  await migrateDatabase(await createBenchDatabase(server.url, template))
  const rows: { size: number; microsPerEvent: number }[] = []
  for (const size of [10, 30, 100, 1000]) {
    const phase = await startPhase({
      name: `batch-cost-${size}`,
      serverUrl: server.url,
      template,
      kafka,
      relayEnv: { RELAY_WAKEUP: 'adaptive', RELAY_BATCH_SIZE: String(size) },
      consume: false,
    })
    try {
      const pid = phase.relay.child.pid
      const cpu0 = processCpuSeconds(pid)
      const started = performance.now()
      const [row] = await phase.sql.begin(async (tx) => {
        await tx`
          insert into outbox (event_type, aggregate_id, payload)
          select 'BenchEvent', gen_random_uuid()::text,
                 jsonb_build_object('id', gen_random_uuid(), 'item', 'bench', 'quantity', 1,
                                    'status', 'pending', 'version', 1)
            from generate_series(1, ${events})`
        return tx<{ xid: string }[]>`select pg_current_xact_id()::text as xid`
      })
      // Done once the stored positions pass the insert: counting what is unpublished instead
      // reads the whole backlog each look (0.17 s at 50,000) and takes the relay's CPU.
      while (!(await positionsPassed(phase.sql, row?.xid ?? '0')).done) {
        await new Promise((r) => setTimeout(r, 20))
      }
      const microsPerEvent = (1e6 * (processCpuSeconds(pid) - cpu0)) / events
      const perSecond = events / ((performance.now() - started) / 1000)
      rows.push({ size, microsPerEvent })
      process.stdout.write(
        `batch ${String(size).padStart(5)}: relay process ${microsPerEvent.toFixed(1)} µs per event, ${perSecond.toFixed(0)} events/s\n`,
      )
    } finally {
      await phase.stop()
    }
  }
  // Two unknowns from the smallest and the largest batch: per event, and per batch.
  const small = rows[0] as (typeof rows)[number]
  const large = rows[rows.length - 1] as (typeof rows)[number]
  const perBatch = (small.microsPerEvent - large.microsPerEvent) / (1 / small.size - 1 / large.size)
  const perEvent = large.microsPerEvent - perBatch / large.size
  process.stdout.write(
    `fit: ${perEvent.toFixed(0)} µs per event + ${(perBatch / 1000).toFixed(2)} ms per batch\n`,
  )
} finally {
  await kafka.close()
  await server.close()
}
