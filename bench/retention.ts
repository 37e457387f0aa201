/**
 * What retention costs the write path. One stack (its own database, the API, a relay), an outbox
 * holding a backlog of old published rows (published 30 days ago, as after enabling retention
 * on a full table), and closed-loop HTTP load in short alternating slices:
 *   off       retention stopped;
 *   deleting  retention deleting the backlog in batches (started at the slice's start).
 * Alternating slices on one stack, not one stack or one long window per variant: separate
 * processes and databases, and a machine shared with other work, differed from each other by
 * more than the effect measured (250 vs 432 orders/s for two "off" windows 30 s apart on
 * 2 cores); drift now hits both variants alike. Only slice pairs whose "deleting" slice had
 * rows to delete to its end are counted. Retention runs in this process on its own connection,
 * with the statements the relay runs; the relay's own retention is kept out of the way.
 * Also measured: the duration of a pass that finds nothing to delete (retention's idle cost).
 */

import { pino } from 'pino'
import postgres from 'postgres'
import { startRetention } from '../src/relay/retention'
import { closedLoop, type Placed, postOrder } from './load'
import { startPhase } from './stack'
import { fmt, type Summary, summarize } from './stats'
import type { BenchBroker } from './targets'

export type RetentionBenchOptions = {
  serverUrl: string
  template: string
  kafka: BenchBroker
  /** Load time per variant, split into `slices` alternating slices. */
  seconds: number
  slices?: number
  /** Old published rows in the outbox before the load starts. */
  backlog?: number
  writers?: number
  batchSize?: number
  intervalMs?: number
  log?: (line: string) => void
}

type Variant = { ordersPerSecond: number; http: Summary; seconds: number }

const DAY = 86_400_000

export async function benchRetention(o: RetentionBenchOptions) {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const backlog = o.backlog ?? 300_000
  const writers = o.writers ?? 32
  const batchSize = o.batchSize ?? 1000
  const intervalMs = o.intervalMs ?? 100
  const slices = o.slices ?? 5
  log(
    `\nretention: ${backlog.toLocaleString()} old published rows, batches of ${batchSize}, ` +
      `every ${intervalMs} ms; ${writers} HTTP writers, ${slices} x ${o.seconds / slices} s per variant`,
  )
  const phase = await startPhase({
    name: 'retention',
    serverUrl: o.serverUrl,
    template: o.template,
    kafka: o.kafka,
    // The relay runs retention itself: with a retention of 100 years its passes delete
    // nothing, and stay out of this measurement.
    relayEnv: { RELAY_WAKEUP: 'adaptive', OUTBOX_RETENTION: '36500d' },
    consume: false,
  })
  const retentionSql = postgres(phase.dbUrl, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'bench-retention' },
  })
  const retention = (maxAgeMs: number, onDeleted?: (n: number) => void) =>
    startRetention({
      sql: retentionSql,
      maxAgeMs,
      batchSize,
      intervalMs,
      logger: pino({ level: 'warn' }),
      onDeleted,
    })
  const slice = () => closedLoop(writers, o.seconds / slices, () => postOrder(phase.apiUrl))
  try {
    await insertBacklog(phase.sql, backlog)
    for (let i = 0; i < 200; i++) await postOrder(phase.apiUrl) // warm-up
    const emptyPassMs = await timeEmptyPass(retention(365 * DAY)) // 30 days old: nothing qualifies

    const off: Placed[][] = []
    const on: Placed[][] = []
    let deleted = 0
    let onSeconds = 0
    for (let i = 0; i < slices && deleted < backlog; i++) {
      off.push((await slice()).results)
      const started = performance.now()
      const deleting = retention(7 * DAY, (n) => {
        deleted += n
      })
      const firstPass = deleting.runOnce() // now, not one interval in
      const run = await slice()
      await deleting.stop()
      await firstPass // a failed pass fails the benchmark
      onSeconds += (performance.now() - started) / 1000
      if (deleted < backlog) on.push(run.results)
    }
    const deletedPerSecond = deleted / onSeconds
    const pairs = on.length
    const offResult = variant(off.slice(0, pairs))
    const onResult = variant(on)
    report(log, 'off', offResult)
    report(log, 'deleting', onResult)
    log(
      `retention deleted ${deleted.toLocaleString()} rows (~${deletedPerSecond.toFixed(0)}/s while on; ` +
        `${pairs} slice pair(s) counted); a pass with nothing to delete takes ${fmt(emptyPassMs)} ms`,
    )
    const ratios = {
      deletingOverOff: onResult.ordersPerSecond / offResult.ordersPerSecond,
      deletingP50OverOff: onResult.http.p50 / offResult.http.p50,
      deletingP99OverOff: onResult.http.p99 / offResult.http.p99,
    }
    log('retention ratios (same run, alternating slices):')
    for (const [k, v] of Object.entries(ratios)) log(`  ${k.padEnd(20)} ${v.toFixed(2)}`)
    const settings = { backlog, writers, batchSize, intervalMs, seconds: o.seconds, slices }
    return {
      ...settings,
      off: offResult,
      deleting: onResult,
      deleted,
      pairs,
      emptyPassMs,
      ratios,
    }
  } finally {
    await retentionSql.end({ timeout: 1 })
    await phase.stop()
  }
}

/** The backlog in the outbox's own format, in bulk (trigger off: these rows need no doorbell). */
async function insertBacklog(sql: postgres.Sql, rows: number): Promise<void> {
  // Without the triggers the rows get no `xid`: published long ago, as rows older than
  // drizzle/0016 are, so the running relay leaves them alone.
  await sql`alter table outbox disable trigger outbox_notify`
  await sql`alter table outbox disable trigger outbox_partition`
  await sql`
    insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
    select gen_random_uuid(), 'OrderCreated', gen_random_uuid(),
           jsonb_build_object('item', 'bench', 'quantity', 1, 'status', 'pending'),
           now() - interval '30 days'
      from generate_series(1, ${rows})`
  await sql`alter table outbox enable trigger outbox_partition`
  await sql`alter table outbox enable trigger outbox_notify`
  await sql`vacuum analyze outbox`
}

/** Median of three passes that find nothing to delete. */
async function timeEmptyPass(r: ReturnType<typeof startRetention>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    await r.runOnce()
    times.push(performance.now() - t)
  }
  await r.stop()
  return summarize(times).p50
}

/** Orders per second over the slices' own durations, and request latency. */
function variant(slices: Placed[][]): Variant {
  const seconds = slices.reduce((s, placed) => {
    if (placed.length === 0) return s
    const first = Math.min(...placed.map((p) => p.sentAt))
    return s + (Math.max(...placed.map((p) => p.respondedAt)) - first) / 1000
  }, 0)
  const all = slices.flat()
  const http = summarize(all.map((p) => p.respondedAt - p.sentAt))
  return { ordersPerSecond: all.length / seconds, http, seconds }
}

function report(log: (line: string) => void, name: string, r: Variant) {
  log(
    `retention ${name.padEnd(8)} ${r.ordersPerSecond.toFixed(0).padStart(6)} orders/s  http p50 ${fmt(r.http.p50)} p95 ${fmt(r.http.p95)} p99 ${fmt(r.http.p99)} max ${fmt(r.http.max)} ms  (${r.seconds.toFixed(1)} s)`,
  )
}
