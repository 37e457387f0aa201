/**
 * The `horizon` scenario: orders at a steady rate through the API (default 1,000/s) for a long
 * time (BENCH_HORIZON_SECONDS, default 600) while another session holds one snapshot open from
 * before the first order to after the last, as a long report or pg_dump does: vacuum can remove
 * nothing written meanwhile. Reported per window (BENCH_HORIZON_WINDOW_SECONDS, default 60),
 * by when the order was sent: the event latency (commit to consumer) and the dead row versions
 * of the outbox and of the relay's position row, and the relay's claims (their mean time and
 * buffers, from pg_stat_statements when the server loads it). Flat from the first window to the
 * last is the target: what the relay leaves behind must not lie in its own path.
 */
import postgres from 'postgres'
import { openLoop, postOrder } from './load'
import { startPhase } from './stack'
import { fmt, type Summary, summarize } from './stats'
import type { BenchBroker } from './targets'

type Window = {
  from: number
  event: Summary
  failed: number
  deadOutbox: number
  deadPosition: number
  /** The window's claims: how many, mean ms and buffers each; undefined without pg_stat_statements. */
  claims?: ClaimStats
}

type ClaimStats = { calls: number; ms: number; buffers: number }

/** The claim's statement, as pg_stat_statements normalises it (src/outbox/queries.ts). */
async function claimTotals(sql: postgres.Sql): Promise<ClaimStats | undefined> {
  try {
    const [row] = await sql<ClaimStats[]>`
      select coalesce(sum(calls), 0)::float8 as calls,
             coalesce(sum(total_exec_time), 0)::float8 as ms,
             coalesce(sum(shared_blks_hit + shared_blks_read), 0)::float8 as buffers
        from pg_stat_statements
       where dbid = (select oid from pg_database where datname = current_database())
         and query like '%with w as materialized%'`
    return row
  } catch {
    return undefined // not loaded on this server
  }
}

function perClaim(before?: ClaimStats, after?: ClaimStats): ClaimStats | undefined {
  if (!before || !after) return undefined
  const calls = after.calls - before.calls
  return {
    calls,
    ms: calls > 0 ? (after.ms - before.ms) / calls : 0,
    buffers: calls > 0 ? (after.buffers - before.buffers) / calls : 0,
  }
}

export async function benchHorizon(o: {
  serverUrl: string
  template: string
  kafka: BenchBroker
  seconds: number
  windowSeconds: number
  rate: number
  log: (line: string) => void
}): Promise<{ windows: Window[]; lastOverFirstP99: number }> {
  const phase = await startPhase({
    name: 'horizon',
    serverUrl: o.serverUrl,
    template: o.template,
    kafka: o.kafka,
    relayEnv: { RELAY_WAKEUP: 'adaptive' },
  })
  const held = postgres(phase.dbUrl, { max: 1, onnotice: () => {} })
  const snapshot = await held.reserve()
  const windows: Window[] = []
  try {
    for (let i = 0; i < 200; i++) await postOrder(phase.apiUrl) // warm-up
    await snapshot`begin isolation level repeatable read`
    await snapshot`select count(*) from outbox`
    await phase.sql`create extension if not exists pg_stat_statements`.catch(() => {})
    let totals = await claimTotals(phase.sql)
    o.log(
      `\nhorizon: ${o.rate} orders/s for ${o.seconds} s with a snapshot held open the whole time`,
    )
    for (let from = 0; from < o.seconds; from += o.windowSeconds) {
      const sent = await openLoop(phase.apiUrl, o.rate, Math.min(o.windowSeconds, o.seconds - from))
      const [dead] = await phase.sql<{ outbox: number; position: number }[]>`
        select coalesce(sum(n_dead_tup) filter (where relname = 'outbox'), 0)::int as outbox,
               coalesce(sum(n_dead_tup) filter (where relname = 'outbox_position'), 0)::int
                 as position
          from pg_stat_user_tables`
      const now = await claimTotals(phase.sql)
      const claims = perClaim(totals, now)
      totals = now
      windows.push({
        claims,
        from,
        event: await latencies(phase.arrivals, sent.placed),
        failed: sent.failed,
        deadOutbox: dead?.outbox ?? 0,
        deadPosition: dead?.position ?? 0,
      })
      const w = windows.at(-1) as Window
      o.log(
        `horizon ${String(from).padStart(4)}-${from + o.windowSeconds} s  event p50 ${fmt(w.event.p50)} p99 ${fmt(w.event.p99)} max ${fmt(w.event.max)} ms (${w.event.n} events, ${w.failed} failed) | dead versions: outbox ${w.deadOutbox}, position row ${w.deadPosition}${w.claims ? ` | claims ${w.claims.calls}, ${fmt(w.claims.ms)} ms and ${w.claims.buffers.toFixed(0)} buffers each` : ''}`,
      )
    }
  } finally {
    await snapshot`rollback`.catch(() => {})
    snapshot.release()
    await held.end()
    await phase.stop()
  }
  const first = windows[0]?.event.p99 ?? Number.NaN
  const last = windows.at(-1)?.event.p99 ?? Number.NaN
  o.log(`horizon last window's p99 / first window's: ${(last / first).toFixed(2)}`)
  return { windows, lastOverFirstP99: last / first }
}

/** Event latency of the orders placed (response to arrival), waiting up to 15 s for stragglers. */
async function latencies(
  arrivals: Map<string, number>,
  placed: { id: string; respondedAt: number }[],
): Promise<Summary> {
  const deadline = performance.now() + 15_000
  while (placed.some((p) => !arrivals.has(p.id)) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
  }
  return summarize(
    placed.filter((p) => arrivals.has(p.id)).map((p) => (arrivals.get(p.id) ?? 0) - p.respondedAt),
  )
}
