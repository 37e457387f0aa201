/**
 * What a failed publish leads to. The failure is classified once (classify-error.ts), the class
 * stored with the events it parks, and every event of the batch ends published or parked
 * (outbox_parked, src/outbox/parked.ts), so the partitions' positions can pass the batch; except
 * when the broker is unreachable:
 *  - unavailable: nothing is recorded; the relay backs off as a whole and claims the same
 *    events again (parking a whole backlog one batch per backoff would help nobody);
 *  - retriable: the batch is parked with an attempt counted and a retry time;
 *  - permanent: the batch is published again one event at a time to find the culprit, which is
 *    dead-lettered; its aggregate's later events are left for the claim query to hold back;
 *  - missing topic: the events routed to it, and their aggregates' later events, are held back
 *    without counting an attempt (no dead-lettering for a topic not created yet); the rest of
 *    the batch is published at once, so other topics keep flowing.
 */

import type { Q } from '../outbox/client'
import {
  type DeadLetter,
  deferEvents,
  type FailureClass,
  holdEvents,
  markDead,
  markPublished,
} from '../outbox/parked'
import type { ClaimedMessage } from '../outbox/queries'
import { type BackoffOptions, backoffDelay } from './backoff'
import { classifyPublishError, describeError, MissingTopicError } from './classify-error'
import type { Publish } from './publish'

/** How failures are handled: the drain's policy (drain.ts) carries these. */
export type FailurePolicy = {
  maxAttempts: number
  backoff: BackoffOptions
  /** Events a failure just dead-lettered: the relay logs each and counts them (relay.ts). */
  onDead?: (dead: readonly DeadLetter[]) => void
  /** Each failed publish, by its class: for the relay's error counter. */
  onFailure?: (failure: FailureClass) => void
}

export type FailureOutcome = {
  published: number
  /** Earliest time (epoch ms) an event parked here becomes claimable again. */
  retryAt?: number
  /** The broker cannot be reached: nothing was recorded. */
  unavailable?: boolean
}

/** How long an event for a missing topic waits before its topic is looked up again. */
const MISSING_TOPIC_RECHECK_MS = 1000

export async function onPublishFailure(
  sql: Q,
  batch: ClaimedMessage[],
  err: unknown,
  publish: Publish,
  policy: FailurePolicy,
): Promise<FailureOutcome> {
  const failure = classifyPublishError(err)
  policy.onFailure?.(failure)
  if (failure === 'permanent') return isolate(sql, batch, publish, policy)
  if (failure === 'missing-topic' && err instanceof MissingTopicError) {
    return holdMissing(sql, batch, err, publish, policy)
  }
  if (failure === 'unavailable') return { published: 0, unavailable: true }
  return defer(sql, batch, { failure, reason: describeError(err) }, policy)
}

/** Parks the events with an attempt counted (only a retriable one counts toward the limit). */
async function defer(
  q: Q,
  batch: ClaimedMessage[],
  why: { failure: FailureClass; reason: string },
  policy: FailurePolicy,
): Promise<FailureOutcome> {
  const attempts = Math.max(...batch.map((m) => m.attempts)) + 1
  const delayMs = backoffDelay(attempts, policy.backoff)
  const dead = await deferEvents(q, batch, why, delayMs, {
    maxAttempts: policy.maxAttempts,
    countsTowardLimit: why.failure !== 'unavailable',
  })
  policy.onDead?.(dead)
  return { published: 0, retryAt: Date.now() + delayMs }
}

const aggregateKey = (m: ClaimedMessage) => `${m.aggregateType}\u0000${m.aggregateId}`

/** Waits for its topic: no attempt counted, looked up again soon. Returns when. */
async function holdForTopic(q: Q, events: ClaimedMessage[], reason: string, policy: FailurePolicy) {
  const delayMs = Math.min(MISSING_TOPIC_RECHECK_MS, policy.backoff.capMs)
  await holdEvents(q, events, { failure: 'missing-topic', reason }, delayMs)
  return Date.now() + delayMs
}

/**
 * Holds back the events for missing topics and every later event of their aggregates, and
 * publishes the rest of the batch (in order; a failure there is handled like any other).
 */
async function holdMissing(
  q: Q,
  batch: ClaimedMessage[],
  err: MissingTopicError,
  publish: Publish,
  policy: FailurePolicy,
): Promise<FailureOutcome> {
  const stopped = new Set<string>()
  const held: ClaimedMessage[] = []
  const rest: ClaimedMessage[] = []
  for (const message of batch) {
    const key = aggregateKey(message)
    if (err.ids.has(message.id)) stopped.add(key)
    if (stopped.has(key)) held.push(message)
    else rest.push(message)
  }
  const retryAt = await holdForTopic(q, held, describeError(err), policy)
  if (rest.length === 0) return { published: 0, retryAt }
  try {
    await publish(rest)
  } catch (restErr) {
    const failed = await onPublishFailure(q, rest, restErr, publish, policy)
    return { ...failed, retryAt: Math.min(retryAt, failed.retryAt ?? Number.POSITIVE_INFINITY) }
  }
  await markPublished(q, rest)
  return { published: rest.length, retryAt }
}

/** Publishes one event at a time, in order, to pin a permanent failure on the right event. */
async function isolate(
  q: Q,
  batch: ClaimedMessage[],
  publish: Publish,
  policy: FailurePolicy,
): Promise<FailureOutcome> {
  const published: ClaimedMessage[] = []
  const stopped = new Set<string>() // aggregates with a failed event: their later events wait
  let retryAt = Number.POSITIVE_INFINITY
  const behind: ClaimedMessage[] = [] // later events of those aggregates: parked behind them
  for (const [i, message] of batch.entries()) {
    if (stopped.has(aggregateKey(message))) {
      behind.push(message)
      continue
    }
    try {
      await publish([message])
      published.push(message)
    } catch (err) {
      stopped.add(aggregateKey(message))
      const failure = classifyPublishError(err)
      policy.onFailure?.(failure)
      const at = await parkOne(q, message, { failure, reason: describeError(err) }, policy)
      retryAt = Math.min(retryAt, at ?? Number.POSITIVE_INFINITY)
      if (failure !== 'unavailable') continue
      // Unreachable now: the rest wait too, parked without an attempt counted, so that the
      // positions can still pass the batch.
      const rest = batch.slice(i + 1)
      await holdEvents(
        q,
        rest,
        { failure, reason: describeError(err) },
        backoffDelay(1, policy.backoff),
      )
      break
    }
  }
  const why = { failure: null, reason: 'held behind an earlier event of its aggregate' }
  await holdEvents(q, behind, why, 0)
  await markPublished(q, published)
  return {
    published: published.length,
    retryAt: retryAt === Number.POSITIVE_INFINITY ? undefined : retryAt,
  }
}

/** One event's failure, found by isolate: dead, waiting for its topic, or deferred. */
async function parkOne(
  q: Q,
  message: ClaimedMessage,
  why: { failure: FailureClass; reason: string },
  policy: FailurePolicy,
): Promise<number | undefined> {
  if (why.failure === 'permanent') {
    const dead = await markDead(q, message, { ...why, reason: `permanent: ${why.reason}` })
    policy.onDead?.(dead) // apart: an optional call skips its arguments when absent
    return undefined
  }
  if (why.failure === 'missing-topic') return holdForTopic(q, [message], why.reason, policy)
  return (await defer(q, [message], why, policy)).retryAt
}
