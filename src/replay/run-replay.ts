/**
 * Drives one replay run (src/outbox/replay-queries.ts) to its end: read the next batch after the
 * run's position, publish it, and move the position only once the broker acknowledged it. So a
 * run stopped anywhere (Ctrl-C, a kill, a broker outage) resumes where it stopped, publishing
 * again at most the batch in hand. One request in flight and id order: per aggregate, the
 * replayed events go out in their original order.
 *
 * Each message is the original (key, value, ce_id and every header) plus `outbox_replay: <run>`,
 * so a consumer that keeps an inbox recognises it as seen and one that cares can tell it apart.
 */
import type postgres from 'postgres'
import type { OutboxMessage } from '../outbox/message'
import {
  advanceRun,
  endRun,
  nextReplayBatch,
  type ReplayEvent,
  type ReplayRun,
  readRun,
} from '../outbox/replay-queries'

export const REPLAY_HEADER = 'outbox_replay'

export type ReplayProgress = { done: number; total: number; rate: number }

export type ReplayOptions = {
  sql: postgres.Sql
  publish: (batch: readonly OutboxMessage[]) => Promise<void>
  runId: number
  topicTemplate: string
  batchSize: number
  /** Events per second at most; undefined: as fast as the broker takes them. */
  rate?: number
  signal?: AbortSignal
  onProgress?: (progress: ReplayProgress) => void
}

/** Runs until the run is done, cancelled, or `signal` aborts; returns its status then. */
export async function runReplay(o: ReplayOptions): Promise<ReplayRun['status']> {
  const run = await readRun(o.sql, o.runId)
  if (!run) throw new Error(`no replay run ${o.runId}`)
  let { done, status } = run
  const byTopic = { ...run.doneByTopic }
  const started = performance.now()
  let sent = 0 // this session's, for its rate
  while (status === 'running' && !o.signal?.aborted) {
    const size = o.rate === undefined ? o.batchSize : Math.max(1, Math.min(o.batchSize, o.rate))
    const batch = await nextReplayBatch(o.sql, o.runId, size, o.topicTemplate)
    const last = batch.at(-1)
    if (!last) return (await endRun(o.sql, o.runId, 'done')) ?? 'done'
    const messages = batch.map((e) => replayMessage(e, run))
    await o.publish(messages)
    for (const m of messages) byTopic[m.topic] = (byTopic[m.topic] ?? 0) + 1
    done += batch.length
    sent += batch.length
    status =
      (await advanceRun(o.sql, o.runId, { afterId: last.id, done, doneByTopic: byTopic })) ??
      'cancelled'
    const elapsed = (performance.now() - started) / 1000
    o.onProgress?.({ done, total: run.total, rate: elapsed > 0 ? sent / elapsed : 0 })
    if (o.rate !== undefined) await pace(sent, o.rate, started, o.signal)
  }
  return status
}

function replayMessage(e: ReplayEvent, run: ReplayRun): OutboxMessage {
  return {
    ...e,
    topic: run.toTopic ?? e.topic,
    headers: { ...(e.headers ?? {}), [REPLAY_HEADER]: String(run.id) },
  }
}

/** Waits until `sent` events are no more than `rate` per second since `started`. */
async function pace(sent: number, rate: number, started: number, signal?: AbortSignal) {
  const due = started + (sent / rate) * 1000 - performance.now()
  if (due <= 0 || signal?.aborted) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, due)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}
