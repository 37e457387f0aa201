/**
 * The inventory consumer: a kafkajs consumer group feeding each message to `handleEvent` in
 * one database transaction.
 *
 * A message's offset is recorded only after its transaction has committed, and committed to
 * Kafka every `commitIntervalMs` (offset-commits.ts): a crash in between redelivers it, which
 * the inbox absorbs. If the database is down the transaction fails, the offset is not recorded
 * and kafkajs fetches the message again after a backoff, for as long as it takes: nothing is
 * skipped. A message that fails for any other reason is retried a few times, then parked with
 * its reason and the partition moves on (poison.ts).
 */
import { type Consumer, Kafka, type KafkaMessage, logLevel } from 'kafkajs'
import type { Db } from '../db/client'
import { isEventType } from '../events/contract'
import type { Logger } from '../logger'
import { DISCARD_MARKER_TYPE } from '../outbox/discard-marker'
import { decodeMessage, type InboxEvent } from './decode'
import { type Handled, handleEvent } from './inventory'
import { type ConsumerMetrics, noConsumerMetrics } from './metrics'
import { commitOffsetsEvery } from './offset-commits'
import { attemptOrGiveUp, classifyFailure, type PoisonPolicy, park, reasonOf } from './poison'

export type InventoryConsumerOptions = {
  db: Db
  brokers: string[]
  topic: string
  groupId: string
  clientId: string
  /** How often consumed offsets are committed. */
  commitIntervalMs: number
  logger: Logger
  /** Called if kafkajs stops for good (a crash it does not restart from). */
  onFatal?: (error: Error) => void
  /** Attempts before a failing message is parked (CONSUMER_MAX_ATTEMPTS); default 5. */
  maxAttempts?: number
  /** First wait between them, doubling; default 200 ms. */
  retryBackoffMs?: number
  metrics?: ConsumerMetrics
}

export type InventoryConsumer = { stop(): Promise<void> }

export async function startInventoryConsumer(
  options: InventoryConsumerOptions,
): Promise<InventoryConsumer> {
  const { topic, groupId } = options
  const log = options.logger.child({ component: 'inventory-consumer' })
  const consumer = createConsumer(options)
  const metrics = options.metrics ?? noConsumerMetrics
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error({ err: payload.error, restart: payload.restart }, 'kafka consumer crashed')
    if (!payload.restart) options.onFatal?.(payload.error)
  })

  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const offsets = commitOffsetsEvery(consumer, topic, options.commitIntervalMs, log)
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    offsets.forget()
    metrics.forgetLag()
    log.info({ partitions: payload.memberAssignment[topic] ?? [] }, 'joined the group')
  })
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    metrics.lag(payload.partition, Number(payload.offsetLag))
  })
  await consumer.run({
    autoCommit: false, // offset-commits.ts commits instead: see why there
    eachMessage: async ({ partition, message, heartbeat }) => {
      const at = log.child({ partition, offset: message.offset })
      const policy: PoisonPolicy = {
        maxAttempts: options.maxAttempts ?? 5,
        backoffMs: options.retryBackoffMs ?? 200,
        heartbeat,
      }
      const place = { topic, partition }
      await consumeMessage(options.db, at, place, message, policy, metrics).catch(
        async (err: unknown) => {
          // kafkajs heartbeats only after handled messages: without this, a database outage
          // longer than the session timeout would cost the group membership too (a rebalance).
          await heartbeat()
          throw err
        },
      )
      offsets.handled(partition, message.offset)
    },
  })
  log.info(`consuming ${topic} as group ${groupId}`)
  return {
    async stop() {
      await offsets.stop()
      await consumer.disconnect()
    },
  }
}

function createConsumer(options: InventoryConsumerOptions): Consumer {
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3000,
    // kafkajs logs every retry at ERROR; this module logs what it decides instead.
    logLevel: logLevel.NOTHING,
  })
  return kafka.consumer({
    groupId: options.groupId,
    // How long a crashed consumer's partitions wait for a new owner (kafkajs's default: 30 s).
    // kafkajs heartbeats between messages, so one message's transaction must stay well under it.
    sessionTimeout: 10_000,
    // Kafka's own default fetch.max.wait.ms; kafkajs's 5 s would hold up every shutdown as long.
    maxWaitTimeInMs: 500,
    // Retry fetching (and a failed message) forever, backing off to 5 s: a broker or database
    // outage of any length ends with the consumer catching up, not stopped.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 },
  })
}

/**
 * Decodes and handles one message, parking it if it keeps failing; throws (so kafkajs retries
 * it) only if the database is unreachable.
 */
async function consumeMessage(
  db: Db,
  log: Logger,
  place: { topic: string; partition: number },
  message: KafkaMessage,
  policy: PoisonPolicy,
  metrics: ConsumerMetrics,
): Promise<void> {
  const decoded = decodeMessage(message, new Date())
  if (!decoded.ok) {
    log.error({ reason: decoded.reason }, 'skipping a message that is not an event')
    metrics.handled('skipped')
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
    const id = await park(db, {
      ...place,
      offset: message.offset,
      eventId: event.eventId,
      eventType: event.type,
      orderId: event.orderId,
      version: event.version,
      key: message.key?.toString('base64') ?? null,
      headers: encodeHeaders(message),
      value: message.value?.toString('base64') ?? null,
      reason: outcome.reason,
      attempts: outcome.attempts,
    })
    metrics.parked()
    eventLog.error(
      { parkedId: id, reason: outcome.reason, attempts: outcome.attempts },
      'parked: set aside after its retries; later events of its order wait behind it (npm run consume -- parked)',
    )
    return
  }
  metrics.handled(outcome.value.outcome === 'parked' ? 'gap' : outcome.value.outcome)
  report(eventLog, event, outcome.value)
}

function encodeHeaders(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value
    if (first !== undefined) headers[name] = Buffer.from(first).toString('base64')
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
