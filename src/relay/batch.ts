/**
 * One claim's batch (drain.ts): claimed with whatever the relay loop sends alongside, and, once
 * done, its advance written behind the previous batch's.
 */
import { markPublished } from '../outbox/parked'
import type { Position } from '../outbox/position-queries'
import { type ClaimedMessage, claim } from '../outbox/queries'
import { alongside } from './alongside'
import type { Positions } from './positions'
import type { RelaySession } from './session'

/** One claim's outcome: what to publish, and where the positions stand once it is done. */
export type Batch = {
  messages: ClaimedMessage[]
  advance: Map<number, Position>
  /** Rows of the window and parked ones it returned, held-back ones included. */
  rows: number
  /** It began a new window (rather than continuing one). */
  fresh: boolean
}

/**
 * After a claim found something parked, the relay claims in full (parked events too) for this
 * long before it tries a window-only claim again. Dead letters stay parked until an operator
 * acts; meanwhile a window-only claim that finds them costs one extra round trip this often.
 */
export const PARKED_RECHECK_MS = 1000

/** Whether the next claim may be window-only: nothing was found parked for PARKED_RECHECK_MS. */
export function windowOnly(now: number, parkedSeenAt: number): boolean {
  return now - parkedSeenAt >= PARKED_RECHECK_MS
}

/** performance.now() when a claim of this session last found something parked. */
const parkedSeenAt = new WeakMap<RelaySession, number>()

export async function claimBatch(
  session: RelaySession,
  positions: Positions,
  o: {
    batchSize: number
    topicTemplate: string
    /** Sent in the claim's round trip (DrainPolicy.withClaim). */
    withClaim?: () => Promise<unknown>
    inFlight: ClaimedMessage[]
  },
): Promise<Batch> {
  const plan = positions.plan()
  if (!plan) return { messages: [], advance: new Map(), rows: 0, fresh: true }
  const request = {
    ...plan,
    owned: session.owned,
    inFlight: o.inFlight.filter((m) => m.parked).map((m) => m.id),
    limit: o.batchSize,
    topicTemplate: o.topicTemplate,
  }
  let sentAt = performance.now()
  const lean = windowOnly(sentAt, parkedSeenAt.get(session) ?? Number.NEGATIVE_INFINITY)
  let [result] = await alongside(
    claim(session.sql, { ...request, windowOnly: lean }),
    o.withClaim?.() ?? Promise.resolve(),
  )
  if (result.parkedFound || result.messages.some((m) => m.parked)) {
    parkedSeenAt.set(session, performance.now())
  }
  if (result.parkedFound) {
    sentAt = performance.now()
    result = await claim(session.sql, request)
  }
  if (result.intact !== undefined) session.proveIntact(result.intact, sentAt)
  const advance = positions.claimed(plan, result)
  const rows = result.windowRows + result.messages.filter((m) => m.parked).length
  return { messages: result.messages, advance, rows, fresh: plan.to === undefined }
}

/** The done batches' advances, each written behind the one before. */
export class Advances {
  /** The previous batch's advance, still being written while the next batch is published. */
  #completing: Promise<void> = Promise.resolve()

  constructor(
    private readonly session: RelaySession,
    private readonly positions: Positions,
    private readonly batchSize: number,
  ) {}

  /** The batch is done; `published`: its parked events to mark (after a failure: none left). */
  async complete(done: Batch, published: readonly ClaimedMessage[] = done.messages): Promise<void> {
    await this.#completing
    await this.session.confirmLease() // frozen since its claim: prove ownership before storing
    this.positions.done(done.advance, done.rows)
    // Either may reach Postgres first: both follow the acknowledgement, each true on its own.
    this.#completing = Promise.all([
      markPublished(this.session.sql, published),
      this.positions.flush(this.session, this.batchSize),
    ]).then(() => {})
    this.#completing.catch(() => {}) // awaited at the next step or on the way out
  }

  /** Waits for the last advance written (and throws its failure). */
  settled(): Promise<void> {
    return this.#completing
  }
}
