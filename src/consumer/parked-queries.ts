/** inventory.parked_messages: the consumer's poison messages, one named function per statement. */
import { and, asc, eq, isNull } from 'drizzle-orm'
import type { Executor } from '../db/client'
import { parkedMessages } from '../db/schema'

export type NewParked = Omit<
  typeof parkedMessages.$inferInsert,
  'id' | 'parkedAt' | 'releasedAt' | 'resolution'
>
export type ParkedMessage = typeof parkedMessages.$inferSelect

export async function parkMessage(db: Executor, message: NewParked): Promise<number> {
  const [row] = await db.insert(parkedMessages).values(message).returning({ id: parkedMessages.id })
  if (!row) throw new Error('insert into inventory.parked_messages returned no row')
  return row.id
}

/** Messages still parked, oldest first. */
export async function listParked(db: Executor, limit: number): Promise<ParkedMessage[]> {
  return db
    .select()
    .from(parkedMessages)
    .where(isNull(parkedMessages.releasedAt))
    .orderBy(asc(parkedMessages.parkedAt), asc(parkedMessages.id))
    .limit(limit)
}

/** One parked message, locked until commit (so two operators cannot release it twice). */
export async function lockParked(db: Executor, id: number): Promise<ParkedMessage | undefined> {
  const [row] = await db
    .select()
    .from(parkedMessages)
    .where(eq(parkedMessages.id, id))
    .for('update')
  return row
}

export async function releaseParked(
  db: Executor,
  id: number,
  resolution: 'retried' | 'skipped',
): Promise<void> {
  await db
    .update(parkedMessages)
    .set({ releasedAt: new Date(), resolution })
    .where(and(eq(parkedMessages.id, id), isNull(parkedMessages.releasedAt)))
}
