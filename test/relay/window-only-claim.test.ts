/**
 * While nothing is parked, the relay claims with the window-only statement (claim-window.ts):
 * it returns what the whole claim would, and it says so instead of claiming when something is
 * parked, after which the relay claims in full for PARKED_RECHECK_MS (src/relay/batch.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClaimRequest, claim } from '../../src/outbox/queries'
import { PARKED_RECHECK_MS, windowOnly } from '../../src/relay/batch'
import { drain } from '../../src/relay/drain'
import { positionsOf } from '../../src/relay/positions'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { park } from '../helpers/outbox-state'

describe('windowOnly', () => {
  it('is allowed once PARKED_RECHECK_MS passed since something was found parked', () => {
    expect(windowOnly(5000, Number.NEGATIVE_INFINITY)).toBe(true)
    expect(windowOnly(5000, 5000 - PARKED_RECHECK_MS)).toBe(true)
    expect(windowOnly(5000, 5001 - PARKED_RECHECK_MS)).toBe(false)
    expect(windowOnly(5000, 5000)).toBe(false)
  })
})

let db: TestDatabase
const sessions: RelaySession[] = []
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await db.close()
})

const insert = (n: number, aggregate?: string) => db.sql`
  insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
  select gen_random_uuid(), 'OrderNoted', coalesce(${aggregate ?? null}, gen_random_uuid()::text),
         '{}', now()
    from generate_series(1, ${n})`

/** Parks the newest event of `aggregate` as a dead letter, as a failed publish would. */
const deadLetter = (aggregate: string) =>
  park(db.sql, db.sql`id = (select max(id) from outbox where aggregate_id = ${aggregate})`, {
    attempts: 1,
    failure: 'permanent',
    lastError: 'test',
    deadAgo: '0',
  })

async function snapshot(): Promise<string> {
  const [row] = await db.sql<{ s: string }[]>`select pg_current_snapshot()::text as s`
  return row?.s ?? ''
}

/** A relay session that owns all 64 partitions: the previous test's is closed first. */
async function joined(name: string, sent?: string[]): Promise<RelaySession> {
  await sessions.pop()?.close()
  const session = new RelaySession(db.url, name, sent ? { debug: (q) => sent.push(q) } : {})
  sessions.push(session)
  await session.rebalance()
  expect(session.owned).toHaveLength(64)
  return session
}

/** A claim of a new window of all the session's partitions, from snapshot `from`. */
function newWindow(session: RelaySession, from: string): ClaimRequest {
  return {
    owned: session.owned,
    from: new Map(session.owned.map((p) => [p, from])),
    after: 0,
    inFlight: [],
    limit: 100,
    topicTemplate: '{aggregate_type}.events',
  }
}

describe('the window-only claim', () => {
  it('returns what the whole claim returns, batch after batch, while nothing is parked', async () => {
    const session = await joined('test-window-only')
    const from = await snapshot()
    await insert(250)
    const request = newWindow(session, from)
    const full = await claim(session.sql, request)
    expect(full.messages).toHaveLength(100)
    // Its upper snapshot given: a new one would differ whenever another database's transaction
    // started in between (transaction ids are the server's).
    expect(await claim(session.sql, { ...request, to: full.to, windowOnly: true })).toEqual(full)
    // The same window, continued: its snapshot and id range as the first claim found them.
    const next = { ...request, to: full.to, range: full.range, after: full.lastWindowId ?? 0 }
    const last = { ...next, after: next.after + 100 }
    for (const r of [next, last]) {
      expect(await claim(session.sql, { ...r, windowOnly: true })).toEqual(
        await claim(session.sql, r),
      )
    }
    expect((await claim(session.sql, { ...last, windowOnly: true })).exhausted).toBe(true)
  })

  it('claims nothing and says so when something is parked', async () => {
    const session = await joined('test-window-only-parked')
    const from = await snapshot()
    await insert(3, 'held-aggregate')
    await deadLetter('held-aggregate')
    const request = newWindow(session, from)
    const lean = await claim(session.sql, { ...request, windowOnly: true })
    expect(lean).toMatchObject({ parkedFound: true, messages: [], windowRows: 0 })
    // The whole claim holds the aggregate's events back behind its dead letter (parks them).
    const full = await claim(session.sql, request)
    expect(full).toMatchObject({ windowRows: 3, messages: [] })
    expect(full.parkedFound).toBeUndefined()
    await db.sql`update outbox_parked set published_at = now()` // discarded, as the CLI does
    const after = await claim(session.sql, { ...request, windowOnly: true })
    expect(after.parkedFound).toBeUndefined()
    expect(after.windowRows).toBe(3)
  })
})

