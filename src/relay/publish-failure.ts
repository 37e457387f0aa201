/**
 * What a failed publish leads to. The failure is classified once (classify-error.ts), and every
 * event of the batch ends published or parked (outbox_parked, src/outbox/parked.ts), so the
 * partitions' positions can pass the batch; except when the broker is unreachable:
 *  - unavailable: nothing is recorded; the relay backs off as a whole and claims the same
 *    events again (parking a whole backlog one batch per backoff would help nobody);
 *  - retriable: the batch is parked with an attempt counted and a retry time;
 *  - permanent: the batch is published again one event at a time to find the culprit, which is
 *    dead-lettered; its aggregate's later events are left for the claim query to hold back;
 *  - missing topic: the events routed to it, and their aggregates' later events, are held back
 *    without counting an attempt (no dead-lettering for a topic not created yet); the rest of
 *    the batch is published at once, so other topics keep flowing.
 */

import { deferEvents, holdEvents, markDead, markPublished } from '../outbox/parked'
import type { ClaimedMessage, Q } from '../outbox/queries'
import { backoffDelay } from './backoff'
import { classifyPublishError, describeError, MissingTopicError } from './classify-error'
import type { DrainPolicy, DrainResult } from './drain'
import type { Publish } from './publish'

export async function onPublishFailure(
  sql: Q,
  batch: ClaimedMessage[],
  err: unknown,
  publish: Publish,
  policy: DrainPolicy,
): Promise<DrainResult & { unavailable?: boolean }> {
  const kind = classifyPublishError(err)
  if (kind === 'permanent') return isolate(sql, batch, publish, policy)
  if (kind === 'missing-topic' && err instanceof MissingTopicError) {
    return holdMissing(sql, batch, err, publish, policy)
  }
  if (kind === 'unavailable') return { claimed: batch.length, published: 0, unavailable: true }
  return defer(sql, batch, err, policy, true)
}

async function defer(
  q: Q,
  batch: ClaimedMessage[],
  err: unknown,
  policy: DrainPolicy,
  countsTowardLimit: boolean,
): Promise<DrainResult> {
  const attempts = Math.max(...batch.map((m) => m.attempts)) + 1
  const delayMs = backoffDelay(attempts, policy.backoff)
  const dead = await deferEvents(q, batch, describeError(err), delayMs, {
    maxAttempts: policy.maxAttempts,
    countsTowardLimit,
  })
  policy.onDead?.(dead)
  return { claimed: batch.length, published: 0, retryAt: Date.now() + delayMs }
}

/** How long an event for a missing topic waits before its topic is looked up again. */
export const MISSING_TOPIC_RECHECK_MS = 1000

const aggregateKey = (m: ClaimedMessage) => `${m.aggregateType}\u0000${m.aggregateId}`

/**
 * Holds back the events for missing topics and every later event of their aggregates, and
 * publishes the rest of the batch (in order; a failure there is handled like any other).
 */
async function holdMissing(
  q: Q,
  batch: ClaimedMessage[],
  err: MissingTopicError,
  publish: Publish,
  policy: DrainPolicy,
): Promise<DrainResult & { unavailable?: boolean }> {
  const stopped = new Set<string>()
  const held: ClaimedMessage[] = []
  const rest: ClaimedMessage[] = []
  for (const message of batch) {
    const key = aggregateKey(message)
    if (err.ids.has(message.id)) stopped.add(key)
    if (stopped.has(key)) held.push(message)
    else rest.push(message)
  }
  const delayMs = Math.min(MISSING_TOPIC_RECHECK_MS, policy.backoff.capMs)
  await holdEvents(q, held, describeError(err), delayMs)
  const result: DrainResult & { unavailable?: boolean } = {
    claimed: batch.length,
    published: 0,
    retryAt: Date.now() + delayMs,
  }
  if (rest.length === 0) return result
  try {
    await publish(rest)
  } catch (restErr) {
    const failed = await onPublishFailure(q, rest, restErr, publish, policy)
    return {
      ...failed,
      claimed: batch.length,
      retryAt: Math.min(result.retryAt ?? 0, failed.retryAt ?? Number.POSITIVE_INFINITY),
    }
  }
  await markPublished(q, rest)
  return { ...result, published: rest.length }
}

/** Publishes one event at a time, in order, to pin a permanent failure on the right event. */
async function isolate(
  q: Q,
  batch: ClaimedMessage[],
  publish: Publish,
  policy: DrainPolicy,
): Promise<DrainResult> {
  const published: ClaimedMessage[] = []
  const stopped = new Set<string>() // aggregates with a failed event: their later events wait
  let retryAt: number | undefined
  const behind: ClaimedMessage[] = [] // later events of those aggregates: parked behind them
  for (const message of batch) {
    if (stopped.has(aggregateKey(message))) {
      behind.push(message)
      continue
    }
    try {
      await publish([message])
      published.push(message)
    } catch (err) {
      stopped.add(aggregateKey(message))
      const kind = classifyPublishError(err)
      if (kind === 'permanent') {
        const dead = await markDead(q, message, `permanent: ${describeError(err)}`)
        policy.onDead?.(dead) // apart: an optional call skips its arguments when absent
        continue
      }
      if (kind === 'missing-topic') {
        const delayMs = Math.min(MISSING_TOPIC_RECHECK_MS, policy.backoff.capMs)
        await holdEvents(q, [message], describeError(err), delayMs)
        retryAt = Math.min(retryAt ?? Number.POSITIVE_INFINITY, Date.now() + delayMs)
        continue
      }
      // Unreachable now: this one and the rest wait, parked without an attempt counted, so
      // that the positions can still pass the batch.
      const result = await defer(q, [message], err, policy, kind === 'retriable')
      retryAt = Math.min(retryAt ?? Number.POSITIVE_INFINITY, result.retryAt ?? 0)
      if (kind === 'unavailable') {
        const rest = batch.slice(batch.indexOf(message) + 1)
        await holdEvents(q, rest, describeError(err), backoffDelay(1, policy.backoff))
        break
      }
    }
  }
  await holdEvents(q, behind, 'held behind an earlier event of its aggregate', 0)
  await markPublished(q, published)
  return { claimed: batch.length, published: published.length, retryAt }
}
