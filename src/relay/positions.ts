/**
 * Where this relay stands in each partition it owns: the only owner of that state.
 *
 * A position is a snapshot S: every event of the partition whose writing transaction is visible
 * in S is published (acknowledged) or parked. The next window is the events visible in a newer
 * snapshot T and not in S, claimed in id order (src/outbox/queries.ts); once all of them are
 * done, the position is T. A window too large for one batch is claimed in id order up to the
 * last id claimed (`window.after`), and is finished before a new one begins.
 *
 * Why nothing committed is skipped: an event is claimed in the first window whose upper
 * snapshot sees its transaction committed, whatever its id, however long its writer stayed
 * open (a late commit appears in S's list of running transactions, or at or above S's xmax).
 * Why per-aggregate order holds for writers that serialize on their aggregate: the second
 * writer inserts after the first committed, so any snapshot that sees the second sees the first
 * (a committing backend leaves the proc array before releasing its locks), and its id is higher:
 * same window and later in it, or a later window.
 *
 * Two frontiers: `claimed` moves when a claim returns (the next claim continues from it, while
 * the previous batch is still in flight), `acked` when a batch is done (acknowledged, or parked
 * after a failure). A failure resets `claimed` to `acked`. Only `acked` is stored, by the owning
 * session only (position-queries.ts): once a batch's worth of events is done (under a backlog,
 * after every batch, as a mark was) and when a backlog's drain ends, else at most once every
 * FLUSH_MS. A crash or a partition
 * handed over publishes again the batches in hand and what was done since the last store: less
 * than a batch, or at most FLUSH_MS of events (at least once; docs/outbox.md).
 */

import { loadPositions, type Position, storePositions } from '../outbox/position-queries'
import type { ClaimResult } from '../outbox/queries'
import type { RelaySession } from './session'

export const FLUSH_MS = 1000

export type WindowPlan = {
  from: Map<number, string>
  to?: string
  range?: { lo: number; hi: number }
  after: number
}

/** What to claim next: an open window's members first, else a new window for every partition. */
export function nextWindow(
  claimed: ReadonlyMap<number, Position>,
  range?: { to: string; lo: number; hi: number },
): WindowPlan | undefined {
  if (claimed.size === 0) return undefined
  const open = [...claimed.values()].find((p) => p.window)?.window
  if (!open) {
    return { from: new Map([...claimed].map(([p, pos]) => [p, pos.snapshot])), after: 0 }
  }
  const from = new Map<number, string>()
  for (const [p, pos] of claimed) {
    if (pos.window?.to === open.to && pos.window.after === open.after) from.set(p, pos.snapshot)
  }
  const known = range?.to === open.to ? { lo: range.lo, hi: range.hi } : undefined
  return { from, to: open.to, range: known, after: open.after }
}

/** The members' positions once everything this claim returned is done. */
export function advanceOf(plan: WindowPlan, result: ClaimResult): Map<number, Position> {
  const to = plan.to ?? result.to
  if (to === undefined) return new Map() // a new window that found nothing: stay
  const after = result.lastWindowId ?? plan.after
  return new Map(
    [...plan.from].map(([p, snapshot]) => [
      p,
      result.exhausted ? { snapshot: to } : { snapshot, window: { to, after } },
    ]),
  )
}

const key = (p: Position) => `${p.snapshot}|${p.window?.to ?? ''}|${p.window?.after ?? 0}`

export class Positions {
  #joins: number | undefined
  #owned: readonly number[] | undefined
  #claimed = new Map<number, Position>()
  /**
   * The next claim's plan, kept while nothing moved: a lingering relay claims about a thousand
   * times a second, mostly finding nothing, and the plan (with the values derived from it,
   * claim-window.ts) is the same each time. null: not made yet.
   */
  #plan: WindowPlan | undefined | null = null
  /** `claimed` is `acked` as it was at the last reset, and nothing moved since. */
  #fresh = false
  #acked = new Map<number, Position>()
  #stored = new Map<number, string>()
  #range: { to: string; lo: number; hi: number } | undefined
  #lastFlush = 0
  #unstored = 0
  #timer: NodeJS.Timeout | undefined