describe('the relay', () => {
  const policy = {
    maxAttempts: 10,
    backoff: { baseMs: 100, capMs: 1000 },
    topicTemplate: '{aggregate_type}.events',
  }
  const claimsIn = (sent: string[]) => ({
    windowOnly: sent.filter((q) => q.includes('"anyParked"')).length,
    full: sent.filter((q) => q.includes('insert into outbox_parked')).length,
  })

  it('claims window-only while nothing is parked, in full for a while once something is', async () => {
    const sent: string[] = []
    const session = await joined('test-window-only-relay', sent)
    const published: string[] = []
    const publish = async (ms: readonly { aggregateId: string }[]) => {
      published.push(...ms.map((m) => m.aggregateId))
    }
    await drain(session, 100, publish, policy) // what the tests above left
    await insert(5)
    sent.length = 0
    published.length = 0
    await drain(session, 100, publish, policy)
    expect(published).toHaveLength(5)
    expect(claimsIn(sent)).toEqual({ windowOnly: 2, full: 0 }) // the batch, then an empty one

    await insert(2, 'poisoned')
    await deadLetter('poisoned')
    await insert(1, 'poisoned')
    await insert(1)
    sent.length = 0
    published.length = 0
    const seenFrom = performance.now()
    await drain(session, 100, publish, policy)
    // Tried window-only once, which found the dead letter; in full from then on (for a second).
    const drained = performance.now() - seenFrom
    if (drained < PARKED_RECHECK_MS) expect(claimsIn(sent).windowOnly).toBe(1)
    else expect(claimsIn(sent).windowOnly).toBeGreaterThanOrEqual(1)
    expect(claimsIn(sent).full).toBeGreaterThanOrEqual(1)
    // The dead letter's aggregate is held back; the other event goes out.
    expect(published.filter((a) => a === 'poisoned')).toEqual(['poisoned'])
    expect(published).toHaveLength(2)
    if (performance.now() - seenFrom < PARKED_RECHECK_MS) {
      sent.length = 0
      await drain(session, 100, publish, policy)
      expect(claimsIn(sent)).toMatchObject({ windowOnly: 0 })
    }
  })

  it('claims again and again with one plan while nothing moves, and with a new one after', async () => {
    const session = await joined('test-window-only-plan')
    const published: string[] = []
    const publish = async (ms: readonly { aggregateId: string }[]) => {
      published.push(...ms.map((m) => m.aggregateId))
    }
    const positions = positionsOf(session)
    await drain(session, 100, publish, policy) // what the tests above left
    // The first drain after one that published starts again from what was acknowledged.
    await drain(session, 100, publish, policy)
    published.length = 0
    const idle = positions.plan()
    expect(idle).toBeDefined()
    for (let i = 0; i < 3; i++) {
      expect(await drain(session, 100, publish, policy)).toEqual({ claimed: 0, published: 0 })
    }
    expect(positions.plan()).toBe(idle)

    await insert(3, 'moved')
    await drain(session, 100, publish, policy)
    expect(published).toEqual(['moved', 'moved', 'moved'])
    const after = positions.plan()
    expect(after).not.toBe(idle)
    // Claimed from the new plan: the three are not claimed again, a fourth is.
    await insert(1, 'fourth')
    await drain(session, 100, publish, policy)
    expect(published).toEqual(['moved', 'moved', 'moved', 'fourth'])
  })
})
