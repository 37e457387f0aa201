/**
 * Retention: deletes published events older than OUTBOX_RETENTION, so the outbox stays the
 * size of its window instead of growing forever.
 *
 * Every `intervalMs` one pass deletes in batches of `batchSize`, one short autocommit statement
 * per batch, until a batch comes back short. Between batches it pauses briefly, so a large
 * backlog (the first pass after enabling retention, or after an outage) is spread out instead
 * of holding the database: writers and the relay's claims interleave with it. Rows are picked
 * with FOR UPDATE SKIP LOCKED, so two relays running retention at once never wait on each
 * other. Unpublished rows, dead ones included, are never touched: a row counts as published once
 * its partition's stored position has passed it, or, if it was parked, once its parked record
 * says so (an operator's discard does too, so discarded events age out like published ones).
 *
 * A failed pass is logged and the next interval tries again; retention never stops the relay.
 * The first pass runs one `intervalMs` after start.
 */
import type postgres from 'postgres'
import type { Logger } from '../logger'
import { deleteBatch, findHorizon } from '../outbox/retention-queries'

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

  const runOnce = () => {
    current ??= retentionPass(o, pauseMs, () => stopped).finally(() => {
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

/** One pass: batch after batch until one comes back short (or retention is stopped). */
async function retentionPass(
  o: RetentionOptions,
  pauseMs: number,
  stopped: () => boolean,
): Promise<number> {
  const started = performance.now()
  let deleted = 0
  let batches = 0
  const horizon = await findHorizon(o.sql, o.maxAgeMs)
  let afterId = 0
  while (!stopped()) {
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
