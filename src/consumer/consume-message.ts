/**
 * One message, start to end: decoded, handled in a transaction (retried, or parked when it
 * keeps failing: poison.ts), counted and logged in one line. Only ids and versions are logged:
 * the event's data (customer ids among it) stays out of the logs.
 */
import type { KafkaMessage } from 'kafkajs'
import type { Db } from '../db/client'
import { isEventType } from '../events/contract'
import type { Logger } from '../logger'
import { DISCARD_MARKER_TYPE } from '../outbox/discard-marker'
import { decodeMessage, type InboxEvent } from './decode'
import { type Handled, handleEvent } from './inventory'
import type { ConsumerMetrics } from './metrics'
import { parkMessage } from './parked-queries'
import { attemptOrGiveUp, classifyFailure, type PoisonPolicy, reasonOf } from './poison'

/**
 * Decodes and handles one message, parking it if it keeps failing; throws (so kafkajs retries
 * it) only if the database is unreachable.
 */
export async function consumeMessage(
  db: Db,
  log: Logger,
  place: { topic: string; partition: number },
  message: KafkaMessage,
  policy: PoisonPolicy,
  metrics: ConsumerMetrics,
): Promise<void> {
  const decoded = decodeMessage(message, new Date())
  if (!decoded.ok) {
    // Not an event (no usable envelope, or a value that is not JSON): set aside too, so it is
    // visible and countable, though it holds nothing back (it belongs to no known order).
    const id = await parkMessage(db, {
      ...stored(place, message),
      reason: `not an event: ${decoded.reason.replace(/\s*\n\s*/g, '; ')}`,
      attempts: 1,
    })
    metrics.handled('skipped')
    metrics.parked()
    log.error({ parkedId: id, reason: decoded.reason }, 'parked: not an event')
    return
  }
  const { event } = decoded
  // Ids and versions only: the event's data (customer ids among it) stays out of the logs.
  const eventLog = log.child({
    eventId: event.eventId,
    type: event.type,
    orderId: event.orderId,
    version: event.version,
  })
  const outcome = await attemptOrGiveUp(
    () => db.transaction((tx) => handleEvent(tx, event)),
    policy,
    (err, attempts) =>
      eventLog.warn({ reason: reasonOf(err), attempts }, 'could not handle the event; retrying'),
  ).catch((err: unknown) => {
    if (classifyFailure(err) === 'unavailable')
      // kafkajs logs nothing (NOTHING above), so this is the one line about the failure.
      eventLog.warn({ reason: reasonOf(err) }, 'database unavailable; it will be delivered again')
    throw err
  })
  if (!outcome.ok) {
    await parkEvent(db, eventLog, { ...stored(place, message), event }, outcome)
    metrics.parked()
    return
  }
  metrics.handled(outcome.value.outcome === 'parked' ? 'gap' : outcome.value.outcome)
  report(eventLog, event, outcome.value)
}

/** An event that kept failing, set aside with its reason; its order's later events wait. */
async function parkEvent(
  db: Db,
  log: Logger,
  { event, ...message }: ReturnType<typeof stored> & { event: InboxEvent },
  { reason, attempts }: { reason: string; attempts: number },
): Promise<void> {
  const id = await parkMessage(db, {
    ...message,
    eventId: event.eventId,
    // A text column cannot hold U+0000, and the type comes from anyone who can write a header.
    eventType: event.type.replaceAll('\u0000', '\\u0000'),
    orderId: event.orderId,
    version: event.version,
    reason,
    attempts,
  })
  log.error(
    { parkedId: id, reason, attempts },
    'parked: set aside after its retries; later events of its order wait behind it (npm run consume -- parked)',
  )
}

/**
 * Where the message was and its bytes, base64 (header names too: a jsonb key cannot hold
 * U+0000 either): enough to handle it again later, whatever it holds.
 */
function stored(place: { topic: string; partition: number }, message: KafkaMessage) {
  return {
    ...place,
    offset: message.offset,
    key: message.key?.toString('base64') ?? null,
    headers: encodeHeaders(message),
    value: message.value?.toString('base64') ?? null,
  }
}

function encodeHeaders(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value
    if (first !== undefined)
      headers[Buffer.from(name).toString('base64')] = Buffer.from(first).toString('base64')
  }
  return headers
}

function report(log: Logger, event: InboxEvent, handled: Handled): void {
  switch (handled.outcome) {
    case 'rejected':
      log.error({ reason: handled.reason }, 'rejected: the data breaks the event contract')
      return
    case 'parked':
      log.warn({ applied: handled.applied }, 'gap: parked until the missing version arrives')
      break
    default:
      log.info(handled, handled.outcome)
  }
  if (event.type === DISCARD_MARKER_TYPE) {
    log.warn('this version was discarded upstream: the order goes on without it')
    return
  }
  if (!isEventType(event.type) && handled.outcome !== 'redelivered')
    log.warn('unknown event type: recorded in its place in the sequence, no stock effect')
}
