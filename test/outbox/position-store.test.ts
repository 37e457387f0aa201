/**
 * A position store is fenced by the owner locks its session holds as it runs
 * (src/outbox/position-queries.ts): after the locks were released on the same backend (what a
 * pooler's DISCARD ALL does), the pid still matches, and the store must write nothing over the
 * new owner's positions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LOCK } from '../../src/outbox/locks'
import { loadPositions, storePositions } from '../../src/outbox/position-queries'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.close())

describe('storePositions', () => {
  it('writes the partitions its session holds and, on the same backend after an unlock, none', async () => {
    const relay = await db.sql.reserve()
    try {
      const [me] = await relay<{ pid: number }[]>`select pg_backend_pid() as pid`
      const pid = me?.pid ?? -1
      await relay`select pg_advisory_lock(${LOCK.owner}, 3)`
      const snapshot = async () =>
        (await db.sql<{ s: string }[]>`select pg_current_snapshot()::text as s`)[0]?.s ?? ''
      // Two transactions apart: the snapshots differ.
      const first = await snapshot()
      await db.sql`select pg_current_xact_id()`
      const second = await snapshot()
      expect(second).not.toBe(first)

      // Partition 3 is held, partition 4 is not: only 3 is written.
      const before4 = (await loadPositions(db.sql, [4])).get(4)?.snapshot
      await storePositions(
        relay,
        pid,
        new Map([
          [3, { snapshot: first }],
          [4, { snapshot: first }],
        ]),
      )
      expect((await loadPositions(db.sql, [3])).get(3)?.snapshot).toBe(first)
      expect((await loadPositions(db.sql, [4])).get(4)?.snapshot).toBe(before4)

      // The locks go on the same backend; the pid still matches.
      await relay`select pg_advisory_unlock_all()`
      await storePositions(relay, pid, new Map([[3, { snapshot: second }]]))
      expect((await loadPositions(db.sql, [3])).get(3)?.snapshot).toBe(first)
    } finally {
      relay.release()
    }
  })
})
