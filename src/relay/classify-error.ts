/**
 * Every publish failure is classified once, here, and the class stored with the parked event
 * (outbox_parked.failure); nothing else looks into a Kafka error:
 *  - `unavailable`: the broker cannot be reached or is not serving (connection refused, timeouts,
 *    authorization or unknown-topic misconfiguration). Nothing is wrong with the events: the
 *    relay backs off as a whole, and these failures never dead-letter an event.
 *  - `retriable`: the broker answered with an error it marks retriable (leader change, not
 *    enough replicas, ...). The batch is retried later; each counts against the attempts before a dead letter (src/config/fixed.ts).
 *  - `permanent`: this event can never be accepted as it is (too large, invalid record). It is
 *    dead-lettered with the reason, and later events of its aggregate are held back.
 *  - `missing-topic`: some events are routed to a topic the cluster does not have. Those wait,
 *    with their aggregates behind them, without counting attempts; the rest go out (drain.ts).
 */
import type { FailureClass } from '../outbox/parked'

export type { FailureClass }

/** Broker error types that condemn the record itself, not the cluster. */
const PERMANENT_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
])

/** Raised by the publisher itself for an event it refuses to send (e.g. over the size limit). */
export class PermanentPublishError extends Error {
  constructor(
    readonly eventId: string,
    message: string,
  ) {
    super(message)
    this.name = 'PermanentPublishError'
  }
}

/** Raised by the publisher, before sending anything, when a batch names a missing topic. */
export class MissingTopicError extends Error {
  constructor(
    readonly topics: readonly string[],
    /** Outbox ids of the batch's events routed to those topics. */
    readonly ids: ReadonlySet<number>,
  ) {
    super(`MISSING_TOPIC: ${topics.join(', ')} does not exist (the relay never creates topics)`)
    this.name = 'MissingTopicError'
  }
}

type KafkaLikeError = {
  name?: string
  type?: string
  retriable?: boolean
  message?: string
  cause?: unknown
}

/** The error and its causes, outermost first: kafkajs wraps the last error of its own retries. */
function* causes(err: unknown): Generator<KafkaLikeError> {
  for (let e = err as KafkaLikeError | undefined; e; e = e.cause as KafkaLikeError | undefined) {
    yield e
  }
}

export function classifyPublishError(err: unknown): FailureClass {
  for (const e of causes(err)) {
    if (e instanceof PermanentPublishError) return 'permanent'
    if (e instanceof MissingTopicError) return 'missing-topic'
    if (e.name === 'KafkaJSProtocolError' && e.type) {
      if (PERMANENT_TYPES.has(e.type)) return 'permanent'
      if (e.retriable) return 'retriable'
      return 'unavailable' // e.g. TOPIC_AUTHORIZATION_FAILED: configuration, not the event
    }
  }
  return 'unavailable'
}

/** The broker does not know a topic the batch named: deleted since the relay saw it. */
export function namesUnknownTopic(err: unknown): boolean {
  for (const e of causes(err)) if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true
  return false
}

/** A short, single-line reason for logs and the outbox's last_error. */
export function describeError(err: unknown): string {
  const parts: string[] = []
  for (const e of causes(err)) {
    parts.push(`${e.name ?? 'Error'}${e.type ? `(${e.type})` : ''}: ${e.message ?? String(e)}`)
    if (parts.length === 3) break
  }
  return parts.join(' <- ').slice(0, 1000)
}
