/**
 * With an OpenTelemetry SDK registered (here the real sdk-trace-base with an in-memory
 * exporter), the relay's publish span is a PRODUCER span linked to each event's request.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tracedPublish } from '../../src/observability/tracing'

const exporter = new InMemorySpanExporter()
beforeAll(() => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  )
})
afterAll(() => trace.disable())

const a = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
const b = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'

describe('tracedPublish', () => {
  it('one PRODUCER span per batch, linked to every well-formed traceparent', async () => {
    exporter.reset()
    const result = await tracedPublish(
      'orders.events',
      [{ traceparent: a }, { traceparent: null }, { traceparent: 'junk' }, { traceparent: b }],
      async () => 'acked',
    )
    expect(result).toBe('acked')
    const [span, ...rest] = exporter.getFinishedSpans()
    expect(rest).toEqual([])
    expect(span?.kind).toBe(SpanKind.PRODUCER)
    expect(span?.name).toBe('publish orders.events')
    expect(span?.attributes['messaging.batch.message_count']).toBe(4)
    expect(
      span?.links.map((l) => [l.context.traceId, l.context.spanId, l.context.traceFlags]),
    ).toEqual([
      ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1],
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 0],
    ])
  })

  it('a failed publish ends the span with an error status and rethrows', async () => {
    exporter.reset()
    await expect(
      tracedPublish('orders.events', [{ traceparent: a }], async () => {
        throw new Error('broker down')
      }),
    ).rejects.toThrow('broker down')
    const [span] = exporter.getFinishedSpans()
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'broker down' })
    expect(span?.events.map((e) => e.name)).toEqual(['exception'])
  })
})