  /** Keeps the owned partitions' positions, loading those newly owned. */
  async sync(session: RelaySession): Promise<void> {
    if (session.joins === this.#joins && session.owned === this.#owned) return this.reset()
    this.#fresh = false
    if (session.joins !== this.#joins) {
      this.#joins = session.joins
      this.#acked.clear()
      this.#stored.clear()
    }
    const owned = new Set(session.owned)
    for (const p of [...this.#acked.keys()]) {
      if (!owned.has(p)) {
        this.#acked.delete(p)
        this.#stored.delete(p)
      }
    }
    const missing = session.owned.filter((p) => !this.#acked.has(p))
    if (missing.length > 0) {
      for (const [p, pos] of await loadPositions(session.sql, missing)) {
        this.#acked.set(p, pos)
        this.#stored.set(p, key(pos))
      }
    }
    this.#owned = session.owned
    this.reset()
  }

  /** Stores what changed now: before partitions are given back, and at shutdown. */
  store(session: RelaySession): Promise<void> {
    return this.flush(session, 0)
  }

  /** Nothing in flight any more (a drain's start, a failed batch): claim from what is done. */
  reset(): void {
    if (this.#fresh) return
    this.#claimed = new Map(this.#acked)
    this.#plan = null
    this.#fresh = true
  }

  plan(): WindowPlan | undefined {
    if (this.#plan === null) this.#plan = nextWindow(this.#claimed, this.#range)
    return this.#plan
  }

  /** A claim returned: the next one continues after it. Returns the batch's advance. */
  claimed(plan: WindowPlan, result: ClaimResult): Map<number, Position> {
    const advance = advanceOf(plan, result)
    for (const [p, pos] of advance) this.#claimed.set(p, pos)
    const to = plan.to ?? result.to
    if (to !== undefined && result.range) this.#range = { to, ...result.range }
    if (advance.size > 0) this.#moved()
    return advance
  }

  /** A batch of `events` is done (acknowledged, or parked): its advance may be stored. */
  done(advance: Map<number, Position>, events: number): void {
    for (const [p, pos] of advance) if (this.#acked.has(p)) this.#acked.set(p, pos)
    if (advance.size > 0) this.#moved()
    this.#unstored += events
  }

  #moved(): void {
    this.#plan = null
    this.#fresh = false
  }

  /**
   * Stores what changed once `batchSize` events are done since the last store, or FLUSH_MS
   * passed, else makes sure it will be (a timer). The write goes out on the relay's connection
   * behind what was sent before it.
   */
  flush(
    session: RelaySession,
    batchSize = Number.POSITIVE_INFINITY,
    now = Date.now(),
  ): Promise<void> {
    const changed = new Map([...this.#acked].filter(([p, pos]) => this.#stored.get(p) !== key(pos)))
    if (changed.size === 0 || session.pid === undefined) return Promise.resolve()
    if (now - this.#lastFlush < FLUSH_MS && this.#unstored < batchSize) {
      this.#timer ??= setTimeout(
        () => {
          this.#timer = undefined
          this.flush(session).catch(() => {}) // retried with the next batch or timer
        },
        FLUSH_MS - (now - this.#lastFlush),
      ).unref()
      return Promise.resolve()
    }
    this.#lastFlush = now
    this.#unstored = 0
    return storePositions(session.sql, session.pid, changed).then(() => {
      for (const [p, pos] of changed) this.#stored.set(p, key(pos))
    })
  }
}

const positions = new WeakMap<RelaySession, Positions>()

export function positionsOf(session: RelaySession): Positions {
  let found = positions.get(session)
  if (!found) {
    found = new Positions()
    positions.set(session, found)
  }
  return found
}
