/** Partition ownership is per database: relays of other databases on one server are not peers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claim } from '../../src/outbox/queries'
import { RelaySession } from '../../src/relay/session'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

let a: TestDatabase
let b: TestDatabase
const sessions: RelaySession[] = []
beforeAll(async () => {
  ;[a, b] = await Promise.all([createTestDatabase(), createTestDatabase()])
})
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()))
  await Promise.all([a.close(), b.close()])
})

describe('RelaySession.rebalance', () => {
  it('a lone relay owns all 64 partitions of its database, whatever runs in the others', async () => {
    const inA = new RelaySession(a.url, 'test-relay-a')
    const inB = new RelaySession(b.url, 'test-relay-b')
    sessions.push(inA, inB)
    await inA.rebalance()
    await inB.rebalance()
    // Both have joined: neither may count the other as a peer and give partitions away.
    await inA.rebalance()
    await inB.rebalance()
    expect(inA.owned).toHaveLength(64)
    expect(inB.owned).toHaveLength(64)
  })

  it('two relays of one database split the partitions', async () => {
    const second = new RelaySession(a.url, 'test-relay-a2')
    sessions.push(second)
    const first = sessions[0] as RelaySession
    await second.rebalance()
    await first.rebalance() // gives back its surplus
    await second.rebalance() // takes its share
    expect(first.owned.length + second.owned.length).toBe(64)
    expect(second.owned).toHaveLength(32)
    expect(new Set([...first.owned, ...second.owned]).size).toBe(64)
  })
})

describe('a claim proves its session still holds the locks', () => {
  it('intact while they are held; not once they were released on its own backend', async () => {
    const c = await createTestDatabase()
    const session = new RelaySession(c.url, 'test-relay-intact')
    sessions.push(session)
    await session.rebalance()
    expect(session.owned).toHaveLength(64)
    const [{ snapshot } = { snapshot: '' }] = await c.sql<{ snapshot: string }[]>`
      select pg_current_snapshot()::text as snapshot`
    await c.sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      select gen_random_uuid(), 'OrderNoted', gen_random_uuid()::text, '{}', now()
        from generate_series(1, 200)`
    const request = {
      owned: session.owned,
      from: new Map(session.owned.map((p) => [p, snapshot])),
      after: 0,
      inFlight: [],
      limit: 10,
      topicTemplate: '{aggregate_type}.events',
    }
    const first = await claim(session.sql, request)
    expect(first.messages).toHaveLength(10)
    expect(first.intact).toBe(true)
    // Proving it takes the sentinel back: the second claim finds it held again.
    expect((await claim(session.sql, request)).intact).toBe(true)
    // What a pooler's DISCARD ALL does to a session's locks.
    await session.sql`select pg_advisory_unlock_all()`
    const after = await claim(session.sql, request)
    expect(after.messages).toHaveLength(10)
    expect(after.intact).toBe(false)
    expect(() => session.proveIntact(false, 0)).toThrow(/holds no partition locks/)
    expect(session.owned).toEqual([])
    await session.close()
    await c.close()
  })
})

describe('RelaySession timeouts', () => {
  it('a claim that meets a table lock held elsewhere fails after lock_timeout instead of hanging', async () => {
    const session = new RelaySession(a.url, 'test-relay-lock-timeout')
    sessions.push(session)
    let release: () => void = () => {}
    const released = new Promise<void>((r) => {
      release = r
    })
    let locked: () => void = () => {}
    const isLocked = new Promise<void>((r) => {
      locked = r
    })
    // An operator's or a migration's lock, held for longer than lock_timeout (2 s).
    const holder = a.sql.begin(async (tx) => {
      await tx`lock table outbox in access exclusive mode`
      locked()
      await released
    })
    const timer = setTimeout(release, 6000)
    try {
      await isLocked
      const started = Date.now()
      const from = new Map([[0, '1:1:']])
      const request = {
        owned: [0, 1, 2],
        from,
        after: 0,
        inFlight: [],
        limit: 10,
        topicTemplate: '{aggregate_type}.events',
      }
      await expect(claim(session.sql, request)).rejects.toMatchObject({
        code: '55P03', // lock_not_available
      })
      expect(Date.now() - started).toBeLessThan(4000)
    } finally {
      clearTimeout(timer)
      release()
      await holder
    }
  })
})
