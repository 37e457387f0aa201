/** Partition ownership is per database: relays of other databases on one server are not peers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
