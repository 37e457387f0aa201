/**
 * Going to sleep, as it reaches Postgres: the awake locks are released before the trace locks
 * are checked (src/relay/awake.ts, step 2). Recorded with postgres.js's debug hook, which sees
 * each statement as it is written to the relay's one connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enterAwake, leaveAwake } from '../../src/relay/awake'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

describe('leaveAwake', () => {
  it('sends the awake unlock first and the trace check after it, on every call', async () => {
    const sent: string[] = []
    const session = new RelaySession(db.url, 'test-awake-order', { debug: (q) => sent.push(q) })
    try {
      await session.rebalance()
      for (let round = 0; round < 3; round++) {
        await enterAwake(session)
        expect(session.partitions.awake).toHaveLength(64)
        sent.length = 0
        expect(await leaveAwake(session)).toEqual([])
        const unlock = sent.findIndex((q) => q.includes('pg_advisory_unlock('))
        const check = sent.findIndex((q) => q.includes('pg_try_advisory_xact_lock('))
        expect(unlock).toBeGreaterThanOrEqual(0)
        expect(check).toBeGreaterThan(unlock)
      }
    } finally {
      await session.close()
    }
  })
})
