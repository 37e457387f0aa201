/**
 * Retention: deletes published events older than OUTBOX_RETENTION, so the outbox stays the
 * size of its window instead of growing forever.
 *
 * Every `intervalMs` one pass deletes in batches of `batchSize`, one short autocommit statement
 * per batch, until a batch comes back short. Between batches it pauses briefly, so a large
 * backlog (the first pass after enabling retention, or after an outage) is spread out instead
 * of holding the database: writers and the relay's claims interleave with it. Rows are picked
 * with FOR UPDATE SKIP LOCKED, so two relays running retention at once never wait on each
 * other. Unpublished rows, dead ones included, are never touched: only `published_at` counts
 * (an operator's discard sets it, so discarded events age out like published ones).
 *
 * A failed pass is logged and the next interval tries again; retention never stops the relay.
 * The first pass runs one `intervalMs` after start.
 */
import type postgres from 'postgres'
import type { Logger } from '../logger'

export type RetentionOptions = {
  /** Its own client (max 1 is plenty), never the relay's claiming session. */
  sql: postgres.Sql
  maxAgeMs: number
  batchSize: number
  intervalMs: number
  logger: Logger
  /** Called after every non-empty batch with the rows it deleted (e.g. for a counter). */
  onDeleted?: (count: number) => void
  /** Pause between two batches of one pass. */
  pauseMs?: number
}

export type Retention = {
  /** Runs one pass now (or joins the one under way); resolves with the rows deleted. */
  runOnce(): Promise<number>
  /** Stops the timer and waits for a pass under way to finish its current batch. */
  stop(): Promise<void>
}

export function startRetention(o: RetentionOptions): Retention {
  const pauseMs = o.pauseMs ?? 10
  let stopped = false
  let current: Promise<number> | undefined
  let timer: NodeJS.Timeout | undefined

  const pass = async (): Promise<number> => {
    const started = performance.now()
    let deleted = 0
    let batches = 0
    const horizon = await findHorizon(o.sql, o.maxAgeMs)
    let afterId = 0
    while (!stopped) {
      const batch = await deleteBatch(o.sql, o.maxAgeMs, o.batchSize, { afterId, horizon })
      const n = batch.count
      afterId = batch.lastId
      if (n > 0) {
        deleted += n
        batches += 1
        o.onDeleted?.(n)
      }
      if (n < o.batchSize) break
      await new Promise((r) => setTimeout(r, pauseMs))
    }
    if (deleted > 0) {
      const ms = Math.round(performance.now() - started)
      o.logger.info(
        { deleted, batches, ms, maxAgeMs: o.maxAgeMs },
        'retention deleted published events',
      )
    }
    return deleted
  }

  const runOnce = () => {
    current ??= pass().finally(() => {
      current = undefined
    })
    return current
  }

  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => {
      runOnce().then(schedule, (err: unknown) => {
        o.logger.warn({ err }, 'retention pass failed; retrying next interval')
        schedule()
      })
    }, o.intervalMs)
  }
  schedule()

  return {
    runOnce,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await current?.catch(() => {})
    },
  }
}

/**
 * Where a pass stops: the first row (in id order) that occurred after the cutoff. A row
 * cannot be published before it occurred, so nothing past it has expired, except through
 * clock skew between the API's clock (occurred_at) and the database's (published_at), and such
 * a row is only deleted a pass later. Without this bound the batch that comes back short (the
 * last of every pass) would read the whole retention window, e.g. 600M rows for 7 days at
 * 1,000 events/s, every pass. Found once per pass by walking the primary key from the front.
 */
export async function findHorizon(sql: postgres.Sql, maxAgeMs: number): Promise<number> {
  const [row] = await sql<{ id: string | null }[]>`
    select id from outbox
     where occurred_at >= now() - ${maxAgeMs} * interval '1 millisecond'
     order by id limit 1`
  return row?.id == null ? Number.MAX_SAFE_INTEGER : Number(row.id)
}

/**
 * One batch: the next expired rows after `afterId` and before `horizon`, at most `limit`,
 * deleted in one statement; returns how many and the last id deleted, where the next batch
 * continues (so a pass reads each row once, however large the backlog: measured about 6 ms per
 * batch of 1,000). Unpublished rows, dead ones included, never match `published_at < cutoff`.
 */
export async function deleteBatch(
  sql: postgres.Sql,
  maxAgeMs: number,
  limit: number,
  range: { afterId: number; horizon: number } = { afterId: 0, horizon: Number.MAX_SAFE_INTEGER },
): Promise<{ count: number; lastId: number }> {
  const rows = await sql<{ id: string }[]>`
    delete from outbox
     where id in (
       select id from outbox
        where id > ${range.afterId} and id < ${range.horizon}
          and published_at < now() - ${maxAgeMs} * interval '1 millisecond'
        order by id
        limit ${limit}
          for update skip locked)
    returning id`
  let lastId = range.afterId
  for (const r of rows) lastId = Math.max(lastId, Number(r.id))
  return { count: rows.length, lastId }
}
