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
 *
 * A group of several works: each partition is handled by one member, and a member that dies or
 * joins costs a rebalance, after which the new owner resumes from the committed offsets (the
 * inbox absorbs what is delivered twice). When kafkajs stops for good on an error it does not
 * retry (a development broker refused a SyncGroup during a rebalance with INVALID_REQUEST), a
 * new client is started in its place, up to MAX_RELAUNCHES times in a row before `onFatal`.
 */
import { type Consumer, Kafka, logLevel } from 'kafkajs'
import type { Db } from '../db/client'
import type { Logger } from '../logger'
import { consumeMessage } from './consume-message'
import { type ConsumerMetrics, noConsumerMetrics } from './metrics'
import { commitOffsetsEvery, type OffsetCommits } from './offset-commits'
import type { PoisonPolicy } from './poison'

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
  /** Attempts before a failing message is parked (src/config/fixed.ts: 5). */
  maxAttempts?: number
  /** First wait between them, doubling; default 200 ms. */
  retryBackoffMs?: number
  metrics?: ConsumerMetrics
}

export type InventoryConsumer = { stop(): Promise<void> }

/** Crashes kafkajs does not restart from, in a row (no group join between), before giving up. */
const MAX_RELAUNCHES = 10

export async function startInventoryConsumer(
  options: InventoryConsumerOptions,
): Promise<InventoryConsumer> {
  const log = options.logger.child({ component: 'inventory-consumer' })
  let stopping = false
  let crashes = 0
  // Undefined while the first launch is still joining (a crash can come before it returns).
  let current: Running | undefined
  const relaunch = async (error: Error) => {
    crashes++
    if (crashes > MAX_RELAUNCHES) {
      options.onFatal?.(error)
      return
    }
    // kafkajs gave up on this client (e.g. a group request the broker refused during a
    // rebalance): a new one rejoins the group. Uncommitted progress is delivered again.
    await current?.offsets.stop({ commit: false })
    await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** crashes, 10_000)))
    if (stopping) return
    log.warn({ crashes }, 'restarting the kafka consumer')
    current = await launch(options, log, callbacks)
  }
  const callbacks = {
    onCrash: (err: Error) => void relaunch(err).catch((e: Error) => options.onFatal?.(e)),
    onJoin: () => {
      crashes = 0
    },
  }
  current = await launch(options, log, callbacks)
  log.info(`consuming ${options.topic} as group ${options.groupId}`)
  return {
    async stop() {
      stopping = true
      await current?.offsets.stop()
      await current?.consumer.disconnect()
    },
  }
}

type Running = { consumer: Consumer; offsets: OffsetCommits }

/** One kafkajs consumer, connected, subscribed and running. */
async function launch(
  options: InventoryConsumerOptions,
  log: Logger,
  on: { onCrash: (error: Error) => void; onJoin: () => void },
): Promise<Running> {
  const { topic } = options
  const consumer = createConsumer(options)
  const metrics = options.metrics ?? noConsumerMetrics
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error({ err: payload.error, restart: payload.restart }, 'kafka consumer crashed')
    if (!payload.restart) on.onCrash(payload.error)
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const offsets = commitOffsetsEvery(consumer, topic, options.commitIntervalMs, log)
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    offsets.forget()
    metrics.forgetLag()
    on.onJoin()
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
      await consumeMessage(options.db, at, { topic, partition }, message, policy, metrics).catch(
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
  return { consumer, offsets }
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
