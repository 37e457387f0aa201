/**
 * A Kafka message in CloudEvents binary mode (src/relay/kafka-message.ts) -> the event the
 * inventory handles. Only the envelope is checked here (the headers the inbox needs: id,
 * type, order, sequence) and that the value is JSON; the data is checked against the event
 * contract by the handler, which knows what to do with an unknown type.
 */
import type { IHeaders } from 'kafkajs'
import { z } from 'zod'

export type InboxEvent = {
  /** `ce_id`: the dedupe key. */
  eventId: string
  /** `ce_type`. */
  type: string
  /** `ce_subject`: the order the event is about (also the Kafka key). */
  orderId: string
  /** `ce_sequence`: the order's version after this event. */
  version: number
  /** The value, parsed as JSON but not yet checked against the contract. */
  data: unknown
  receivedAt: Date
}

export type Decoded = { ok: true; event: InboxEvent } | { ok: false; reason: string }

const envelope = z.object({
  ce_id: z.uuid(),
  ce_type: z.string().min(1),
  ce_subject: z.uuid(),
  ce_sequence: z
    .string()
    .regex(/^[1-9]\d{0,9}$/, 'must be a positive whole number')
    .transform(Number)
    .pipe(z.int().max(2_147_483_647)),
})

const headerText = (value: IHeaders[string]) =>
  (Array.isArray(value) ? value[0] : value)?.toString()

export function decodeMessage(
  message: { headers?: IHeaders; value: Buffer | null },
  receivedAt: Date,
): Decoded {
  const headers = Object.fromEntries(
    Object.entries(message.headers ?? {}).map(([name, value]) => [name, headerText(value)]),
  )
  const parsed = envelope.safeParse(headers)
  if (!parsed.success) return { ok: false, reason: z.prettifyError(parsed.error) }
  if (!message.value) return { ok: false, reason: 'the message has no value' }
  let data: unknown
  try {
    data = JSON.parse(message.value.toString('utf8'))
  } catch {
    return { ok: false, reason: 'the value is not JSON' }
  }
  const { ce_id, ce_type, ce_subject, ce_sequence } = parsed.data
  return {
    ok: true,
    event: {
      eventId: ce_id,
      type: ce_type,
      orderId: ce_subject,
      version: ce_sequence,
      data,
      receivedAt,
    },
  }
}
