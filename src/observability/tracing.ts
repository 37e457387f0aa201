/**
 * Tracing through @opentelemetry/api only: without an SDK registered by the host application,
 * every call here is a no-op. With one, the relay's publish span links to the trace of each
 * request whose event it carries (a batch has many parents, so links, not a parent).
 */
import { type Link, type SpanContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'

const pattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** A W3C traceparent as a remote span context, or undefined when malformed. */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | undefined {
  const match = traceparent ? pattern.exec(traceparent) : null
  if (!match?.[1] || !match[2] || !match[3]) return undefined
  const context: SpanContext = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: Number.parseInt(match[3], 16),
    isRemote: true,
  }
  return trace.isSpanContextValid(context) ? context : undefined
}

/** Runs `publish` inside a PRODUCER span linked to every event's originating request. */
export async function tracedPublish<T>(
  topic: string,
  batch: ReadonlyArray<{ traceparent?: string | null }>,
  publish: () => Promise<T>,
): Promise<T> {
  const links: Link[] = batch.flatMap((m) => {
    const context = spanContextOf(m.traceparent)
    return context ? [{ context }] : []
  })
  const tracer = trace.getTracer('outbox-relay')
  return tracer.startActiveSpan(
    `publish ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      links,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': topic,
        'messaging.batch.message_count': batch.length,
      },
    },
    async (span) => {
      try {
        return await publish()
      } catch (err) {
        span.recordException(err as Error)
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
        throw err
      } finally {
        span.end()
      }
    },
  )
}
