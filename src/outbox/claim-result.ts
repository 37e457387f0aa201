/**
 * What a claim (queries.ts) returns, and how its rows become messages: each routed once, here.
 */
import type { OutboxMessage } from './message'
import { routeOf } from './routing'

export type ClaimedMessage = OutboxMessage & {
  attempts: number
  /** Came from outbox_parked (a retry, or held back before): its state there is updated. */
  parked: boolean
  partition: number
}

export type ClaimResult = {
  /**
   * Whether the claiming backend still holds its relay's locks (locks.ts, SESSION_INTACT), read
   * in the claim itself, so the relay proves it still owns what it claimed (session.ts);
   * undefined when no row came.
   */
  intact?: boolean
  /** To publish, in order: parked events first, then the window's rows not held back. */
  messages: ClaimedMessage[]
  /** The window's snapshot (undefined when a new window found nothing at all). */
  to?: string
  range?: { lo: number; hi: number }
  /** Rows of the window claimed (held back ones included), and the last one's id. */
  windowRows: number
  lastWindowId?: number
  /** Fewer window rows than there was room for: the window is done. */
  exhausted: boolean
  /** A window-only claim found something parked, and so claimed nothing: claim in full. */
  parkedFound?: boolean
}

/** A row as either claim statement returns it. */
export type Row = Omit<ClaimedMessage, 'id' | 'topic' | 'attempts' | 'parked'> & {
  id: string
  topic: string | null
  /**
   * A window row's aggregate has a parked event not yet out, this one (its id): the row is
   * parked, not published. None from a window-only claim: it holds nothing back, and its rows
   * have no attempts.
   */
  held?: string | null
  attempts?: number
  intact: boolean | null
  anyParked?: boolean
  /** 0: a parked event; 1 (or none, from a window-only claim): a row of the window. */
  src?: number
  to: string
  lo: string | null
  hi: string | null
}

/** The claim's rows as its result; `r`: what the claim asked. */
export function toResult(rows: Row[], r: { limit: number; topicTemplate: string }): ClaimResult {
  // One pass: a batch is up to RELAY_BATCH_SIZE rows.
  const first = rows[0] && {
    intact: rows[0].intact === true,
    to: rows[0].to,
    lo: rows[0].lo,
    hi: rows[0].hi,
  }
  const messages: ClaimedMessage[] = []
  let parked = 0
  let windowRows = 0
  let lastWindowId: number | undefined
  for (const row of rows) {
    if (row.src === 0) parked++
    else {
      windowRows++
      lastWindowId = Number(row.id)
    }
    if (row.held == null) messages.push(toMessage(row, r.topicTemplate))
  }
  return {
    intact: first?.intact,
    messages,
    to: first?.to,
    range:
      first?.lo != null && first.hi != null
        ? { lo: Number(first.lo), hi: Number(first.hi) }
        : undefined,
    windowRows,
    lastWindowId,
    exhausted: windowRows < r.limit - parked,
  }
}

/** The row as a message, routed: the one place a claimed message gets its topic. */
function toMessage(row: Row, topicTemplate: string): ClaimedMessage {
  // A new object of exactly these fields: one made by deleting a row's extra columns would be
  // slower to read for the rest of its way (V8 gives it a dictionary instead of a shape).
  return {
    id: Number(row.id),
    partition: row.partition,
    eventId: row.eventId,
    eventType: row.eventType,
    aggregateType: row.aggregateType,
    aggregateId: row.aggregateId,
    payload: row.payload,
    occurredAt: row.occurredAt,
    sequence: row.sequence,
    schemaVersion: row.schemaVersion,
    traceparent: row.traceparent,
    topic: routeOf(row, topicTemplate),
    headers: row.headers,
    source: row.source,
    attempts: row.attempts ?? 0, // none from a window-only claim
    parked: row.src === 0,
  }
}
