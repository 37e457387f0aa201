/**
 * The Kafka side of the relay: a kafkajs producer behind the `Publish` port.
 * acks = all, one request in flight (so a retried request can never overtake a later one and
 * reorder an order's events), idempotent on real clusters (configurable: the development
 * broker cannot do it). kafkajs is patched on install (patches/kafkajs+2.2.4.patch, pinned by
 * test/relay/kafkajs-patch.test.ts): its produce encoding, for speed with the same bytes
 * (docs/benchmarks.md), and its request queue, which unpatched keeps a 1 ms timer running for
 * each connection's whole life, idle or not (kafkajs issues #1556, #1604, #1704).
 */
import { Kafka, logLevel, type Producer, type TopicMessages } from 'kafkajs'
import type { Logger } from '../logger'
import { MissingTopicError, namesUnknownTopic } from './classify-error'
import { type CloudEventAttributes, type KafkaMessage, toKafkaMessages } from './kafka-message'
import { lazyClient } from './lazy-client'
import type { OutboxMessage, Publish } from './publish'
import { createTopicCheck } from './topic-check'

export type KafkaPublisherOptions = {
  brokers: string[]
  clientId: string
  idempotent: boolean
  maxMessageBytes: number
  /** Longest a connect + send may take before the producer is presumed stuck and replaced. */
  sendTimeoutMs: number
  cloudEvents: CloudEventAttributes
  logger: Logger
}

export type KafkaPublisher = {
  /** Sends each message to the topic it carries (routed when it was claimed). */
  publish: Publish
  /** Connects the producer now (publish connects on first use): for readiness. */
  connect(): Promise<void>
  /** The topics of these the cluster lacks (topic-check.ts). */
  missingTopics(topics: readonly string[]): Promise<string[]>
  disconnect(): Promise<void>
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

function createKafka(options: KafkaPublisherOptions): Kafka {
  // `library`, not `component`: pino would write a second `component` key after the relay's.
  const log = options.logger.child({ library: 'kafkajs' })
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    // kafkajs retries each request itself a few times; beyond that the relay's own backoff
    // takes over, so a long outage never turns into a busy loop of its internal retries.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    // kafkajs logs every retry at ERROR; the relay reports state changes itself.
    logLevel: logLevel.NOTHING,
    logCreator: () => (entry) => log[levels[entry.level] ?? 'info'](entry.log, entry.log.message),
  })
}

export function createKafkaPublisher(options: KafkaPublisherOptions): KafkaPublisher {
  const kafka = createKafka(options)
  const topics = createTopicCheck(kafka, options.logger)
  const producer = lazyClient<Producer>(
    () =>
      kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: options.idempotent,
        maxInFlightRequests: 1,
      }),
    (p) => p.on(p.events.DISCONNECT, () => producer.forget(p)),
  )

  /** Sends the batch, checking its topics first; throws MissingTopicError before sending any. */
  const send = async (batch: readonly OutboxMessage[], messages: KafkaMessage[]) => {
    const topicMessages = byTopic(batch, messages)
    // Nothing is sent while a topic is missing: drain.ts holds those events back and
    // publishes the rest. A new topic costs one metadata request, inside the deadline.
    const missing = await topics.missing(topicMessages.map((t) => t.topic))
    if (missing.length > 0) {
      const ids = batch.filter((m) => missing.includes(m.topic)).map((m) => m.id)
      throw new MissingTopicError(missing, new Set(ids))
    }
    // One produce request for every topic of the batch: one aggregate's events share a
    // topic (and so a partition), and with one request in flight they cannot overtake
    // each other.
    await (await producer.get()).sendBatch({ acks: -1, topicMessages })
  }

  return {
    async publish(batch) {
      const messages = toKafkaMessages(batch, options.cloudEvents, options.maxMessageBytes)
      try {
        await withDeadline(send(batch, messages), options.sendTimeoutMs)
      } catch (err) {
        if (err instanceof PublishTimeoutError) {
          void producer.close().catch(() => {})
          void topics.disconnect().catch(() => {})
        }
        // A topic deleted since it was seen: check every topic again before the next send.
        if (namesUnknownTopic(err)) topics.forget()
        throw err
      }
    },
    async connect() {
      await producer.get()
    },
    missingTopics: (names) => topics.missing(names),
    async disconnect() {
      await producer.close()
      await topics.disconnect()
    },
  }
}

export class PublishTimeoutError extends Error {
  constructor(ms: number) {
    super(`no acknowledgement from Kafka within ${ms} ms; producer replaced`)
    this.name = 'PublishTimeoutError'
  }
}

/**
 * kafkajs can hang on a send after the brokers come back, for longer than any backoff.
 * Past the deadline the caller drops the producer and rebuilds it; the batch counts as
 * unacknowledged (retried later: a duplicate at worst, never a loss).
 */
async function withDeadline(attempt: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PublishTimeoutError(ms)), ms)
  })
  try {
    await Promise.race([attempt, deadline])
  } catch (err) {
    if (err instanceof PublishTimeoutError) attempt.catch(() => {}) // nobody waits for it now
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** The messages grouped by the topic each carries, each group in batch order. */
function byTopic(
  batch: readonly OutboxMessage[],
  messages: readonly KafkaMessage[],
): TopicMessages[] {
  const groups = new Map<string, KafkaMessage[]>()
  messages.forEach((m, i) => {
    const topic = batch[i]?.topic ?? ''
    const group = groups.get(topic)
    if (group) group.push(m)
    else groups.set(topic, [m])
  })
  return [...groups].map(([topic, group]) => ({ topic, messages: group }))
}
