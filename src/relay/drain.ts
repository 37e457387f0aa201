/**
 * Draining: claim, publish, mark, until a claim comes back empty (in `poll` mode: until a batch
 * comes back short).
 *
 *  1. claim the oldest publishable rows of the owned partitions (queries.ts: claimBatch);
 *  2. publish them and wait for the broker's acknowledgement (acks = all);
 *  3. mark them published.
 * No transaction spans the publish. Only the owner of a partition claims its rows (the
 * partition locks of session.ts), so row locks would add nothing but two round trips per batch.
 * Each statement commits on its own; a mark is written only after the acknowledgement, so it
 * is always true.
 *
 * Under a backlog the steps overlap (postgres.js pipelines queries on the relay's one
 * connection, and they run in the order sent): while batch N is in flight to the broker, batch
 * N+1 is claimed, leaving out N's ids; once N is acknowledged, N's mark (and the claim of N+2)
 * run in the database while N+1 is in flight. Batch N+1 is published only after N was
 * acknowledged, and thrown away unpublished if N failed, so a later event never overtakes an
 * earlier one. The broker's time is then the only time on the critical path.
 *
 * On failure nothing is marked published; publish-failure.ts decides what happens instead.
 * If the process dies after the acknowledgement but before the mark, the rows are published
 * again later: the at-least-once duplicate that consumers dedupe by `ce_id`.
 */

import { type ClaimedMessage, claimBatch, markPublished } from '../outbox/queries'
import { alongside } from './alongside'
import type { BackoffOptions } from './backoff'
import { describeError } from './classify-error'
import type { Publish } from './publish'
import { onPublishFailure } from './publish-failure'
import type { RelaySession } from './session'

export type DrainPolicy = {
  maxAttempts: number
  backoff: BackoffOptions
  /**
   * Claim again after a short batch (default true): what arrived while it was in flight goes out
   * at once. `poll` mode says false: a poll drains what it found and waits for the next poll.
   */
  reclaimAfterShort?: boolean
  /**
   * Sent with every claim, in the same round trip: the relay loop's retry of the awake locks a
   * ringing writer held (relay.ts). Under a steady stream a drain never ends, and a partition
   * left asleep would have its writers ring all the while.
   */
  withClaim?: () => Promise<unknown>
}

export type DrainResult = {
  claimed: number
  published: number
  /** It stopped at `until` (or on abort) with work in hand: more is likely waiting. */
  cutShort?: boolean
  /** Earliest time (epoch ms) an event deferred by this drain becomes claimable again. */
  retryAt?: number
}

/** Thrown (after the failure was recorded) when the broker cannot be reached at all. */
export class BrokerUnavailableError extends Error {
  constructor(readonly original: unknown) {
    super(`broker unavailable: ${describeError(original)}`)
    this.name = 'BrokerUnavailableError'
  }
}

/**
 * Claims, publishes and marks until a claim comes back empty (`reclaimAfterShort` false: until a
 * batch comes back short), or a batch fails. No new batch is
 * claimed after `until` (epoch ms) or an abort: the relay loop has other work due (a rebalance
 * that hands partitions to a newly started relay must not wait for the end of a busy stream).
 */
export async function drain(
  session: RelaySession,
  batchSize: number,
  publish: Publish,
  policy: DrainPolicy,
  signal?: AbortSignal,
  until = Number.POSITIVE_INFINITY,
): Promise<DrainResult> {
  if (session.owned.length === 0) return { claimed: 0, published: 0 }
  const sql = session.sql
  const owned = session.owned
  const total: DrainResult = { claimed: 0, published: 0 }
  const goOn = () => !signal?.aborted && Date.now() < until
  const claim = (inFlight: number[]) => claimAlongside(session, owned, batchSize, policy, inFlight)
  let batch = await claim([])
  // The previous batch's mark, still running while this batch is published.
  let marking: Promise<void> = Promise.resolve()
  try {
    while (batch.length > 0) {
      total.claimed += batch.length
      const ids = batch.map((m) => m.id)
      // A full batch suggests more: claim the next one while this one is in flight. It is sent
      // after the previous mark, so it sees that batch published; this one it leaves out.
      let next: Promise<ClaimedMessage[]> | undefined =
        batch.length === batchSize && goOn() ? claim(ids) : undefined
      next?.catch(() => {}) // awaited below on every path
      try {
        // A relay frozen since the claim may have lost the partition meanwhile (session.ts).
        await session.confirmLease()
        await publish(batch)
      } catch (err) {
        await Promise.allSettled([next]) // thrown away: it must not overtake the failed batch
        await marking
        const result = await onPublishFailure(sql, batch, err, publish, policy)
        total.published += result.published
        total.retryAt = result.retryAt
        if (result.unavailable) throw new BrokerUnavailableError(err)
        return total
      }
      total.published += batch.length
      await marking
      await session.confirmLease()
      marking = markPublished(sql, ids)
      marking.catch(() => {}) // awaited at the next step or on the way out
      // A short batch: look again for what arrived while it was in flight. The claim goes out
      // right behind the mark, in the same write: one round trip for both, and it runs after
      // the mark, so it sees this batch published. (Sent ahead of the mark, the claim returns
      // sooner but the batches after it are smaller, and under many writers the relay falls
      // behind: docs/benchmarks.md.) A poll stops at a short batch instead; a full batch that
      // `until` kept from claiming on is cut short there too, not done (below).
      if (next === undefined && batch.length < batchSize && policy.reclaimAfterShort === false) {
        break
      }
      if (next === undefined && goOn()) next = claim([])
      if (next === undefined) {
        total.cutShort = true
        break
      }
      batch = await next
    }
  } finally {
    await marking
  }
  return total
}

async function claimAlongside(
  session: RelaySession,
  owned: number[],
  batchSize: number,
  policy: DrainPolicy,
  inFlight: number[],
): Promise<ClaimedMessage[]> {
  const sentAt = performance.now()
  const [batch] = await alongside(
    claimBatch(session.sql, owned, batchSize, inFlight),
    policy.withClaim?.() ?? Promise.resolve(),
  )
  const first = batch[0]
  if (first) session.proveOwnership(first, sentAt)
  return batch
}
