import { asc, inArray, isNull, sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { outbox } from '../db/schema'
import type { OutboxMessage, Publish } from './publish'

/**
 * One claim-publish-mark cycle, in one transaction:
 *  1. claim the oldest unpublished rows, FOR UPDATE SKIP LOCKED (another relay's in-flight rows
 *     are skipped, not waited on);
 *  2. publish them and wait for the broker's acknowledgement;
 *  3. mark them published and commit.
 * If publishing fails, the transaction rolls back: nothing is marked and the rows are claimed
 * again later. If the process dies after the broker acknowledged but before the commit, the
 * rows are published again: that is the at-least-once duplicate consumers dedupe by `ce_id`.
 * Returns how many rows were published.
 */
export async function drainBatch(db: Db, batchSize: number, publish: Publish): Promise<number> {
  return db.transaction(async (tx) => {
    const batch: OutboxMessage[] = await tx
      .select({
        id: outbox.id,
        eventId: outbox.eventId,
        eventType: outbox.eventType,
        aggregateId: outbox.aggregateId,
        payload: outbox.payload,
        occurredAt: outbox.occurredAt,
      })
      .from(outbox)
      .where(isNull(outbox.publishedAt))
      .orderBy(asc(outbox.id))
      .limit(batchSize)
      .for('update', { skipLocked: true })
    if (batch.length === 0) return 0
    await publish(batch)
    await tx
      .update(outbox)
      .set({ publishedAt: sql`now()` })
      .where(
        inArray(
          outbox.id,
          batch.map((m) => m.id),
        ),
      )
    return batch.length
  })
}
