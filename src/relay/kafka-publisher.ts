/**
 * The Kafka side of the relay: a kafkajs producer behind the `Publish` port.
 * acks = all, one request in flight (so a retried request can never overtake a later one and
 * reorder an order's events), idempotent on real clusters (configurable: the development
 * broker cannot do it). kafkajs is patched on install (patches/kafkajs+2.2.4.patch, pinned by
 * test/relay/kafkajs-patch.test.ts): its produce encoding for speed (about 1.7 times the drain;
 * the same bytes), and its request queue, which unpatched keeps a 1 ms timer running for each
 * connection's whole life, idle or not (kafkajs issues #1556, #1604, #1704).
 */
import { Kafka, logLevel, type Producer, type TopicMessages } from 'kafkajs'
import { isEventType, schemaProblem } from '../events/contract'
import type { Logger } from '../logger'
import { isValidTopicName, routeOf } from '../outbox/routing'
import { MissingTopicError, PermanentPublishError } from './classify-error'
import { type CloudEventAttributes, type KafkaMessage, toKafkaMessage } from './kafka-message'
import type { Publish } from './publish'
import { createTopicCheck } from './topic-check'

export type KafkaPublisherOptions = {
  brokers: string[]
  /** KAFKA_TOPIC_TEMPLATE: each event's topic, unless its row names one (src/outbox/routing.ts). */
  topicTemplate: string
  clientId: string
  idempotent: boolean
  maxMessageBytes: number
  /** Longest a connect + send may take before the producer is presumed stuck and replaced. */
  sendTimeoutMs: number
  cloudEvents: CloudEventAttributes
  logger: Logger
}

export type KafkaPublisher = {
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

export function createKafkaPublisher(options: KafkaPublisherOptions): KafkaPublisher {
  // `library`, not `component`: pino would write a second `component` key after the relay's.
  const log = options.logger.child({ library: 'kafkajs' })
  const kafka = new Kafka({
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
  const topics = createTopicCheck(kafka, options.logger)
  let producer: Producer | undefined
  let connecting: Promise<Producer> | undefined

  const connected = (): Promise<Producer> => {
    if (producer) return Promise.resolve(producer)
    connecting ??= (async () => {
      const p = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: options.idempotent,
        maxInFlightRequests: 1,
      })
      try {
        await p.connect()
      } finally {
        connecting = undefined
      }
      p.on(p.events.DISCONNECT, () => {
        if (producer === p) producer = undefined
      })
      producer = p
      return p
    })()
    return connecting
  }

  return {
    async publish(batch) {
      for (const m of batch) {
        if (!isEventType(m.eventType)) continue
        const problem = schemaProblem(m.eventType, m.schemaVersion, m.payload)
        if (problem) {
          throw new PermanentPublishError(
            m.eventId,
            `SCHEMA_MISMATCH: event ${m.eventId} (${m.eventType}) ${problem}`,
          )
        }
      }
      const messages = batch.map((m) => toKafkaMessage(m, options.cloudEvents))
      messages.forEach((m, i) => {
        const size = messageSize(m)
        if (size > options.maxMessageBytes) {
          const eventId = batch[i]?.eventId ?? '?'
          throw new PermanentPublishError(
            eventId,
            `MESSAGE_TOO_LARGE: event ${eventId} is ${size} bytes, over KAFKA_MAX_MESSAGE_BYTES (${options.maxMessageBytes})`,
          )
        }
      })
      const routes = batch.map((m) => routeOf(m, options.topicTemplate))
      // A name no topic can have (from a row's topic or aggregate type) would wait forever.
      routes.forEach((topic, i) => {
        if (isValidTopicName(topic)) return
        const eventId = batch[i]?.eventId ?? '?'
        throw new PermanentPublishError(
          eventId,
          `INVALID_TOPIC: event ${eventId} is routed to '${topic}', which is not a valid topic name`,
        )
      })
      const topicMessages = byTopic(routes, messages)
      // kafkajs can hang on a send after the brokers come back (seen in the soak test: a relay
      // stuck for over a minute). Past the deadline the producer is dropped and rebuilt; the
      // batch counts as unacknowledged (retried later: a duplicate at worst, never a loss).
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PublishTimeoutError(options.sendTimeoutMs)),
          options.sendTimeoutMs,
        )
      })
      const attempt = (async () => {
        // Nothing is sent while a topic is missing: drain.ts holds those events back and
        // publishes the rest. A new topic costs one metadata request, inside the deadline.
        const missing = await topics.missing(topicMessages.map((t) => t.topic))
        if (missing.length > 0) {
          const ids = batch.filter((_, i) => missing.includes(routes[i] ?? '')).map((m) => m.id)
          throw new MissingTopicError(missing, new Set(ids))
        }
        // One produce request for every topic of the batch: one aggregate's events share a
        // topic (and so a partition), and with one request in flight they cannot overtake
        // each other.
        await (await connected()).sendBatch({ acks: -1, topicMessages })
      })()
      try {
        await Promise.race([attempt, deadline])
      } catch (err) {
        if (err instanceof PublishTimeoutError) {
          attempt.catch(() => {}) // it may still settle; nobody is waiting for it any more
          const stuck = producer
          producer = undefined
          connecting = undefined
          void stuck?.disconnect().catch(() => {})
          void topics.disconnect().catch(() => {})
        }
        // A topic deleted since it was seen: check every topic again before the next send.
        if (mentionsUnknownTopic(err)) topics.forget()
        throw err
      } finally {
        clearTimeout(timer)
      }
    },
    async connect() {
      await connected()
    },
    missingTopics: (names) => topics.missing(names),
    async disconnect() {
      await producer?.disconnect()
      producer = undefined
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

/** The messages grouped by topic, each group in batch order. */
function byTopic(routes: readonly string[], messages: readonly KafkaMessage[]): TopicMessages[] {
  const groups = new Map<string, KafkaMessage[]>()
  messages.forEach((m, i) => {
    const topic = routes[i] ?? ''
    const group = groups.get(topic)
    if (group) group.push(m)
    else groups.set(topic, [m])
  })
  return [...groups].map(([topic, group]) => ({ topic, messages: group }))
}

function mentionsUnknownTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true
  }
  return false
}

/** Bytes of key, value and headers: close to what the broker counts against its limit. */
function messageSize(m: KafkaMessage): number {
  let size = Buffer.byteLength(m.key) + Buffer.byteLength(m.value)
  for (const [k, v] of Object.entries(m.headers))
    size += Buffer.byteLength(k) + Buffer.byteLength(v)
  return size
}
