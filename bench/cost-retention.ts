/**
 * What retention costs after the `cost` scenario's events were published (cost.ts): every
 * published event deleted in batches of 1,000 by the design's own retention statement, then a
 * plain VACUUM of the outbox with no snapshot held. Per event deleted: the deletes' WAL and row
 * versions, and the vacuum's WAL and buffers (heap and index blocks, hit or read): what a vacuum
 * pays to take back what row DELETEs leave behind.
 */
import type postgres from 'postgres'
import type { CostRelay } from './cost-designs'
import {
  readBlocks,
  readTables,
  readWal,
  type TableCounts,
  tablesBetween,
  walBetween,
} from './cost-measure'

export type RetentionCost = {
  deleted: number
  deleteWalBytesPerEvent: number
  deleteRows: TableCounts
  vacuumWalBytesPerEvent: number
  vacuumBuffersPerEvent: number
  vacuumMs: number
}

export async function retentionCost(
  reader: postgres.Sql,
  relay: CostRelay,
): Promise<RetentionCost> {
  const flushReader = async () => {
    await reader`select pg_stat_force_next_flush()`
    await reader`select 1`
    await new Promise((r) => setTimeout(r, 50))
  }
  await flushReader()
  const w0 = await readWal(reader)
  const t0 = await readTables(reader)
  const deleted = await relay.retainNothing()
  await relay.flushStats()
  await new Promise((r) => setTimeout(r, 1200)) // backends flush their row counters when idle
  const w1 = await readWal(reader)
  const t1 = await readTables(reader)
  if (deleted === 0) throw new Error('retention deleted nothing')
  const b0 = await readBlocks(reader)
  const started = performance.now()
  await reader`vacuum outbox`
  const vacuumMs = performance.now() - started
  await flushReader()
  const b1 = await readBlocks(reader)
  const w2 = await readWal(reader)
  return {
    deleted,
    deleteWalBytesPerEvent: (await walBetween(reader, w0, w1)).bytes / deleted,
    deleteRows: tablesBetween(t0, t1),
    vacuumWalBytesPerEvent: (await walBetween(reader, w1, w2)).bytes / deleted,
    vacuumBuffersPerEvent: (b1 - b0) / deleted,
    vacuumMs,
  }
}
