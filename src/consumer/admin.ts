/**
 * What an operator can do with parked messages (`npm run consume -- parked | retry | skip`):
 * list them, handle one again, or give up on one. Each release runs in one transaction with the
 * message's row locked, so it happens once.
 *
 * Skipping is a discard of that version: the consumer handles a discard marker in its place
 * (the event the outbox writes when an operator discards, src/outbox/discard-marker.ts), so
 * the order's parked successors apply at once, without it.
 */
import { randomUUID } from 'node:crypto'
import type { Db, Tx } from '../db/client'
import { DISCARD_MARKER_TYPE, type DiscardMarkerData } from '../outbox/discard-marker'
import { decodeMessage } from './decode'
import { type Handled, handleEvent } from './inventory'
import { lockParked, type ParkedMessage, releaseParked } from './parked-queries'
import { reasonOf } from './poison'

export class ParkedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ParkedError'
  }
}

/** Handles the stored message again; released as `retried` only if it now succeeds. */
export async function retryParked(db: Db, id: number): Promise<Handled> {
  try {
    return await db.transaction(async (tx) => {
      const parked = await waitingParked(tx, id)
      const decoded = decodeMessage(storedMessage(parked), new Date())
      if (!decoded.ok) throw new ParkedError(`message ${id} is not an event: ${decoded.reason}`)
      const handled = await handleEvent(tx, decoded.event)
      await releaseParked(tx, id, 'retried')
      return handled
    })
  } catch (err) {
    if (err instanceof ParkedError) throw err
    throw new ParkedError(`message ${id} failed again, still parked: ${reasonOf(err)}`)
  }
}

/** Gives up on the message: its order goes on without that version. */
export async function skipParked(db: Db, id: number): Promise<Handled | undefined> {
  try {
    return await db.transaction(async (tx) => {
      const parked = await waitingParked(tx, id)
      await releaseParked(tx, id, 'skipped')
      if (!parked.orderId || parked.version === null) return undefined
      const data: DiscardMarkerData = {
        discardedEventId: parked.eventId ?? '',
        discardedEventType: parked.eventType ?? '',
        sequence: parked.version,
      }
      return handleEvent(tx, {
        eventId: randomUUID(),
        type: DISCARD_MARKER_TYPE,
        orderId: parked.orderId,
        version: parked.version,
        data,
        receivedAt: new Date(),
      })
    })
  } catch (err) {
    if (err instanceof ParkedError) throw err
    throw new ParkedError(`could not skip message ${id}, still parked: ${reasonOf(err)}`)
  }
}

async function waitingParked(tx: Tx, id: number): Promise<ParkedMessage> {
  const parked = await lockParked(tx, id)
  if (!parked) throw new ParkedError(`no parked message ${id}`)
  if (parked.releasedAt) {
    throw new ParkedError(
      `message ${id} was already ${parked.resolution} at ${parked.releasedAt.toISOString()}`,
    )
  }
  return parked
}

function storedMessage(parked: ParkedMessage) {
  const headers = Object.fromEntries(
    Object.entries(parked.headers).map(([name, value]) => [
      Buffer.from(name, 'base64').toString(),
      Buffer.from(value, 'base64'),
    ]),
  )
  return { headers, value: parked.value === null ? null : Buffer.from(parked.value, 'base64') }
}
