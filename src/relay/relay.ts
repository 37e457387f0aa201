/**
 * The relay loop. It reads top to bottom:
 *
 *   until aborted:
 *     drain: claim-publish-mark batches until one comes back short
 *     wait for the first of: a doorbell ring (NOTIFY or re-LISTEN), the poll timer, abort
 *   on a failed drain: back off (exponential, full jitter), then try again
 *
 * A notification is only a latency hint: the poll timer alone would deliver everything, a
 * little later. Shutdown is checked between batches, so a batch in hand is either finished
 * (published, marked, committed) or abandoned by the caller closing the connection (rolled
 * back): nothing is ever marked published without the broker's acknowledgement.
 */
import type { Db } from '../db/client'
import type { Logger } from '../logger'
import { type BackoffOptions, backoffDelay } from './backoff'
import { type Doorbell, sleep } from './doorbell'
import { drainBatch } from './drain'
import type { Publish } from './publish'

export type RelayOptions = {
  db: Db
  publish: Publish
  doorbell: Doorbell
  logger: Logger
  batchSize: number
  pollIntervalMs: number
  backoff: BackoffOptions
  signal: AbortSignal
}

export async function runRelay(o: RelayOptions): Promise<void> {
  let failures = 0
  while (!o.signal.aborted) {
    try {
      o.doorbell.clear()
      await drainAll(o)
      if (failures > 0) o.logger.info({ failures }, 'relay recovered; publishing again')
      failures = 0
      await o.doorbell.wait(o.pollIntervalMs, o.signal)
    } catch (err) {
      failures += 1
      // Log once per state change (healthy -> failing), not once per attempt.
      if (failures === 1) o.logger.warn({ err }, 'publishing failed; retrying with backoff')
      await sleep(backoffDelay(failures, o.backoff), o.signal)
    }
  }
}

async function drainAll(o: RelayOptions): Promise<void> {
  while (!o.signal.aborted) {
    const published = await drainBatch(o.db, o.batchSize, o.publish)
    if (published < o.batchSize) return
  }
}
