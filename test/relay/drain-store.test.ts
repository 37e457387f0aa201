/**
 * A drain that published a batch's worth or more (a backlog) stores its positions as it ends;
 * a shorter one leaves the store to the FLUSH_MS timer (src/relay/positions.ts), so a sparse
 * stream writes its position at most once a second.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { drain } from '../../src/relay/drain'
import { FLUSH_MS } from '../../src/relay/positions'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { positionsPassed } from '../helpers/ledger'

let db: TestDatabase
let session: RelaySession
beforeAll(async () => {
  db = await createTestDatabase()
  session = new RelaySession(db.url, 'test-drain-store')
  await session.rebalance()
})
afterAll(async () => {
  await session.close()
  await db.close()
})

const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  topicTemplate: '{aggregate_type}.events',
}

/** Inserts `n` events in one transaction; returns its id. */
async function insert(n: number): Promise<string> {
  const [row] = await db.sql.begin(async (tx) => {
    await tx`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      select gen_random_uuid(), 'OrderNoted', gen_random_uuid()::text, '{}', now()
        from generate_series(1, ${n})`
    return tx<{ xid: string }[]>`select pg_current_xact_id()::text as xid`
  })
  return row?.xid ?? ''
}

it('stores the positions at the end of a backlog, and leaves a short drain to the timer', async () => {
  expect(session.owned).toHaveLength(64)
  const backlog = await insert(250)
  // Before the drain's own store: the timer's second is counted from that store or later.
  const stored = performance.now()
  expect(await drain(session, 100, async () => {}, policy)).toMatchObject({ published: 250 })
  expect((await positionsPassed(db.sql, backlog)).done).toBe(true)

  const few = await insert(5)
  expect(await drain(session, 100, async () => {}, policy)).toMatchObject({ published: 5 })
  const early = await positionsPassed(db.sql, few)
  if (performance.now() - stored < FLUSH_MS) expect(early.done).toBe(false)
  // The timer stores them within FLUSH_MS.
  await expect
    .poll(async () => (await positionsPassed(db.sql, few)).done, { timeout: 3 * FLUSH_MS })
    .toBe(true)
})
