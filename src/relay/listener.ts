import type { Sql } from '../db/client'
import type { Doorbell } from './doorbell'

export const OUTBOX_CHANNEL = 'outbox_events'

/**
 * LISTENs on the outbox channel on a dedicated connection (postgres.js opens one for listen)
 * and rings the doorbell on each notification. `onlisten` runs after the first LISTEN and
 * after every automatic re-LISTEN: notifications sent while the connection was down are not
 * replayed, so every (re)LISTEN rings too, and the relay drains whatever arrived in the gap.
 */
export async function listenForEvents(sql: Sql, doorbell: Doorbell): Promise<() => Promise<void>> {
  const { unlisten } = await sql.listen(
    OUTBOX_CHANNEL,
    () => doorbell.ring('notify'),
    () => doorbell.ring('listen'),
  )
  return unlisten
}
