/**
 * docs/operations.md's count of a relay's database connections, by application name, against
 * real relays in adaptive and in poll mode.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { startTestKafka } from '../helpers/kafka'
import { startTestRelay } from '../helpers/relay'
import { repoPath } from '../helpers/stack-files'
import { waitFor } from '../helpers/wait'

const docs = readFileSync(repoPath('docs/operations.md'), 'utf8').replace(/\s+/g, ' ')
const claim = docs.match(/Each relay opens (\d+) connections \(([^)]*)\); (\d+) in `poll` mode/)

let db: TestDatabase
let kafka: MockKafka
beforeAll(async () => {
  db = await createTestDatabase()
  kafka = startTestKafka('orders.events', { brokers: 1 })
})
afterAll(async () => {
  kafka.close()
  await db.close()
})

/** Connections of this database by application name (this test's own left out). */
async function connections(): Promise<Record<string, number>> {
  const rows = await db.sql<{ name: string; n: number }[]>`
    select application_name as name, count(*)::int as n from pg_stat_activity
     where datname = current_database() and application_name like 'outbox-relay%'
     group by 1`
  return Object.fromEntries(rows.map((r) => [r.name, r.n]))
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0)

describe('docs/operations.md: a relay’s connections', () => {
  it('states the counts', () => {
    expect(claim).not.toBeNull()
  })

  it.each([
    ['adaptive', 1],
    ['poll', 3],
  ])('%s mode opens as many as it says, named as it says', async (mode, index) => {
    const expected = Number(claim?.[index])
    const relay = await startTestRelay(
      {
        databaseUrl: db.url,
        brokers: kafka.bootstrap,
        topic: 'orders.events',
        RELAY_WAKEUP: mode,
      },
      { retentionIntervalMs: 100 }, // its connection opens at the first pass
    )
    try {
      await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`) // the stats connection
      await waitFor(`${expected} connections`, async () => total(await connections()) >= expected)
      // Every part at work once more (metrics, readiness, the LISTEN's watchdog): none opens
      // another connection.
      await fetch(`http://127.0.0.1:${relay.httpPort}/readyz`)
      await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)
      const open = await connections()
      expect(total(open)).toBe(expected)
      for (const name of Object.keys(open)) expect(claim?.[2]).toContain(`\`${name}\``)
      if (mode === 'adaptive') expect(open['outbox-relay-listen']).toBe(2)
    } finally {
      await relay.stop()
      await waitFor('the relay’s connections closed', async () => total(await connections()) === 0)
    }
  })
})
