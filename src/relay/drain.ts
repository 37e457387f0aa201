/**
 * One claim-publish-mark cycle, in one transaction on the relay's session:
 *  1. claim the oldest publishable rows of the owned partitions, FOR UPDATE SKIP LOCKED;
 *  2. publish them and wait for the broker's acknowledgement (acks = all);
 *  3. mark them published and commit.
 * On failure nothing is marked published. The failure is classified (classify-error.ts):
 *  - unavailable / retriable: the batch's attempts, last_error and next_attempt_at are recorded
 *    and committed; unavailable is rethrown so the relay backs off as a whole;
 *  - permanent: the batch is published again one event at a time to find the culprit, which is
 *    dead-lettered; its order's later events are left for the claim query to hold back.
 * If the process dies after the acknowledgement but before the commit, the rows are published
 * again later: the at-least-once duplicate that consumers dedupe by `ce_id`.
 */
import type postgres from 'postgres'
import { type BackoffOptions, backoffDelay } from './backoff'
import { classifyPublishError, describeError } from './classify-error'
import type { Publish } from './publish'
import { type ClaimedMessage, claimBatch, deferEvents, markDead, markPublished } from './queries'
import type { RelaySession } from './session'

export type DrainPolicy = { maxAttempts: number; backoff: BackoffOptions }

export type DrainResult = {
  claimed: number
  published: number
  /** Earliest time (epoch ms) an event deferred by this batch becomes claimable again. */
  retryAt?: number
}

/** Thrown (after the failure was recorded) when the broker cannot be reached at all. */
export class BrokerUnavailableError extends Error {
  constructor(readonly original: unknown) {
    super(`broker unavailable: ${describeError(original)}`)
    this.name = 'BrokerUnavailableError'
  }
}

export async function drainBatch(
  session: RelaySession,
  batchSize: number,
  publish: Publish,
  policy: DrainPolicy,
): Promise<DrainResult> {
  if (session.owned.length === 0) return { claimed: 0, published: 0 }
  const outcome = await session.sql.begin(async (tx) => {
    const batch = await claimBatch(tx, session.owned, batchSize)
    const first = batch[0]
    if (!first) return { claimed: 0, published: 0 }
    session.assertSession(first.session)
    try {
      await publish(batch)
    } catch (err) {
      const kind = classifyPublishError(err)
      if (kind === 'permanent') return isolate(tx, batch, publish, policy)
      const result = await defer(tx, batch, err, policy, kind === 'retriable')
      // Commit the bookkeeping, then let the relay back off.
      return kind === 'unavailable' ? { ...result, unavailable: err } : result
    }
    await markPublished(
      tx,
      batch.map((m) => m.id),
    )
    return { claimed: batch.length, published: batch.length }
  })
  if ('unavailable' in outcome) throw new BrokerUnavailableError(outcome.unavailable)
  return outcome
}

async function defer(
  tx: postgres.TransactionSql,
  batch: ClaimedMessage[],
  err: unknown,
  policy: DrainPolicy,
  countsTowardLimit: boolean,
): Promise<DrainResult> {
  const attempts = Math.max(...batch.map((m) => m.attempts)) + 1
  const delayMs = backoffDelay(attempts, policy.backoff)
  await deferEvents(
    tx,
    batch.map((m) => m.id),
    describeError(err),
    delayMs,
    { maxAttempts: policy.maxAttempts, countsTowardLimit },
  )
  return { claimed: batch.length, published: 0, retryAt: Date.now() + delayMs }
}

/** Publishes one event at a time, in order, to pin a permanent failure on the right event. */
async function isolate(
  tx: postgres.TransactionSql,
  batch: ClaimedMessage[],
  publish: Publish,
  policy: DrainPolicy,
): Promise<DrainResult> {
  const published: number[] = []
  const stopped = new Set<string>() // orders with a failed event: their later events wait
  let retryAt: number | undefined
  for (const message of batch) {
    if (stopped.has(message.aggregateId)) continue
    try {
      await publish([message])
      published.push(message.id)
    } catch (err) {
      stopped.add(message.aggregateId)
      const kind = classifyPublishError(err)
      if (kind === 'permanent') {
        await markDead(tx, message.id, `permanent: ${describeError(err)}`)
        continue
      }
      const result = await defer(tx, [message], err, policy, kind === 'retriable')
      retryAt = Math.min(retryAt ?? Number.POSITIVE_INFINITY, result.retryAt ?? 0)
      if (kind === 'unavailable') break // the rest stay unclaimed; the relay backs off
    }
  }
  await markPublished(tx, published)
  return { claimed: batch.length, published: published.length, retryAt }
}
