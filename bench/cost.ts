/**
 * The `cost` scenario: what one event costs Postgres, counted exactly rather than timed. For each
 * design (cost-designs.ts), on a database of its own and with nothing else running:
 *  - the writers' insert: `events` single-row transactions of the outbox contract's insert
 *    (docs/outbox.md) from 32 connections, no relay running;
 *  - the relay's publish path: the relay's own drain (its session, claims and what it writes
 *    after an acknowledgement) with a broker that acknowledges at once, over that backlog;
 *  - per event, for each: WAL bytes (pg_current_wal_lsn() deltas; pg_stat_wal's full-page
 *    images beside them) and row versions (pg_stat_user_tables: inserted, updated, deleted);
 *  - the buffers one claim touches (pg_statio, heap and index blocks), on the fresh outbox and
 *    again after the backlog was published, with a snapshot held open by another session from
 *    before the first insert to after that claim: what a long report or pg_dump does to it;
 *  - then at a steady 100 and 1,000 events/s with the relay awake (claiming every millisecond
 *    when idle), the relay backend's own WAL (pg_stat_get_backend_wal) per event.
 * A checkpoint before the writers keeps full-page images out of both phases alike.
 */
import postgres from 'postgres'
import { type CostDesign, costDesigns } from './cost-designs'
import {
  buffersOf,
  readTables,
  readWal,
  type TableCounts,
  tablesBetween,
  walBetween,
} from './cost-measure'
import { type RetentionCost, retentionCost } from './cost-retention'

const WRITERS = 32
// BenchEvent: not in the event contract, so the relay's schema check leaves the stand-in payload be.
const insert = (sql: postgres.Sql, i: number) => sql`
  insert into outbox (aggregate_type, aggregate_id, event_type, payload)
  values ('orders', ${`order-${i % 5000}`}, 'BenchEvent',
          ${sql.json({ id: i, item: 'bench', quantity: 1, status: 'pending', version: 1 })})`

type PhaseCost = {
  walBytesPerEvent: number
  /** The relay's: its own backend's count (pg_stat_get_backend_wal), beside the server's. */
  ownWalBytesPerEvent?: number
  fpi: number
  rows: TableCounts
}

export type CostResult = {
  events: number
  writer: PhaseCost
  relay: PhaseCost
  claimBuffersFresh: number
  claimBuffersAfter: number
  vacuumWalBytes: number
  paced: Record<string, { events: number; relayWalBytesPerEvent: number; relayRows: TableCounts }>
  retention: RetentionCost
}

export async function benchCost(o: {
  serverUrl: string
  events: number
  seconds: number
  log: (line: string) => void
  designs?: string[]
}): Promise<Record<string, CostResult>> {
  const out: Record<string, CostResult> = {}
  for (const design of costDesigns(o.designs)) {
    out[design.name] = await measureDesign(design, o)
    report(design.name, out[design.name] as CostResult, o.log)
  }
  return out
}

async function measureDesign(
  design: CostDesign,
  o: { serverUrl: string; events: number; seconds: number },
): Promise<CostResult> {
  const url = await design.createDatabase(o.serverUrl)
  const reader = postgres(url, { max: 1, onnotice: () => {} })
  const relay = await design.relay(url)
  const held = postgres(url, { max: 1, onnotice: () => {} })
  try {
    // Another session's snapshot, open the whole time: vacuum can remove nothing newer.
    const snapshot = await held.reserve()
    await snapshot`begin isolation level repeatable read`
    await snapshot`select count(*) from outbox`
    await relay.claimOnce() // statements prepared, positions loaded
    const claimBuffersFresh = await buffersOf(relay.sql, reader, relay.claimOnce)
    await reader`checkpoint`
    const w0 = await readWal(reader)
    const t0 = await readTables(reader)
    const writers = postgres(url, { max: WRITERS, onnotice: () => {} })
    let next = 0
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (next < o.events) await insert(writers, next++)
      }),
    )
    await writers.end()
    await settleStats()
    const w1 = await readWal(reader)
    const t1 = await readTables(reader)
    const own0 = await backendWal(relay.sql)
    const published = await relay.drainAll()
    await relay.flushStats()
    const own1 = await backendWal(relay.sql)
    await settleStats()
    const w2 = await readWal(reader)
    const t2 = await readTables(reader)
    const claimBuffersAfter = await buffersOf(relay.sql, reader, relay.claimOnce)
    await snapshot`rollback`
    snapshot.release()
    const v0 = await readWal(reader)
    await reader`vacuum outbox`
    const v1 = await readWal(reader)
    const writerWal = await walBetween(reader, w0, w1)
    const relayWal = await walBetween(reader, w1, w2)
    if (published !== o.events) throw new Error(`${design.name}: published ${published}`)
    await relay.close() // its partitions go to the paced runs' relays
    const paced: CostResult['paced'] = {}
    for (const rate of [100, 1000])
      paced[`${rate}/s`] = await pacedRun(url, design, rate, o.seconds)
    const retention = await retainAll(url, design, reader)
    return {
      events: o.events,
      writer: {
        walBytesPerEvent: writerWal.bytes / o.events,
        fpi: writerWal.fpi,
        rows: tablesBetween(t0, t1),
      },
      relay: {
        walBytesPerEvent: relayWal.bytes / o.events,
        ownWalBytesPerEvent: (own1 - own0) / o.events,
        fpi: relayWal.fpi,
        rows: tablesBetween(t1, t2),
      },
      claimBuffersFresh,
      claimBuffersAfter,
      vacuumWalBytes: (await walBetween(reader, v0, v1)).bytes,
      paced,
      retention,
    }
  } finally {
    await relay.close().catch(() => {})
    await held.end()
    await reader.end()
    await design.dropDatabase(url)
  }
}

