/** The inventory consumer in the test process, logging into memory for assertions. */
import { startInventoryConsumer } from '../../src/consumer/consumer'
import type { Db } from '../../src/db/client'
import { memoryLogger } from './memory-logger'

export async function startTestConsumer(db: Db, bootstrap: string, topic: string) {
  const memory = memoryLogger()
  const consumer = await startInventoryConsumer({
    db,
    brokers: bootstrap.split(','),
    topic,
    groupId: 'inventory',
    clientId: 'inventory-test',
    commitIntervalMs: 100,
    logger: memory.logger,
  })
  return { consumer, log: memory.lines }
}
