/**
 * Draining: claim, publish, advance, until a claim comes back empty (in `poll` mode: until a
 * batch comes back short).
 *
 *  1. claim the next rows of the owned partitions' window, and parked events whose time has
 *     come (queries.ts: claim; positions.ts: which window);
 *  2. publish them and wait for the broker's acknowledgement (acks = all);
 *  3. advance the partitions' positions past them (in memory; stored about once a second) and
 *     mark the parked ones among them published.
 * Nothing is written into the outbox. No transaction spans the publish. Only the owner of a
 * partition claims its rows (the partition locks of session.ts), so row locks would add nothing.
 * A position moves only after the acknowledgement, so a stored position is always true.
 *
 * Under a backlog the steps overlap (postgres.js pipelines queries on the relay's one
 * connection, and they run in the order sent): while batch N is in flight to the broker, batch
 * N+1 is claimed, continuing after N; once N is acknowledged, N's advance (and the claim of
 * N+2) run while N+1 is in flight. Batch N+1 is published only after N was acknowledged, and
 * thrown away unpublished if N failed, so a later event never overtakes an earlier one.
 *
 * On failure publish-failure.ts parks the batch (or finds the culprit), and the positions pass
 * it; if the broker is unreachable nothing is recorded and the batch is claimed again later.
 * A process that dies after acknowledgements not yet stored publishes them again later: the
 * at-least-once duplicate that consumers dedupe by `ce_id`.
 */

import type { ClaimedMessage } from '../outbox/queries'
import { Advances, type Batch, claimBatch } from './batch'
import { describeError } from './classify-error'
import { type Positions, positionsOf } from './positions'
import type { Publish } from './publish'
import { type FailurePolicy, onPublishFailure } from './publish-failure'
import { OwnershipLostError, type RelaySession } from './session'

export type DrainPolicy = FailurePolicy & {
  /** KAFKA_TOPIC_TEMPLATE: the claim routes each message by it. */
  topicTemplate: string
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
 * Claims, publishes and advances until a claim comes back empty (`reclaimAfterShort` false:
 * until a batch comes back short), or a batch fails. No new batch is claimed after `until`
 * (epoch ms) or an abort: the relay loop has other work due (a rebalance that hands partitions
 * to a newly started relay must not wait for the end of a busy stream).
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
  const positions = positionsOf(session)
  await positions.sync(session)
  const total: DrainResult = { claimed: 0, published: 0 }
  const goOn = () => !signal?.aborted && Date.now() < until
  const next = (inFlight: ClaimedMessage[]) =>
    claimBatch(session, positions, { ...policy, batchSize, inFlight })
  const advances = new Advances(session, positions, batchSize)
  let batch = await next([])
  try {
    while (batch.rows > 0 || !batch.fresh) {
      total.claimed += batch.messages.length
      if (batch.messages.length === 0) {
        // Only held-back rows, or the end of a window: nothing to publish, the positions move.
        await advances.complete(batch)
        if (!goOn()) return { ...total, cutShort: true } // with rows in hand, or a window open
        batch = await next([])
        continue
      }
      // A full batch suggests more: claim the next one while this one is in flight.
      let following: Promise<Batch> | undefined =
        batch.rows === batchSize && goOn() ? next(batch.messages) : undefined
      following?.catch(() => {}) // awaited below on every path
      try {
        // A relay frozen since the claim may have lost the partition meanwhile (session.ts).
        await session.confirmLease()
        if (following) await sendQueued()
        await publish(batch.messages)
      } catch (err) {
        await Promise.allSettled([following]) // thrown away: it must not overtake the failed batch
        return await failed({ session, positions, advances, publish, policy }, batch, err, total)
      }
      total.published += batch.messages.length
      await advances.complete(batch)
      // A short batch: look again for what arrived while it was in flight, right behind the
      // advance (one round trip for both). A poll stops at a short batch instead; a full batch
      // that `until` kept from claiming on is cut short there too, not done (below).
      if (following === undefined && batch.rows < batchSize && policy.reclaimAfterShort === false) {
        break
      }
      if (following === undefined && goOn()) following = next([])
      if (following === undefined) return { ...total, cutShort: true }
      batch = await following
    }
  } finally {
    await advances.settled()
  }
  // A backlog's end is stored now, not FLUSH_MS later (what a restart and `outbox status` see);
  // a sparse stream's drains are shorter than a batch and still store once per FLUSH_MS.
  if (total.published >= batchSize) await positions.store(session)
  return total
}

/**
 * postgres.js writes a message under 1 KB at the next setImmediate: yielding one lets the next
 * claim reach Postgres before the publish spends milliseconds encoding the batch.
 */
function sendQueued(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A batch failed: every event of it ends published or parked, and the positions pass it. */
async function failed(
  d: {
    session: RelaySession
    positions: Positions
    advances: Advances
    publish: Publish
    policy: DrainPolicy
  },
  batch: Batch,
  err: unknown,
  total: DrainResult,
): Promise<DrainResult> {
  await d.advances.settled()
  // A lease found lost before the publish: nothing went out, and nothing may be parked in
  // partitions another relay owns now. The loop rejoins at once (failures.ts).
  if (err instanceof OwnershipLostError) throw err
  const result = await onPublishFailure(d.session.sql, batch.messages, err, d.publish, d.policy)
  total.published += result.published
  total.retryAt = result.retryAt
  if (result.unavailable) throw new BrokerUnavailableError(err)
  await d.advances.complete(batch, []) // publish-failure.ts marked what it published
  d.positions.reset() // the batch claimed behind this one is dropped; the next claims after it
  return total
}