/** Everything published so far, deleted by the design's retention and vacuumed (cost-retention.ts). */
async function retainAll(url: string, design: CostDesign, reader: postgres.Sql) {
  const relay = await design.relay(url)
  try {
    return await retentionCost(reader, relay)
  } finally {
    await relay.close()
  }
}

/** WAL written by the session's own backend so far (PostgreSQL 18). */
async function backendWal(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ bytes: string }[]>`
    select wal_bytes::text as bytes from pg_stat_get_backend_wal(pg_backend_pid())`
  return Number(row?.bytes ?? Number.NaN)
}

/** Backends flush their row counters when idle, at most about once a second. */
const settleStats = () => new Promise((r) => setTimeout(r, 1200))

/**
 * `rate` events/s for `seconds` from a pool of writers while the relay drains every
 * millisecond; the relay's WAL is its own backend's (pg_stat_get_backend_wal).
 */
async function pacedRun(url: string, design: CostDesign, rate: number, seconds: number) {
  const reader = postgres(url, { max: 1, onnotice: () => {} })
  const writers = postgres(url, { max: WRITERS, onnotice: () => {} })
  const relay = await design.relay(url)
  try {
    await relay.drainAll()
    const relayWal = () => backendWal(relay.sql)
    await relay.flushStats()
    await settleStats()
    const t0 = await readTables(reader)
    const b0 = await relayWal()
    let stop = false
    const loop = (async () => {
      let n = 0
      while (!stop) {
        n += await relay.drainAll()
        await new Promise((r) => setTimeout(r, 1))
      }
      return n + (await relay.drainAll())
    })()
    const sent: Promise<unknown>[] = []
    const started = performance.now()
    const total = Math.round(rate * seconds)
    let i = 0
    while (i < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate))
      while (i < due) sent.push(insert(writers, 1_000_000 + i++))
      await new Promise((r) => setTimeout(r, 2))
    }
    await Promise.all(sent)
    await new Promise((r) => setTimeout(r, 200))
    stop = true
    const events = await loop
    await relay.flushStats()
    const b1 = await relayWal()
    await writers.end()
    await settleStats()
    const relayRows = tablesBetween(t0, await readTables(reader))
    // The writers' inserts are not the relay's.
    for (const [name, t] of Object.entries(relayRows)) {
      t.ins = 0
      if (!t.upd && !t.del) delete relayRows[name]
    }
    return { events, relayWalBytesPerEvent: (b1 - b0) / events, relayRows }
  } finally {
    await relay.close()
    await reader.end()
    await writers.end()
  }
}

function rowsLine(rows: TableCounts, events: number): string {
  const per = (n: number) => (n / events).toFixed(3)
  return Object.entries(rows)
    .map(
      ([t, r]) => `${t} +${per(r.ins)} ins ${per(r.upd)} upd (${per(r.hot)} HOT) ${per(r.del)} del`,
    )
    .join('; ')
}

function report(name: string, r: CostResult, log: (line: string) => void): void {
  log(
    `cost    ${name}: ${r.events.toLocaleString()} events, ${WRITERS} writers, one row a transaction`,
  )
  log(
    `        writer insert  WAL ${r.writer.walBytesPerEvent.toFixed(0)} B/event (${r.writer.fpi} FPI) | rows per event: ${rowsLine(r.writer.rows, r.events)}`,
  )
  log(
    `        relay publish  WAL ${r.relay.walBytesPerEvent.toFixed(0)} B/event (${r.relay.fpi} FPI; its backend's own ${r.relay.ownWalBytesPerEvent?.toFixed(0)}), ${((100 * r.relay.walBytesPerEvent) / r.writer.walBytesPerEvent).toFixed(1)}% of the insert | rows per event: ${rowsLine(r.relay.rows, r.events) || 'none'}`,
  )
  log(
    `        one claim      ${r.claimBuffersFresh} buffers fresh, ${r.claimBuffersAfter} after publishing them under a held snapshot | vacuum afterwards ${(r.vacuumWalBytes / 1024).toFixed(0)} KiB WAL`,
  )
  for (const [rate, p] of Object.entries(r.paced)) {
    log(
      `        at ${rate.padStart(6)}  relay WAL ${p.relayWalBytesPerEvent.toFixed(0)} B/event over ${p.events} events | relay's rows per event: ${rowsLine(p.relayRows, p.events) || 'none'}`,
    )
  }
  const t = r.retention
  log(
    `        retention      ${t.deleted} published events deleted: WAL ${t.deleteWalBytesPerEvent.toFixed(0)} B/event | rows per event: ${rowsLine(t.deleteRows, t.deleted)} | vacuum then: WAL ${t.vacuumWalBytesPerEvent.toFixed(0)} B/event, ${t.vacuumBuffersPerEvent.toFixed(2)} buffers/event, ${t.vacuumMs.toFixed(0)} ms`,
  )
}
