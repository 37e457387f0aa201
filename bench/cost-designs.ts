/**
 * The designs the `cost` scenario (cost.ts) measures side by side: each makes a database of its
 * schema and drives its relay's publish path with a broker that acknowledges at once.
 */

import { migrate } from 'drizzle-orm/postgres-js/migrator'
import type postgres from 'postgres'
import { createDb } from '../src/db/client'
import { migrateDatabase } from '../src/db/migrate'
import { deleteBatch } from '../src/outbox/retention-queries'
import { drain } from '../src/relay/drain'
import { RelaySession } from '../src/relay/session'
import { migrationsUpTo } from '../test/helpers/previous-schema'
import { previousDrain, previousRetentionBatch } from './cost-previous'
import { createBenchDatabase, dropBenchDatabase } from './targets'

export type CostRelay = {
  sql: postgres.Sql
  /** Claims, publishes (acknowledged at once) and records until nothing is left; how many. */
  drainAll(): Promise<number>
  /** One claim statement as the relay sends it on an idle outbox. */
  claimOnce(): Promise<unknown>
  /** Deletes every published event in batches of 1,000, as its retention does; how many. */
  retainNothing(): Promise<number>
  /** Its backend's counters into the shared statistics. */
  flushStats(): Promise<void>
  close(): Promise<void>
}

export type CostDesign = {
  name: string
  createDatabase(serverUrl: string): Promise<string>
  dropDatabase(url: string): Promise<void>
  relay(url: string): Promise<CostRelay>
}

const BATCH = 1000
const policy = {
  maxAttempts: 10,
  backoff: { baseMs: 100, capMs: 1000 },
  topicTemplate: '{aggregate_type}.events',
}

/** This repository's relay, as it is: positions, nothing written per event (issue 32). */
const current: CostDesign = {
  name: 'positions',
  async createDatabase(serverUrl) {
    const url = await createBenchDatabase(serverUrl, `cost_${Date.now()}`)
    await migrateDatabase(url)
    return url
  },
  dropDatabase: dropBenchDatabase,
  async relay(url) {
    const session = new RelaySession(url, 'bench-cost-relay')
    await session.join()
    await session.rebalance()
    return {
      sql: session.sql,
      async drainAll() {
        const r = await drain(session, BATCH, async () => {}, policy)
        return r.published
      },
      // On an idle outbox a drain is one claim that finds nothing.
      claimOnce: () => drain(session, BATCH, async () => {}, policy),
      async retainNothing() {
        let range = { afterId: 0, horizon: Number.MAX_SAFE_INTEGER }
        for (let n = 0; ; ) {
          const batch = await deleteBatch(session.sql, 0, BATCH, range)
          if (batch.count === 0) return n
          n += batch.count
          range = { ...range, afterId: batch.lastId }
        }
      },
      async flushStats() {
        await session.sql`select pg_stat_force_next_flush()`
        await session.sql`select 1`
      },
      close: () => session.close(),
    }
  },
}

/** The design before issue 32: a mark (an UPDATE) per event, on the schema of drizzle/0013. */
const previous: CostDesign = {
  name: 'marks',
  async createDatabase(serverUrl) {
    const url = await createBenchDatabase(serverUrl, `cost_${Date.now()}`)
    const upTo = await migrationsUpTo(13)
    const { db, sql } = createDb(url, { max: 1, applicationName: 'bench-cost-migrate' })
    try {
      await migrate(db, { migrationsFolder: upTo.folder })
    } finally {
      await sql.end()
      await upTo.remove()
    }
    return url
  },
  dropDatabase: dropBenchDatabase,
  async relay(url) {
    const session = new RelaySession(url, 'bench-cost-relay')
    await session.join()
    await session.rebalance()
    return {
      sql: session.sql,
      drainAll: () => previousDrain(session.sql, session.owned, BATCH),
      claimOnce: () => previousDrain(session.sql, session.owned, BATCH),
      async retainNothing() {
        for (let n = 0, afterId = 0; ; ) {
          const ids = await previousRetentionBatch(session.sql, afterId, BATCH)
          if (ids.length === 0) return n
          n += ids.length
          afterId = Math.max(...ids)
        }
      },
      async flushStats() {
        await session.sql`select pg_stat_force_next_flush()`
        await session.sql`select 1`
      },
      close: () => session.close(),
    }
  },
}

const designs: Record<string, CostDesign> = { marks: previous, positions: current }

export function costDesigns(names = Object.keys(designs)): CostDesign[] {
  return names.map((n) => {
    const d = designs[n]
    if (!d)
      throw new Error(`unknown cost design "${n}" (known: ${Object.keys(designs).join(', ')})`)
    return d
  })
}
