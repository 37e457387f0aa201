/** The envelope check: what the consumer needs from a message before the handler sees it. */
import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../src/consumer/decode'
import { asKafkaMessage, orderHistory } from '../helpers/consumer-events'

const [event] = orderHistory(['OrderCreated'])
const published = asKafkaMessage(event)
const at = new Date()

function decode(change: { headers?: Record<string, string | undefined>; value?: string | null }) {
  const headers = { ...published.headers, ...change.headers }
  const value = change.value === undefined ? published.value : change.value
  return decodeMessage(
    {
      headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
      value: value === null ? null : Buffer.from(value),
    },
    at,
  )
}

describe('decodeMessage', () => {
  it('reads what the relay publishes', () => {
    expect(decode({})).toEqual({ ok: true, event: { ...event, receivedAt: at } })
  })

  it('takes the first value of a repeated header', () => {
    const headers = { ...published.headers, ce_sequence: ['1', '7'] }
    const decoded = decodeMessage({ headers, value: Buffer.from(published.value) }, at)
    expect(decoded).toMatchObject({ ok: true, event: { version: 1 } })
  })

  it.each([
    ['no ce_id', { headers: { ce_id: undefined } }, /ce_id/],
    ['a ce_id that is no uuid', { headers: { ce_id: 'abc' } }, /ce_id/],
    ['no ce_subject', { headers: { ce_subject: undefined } }, /ce_subject/],
    ['a zero ce_sequence', { headers: { ce_sequence: '0' } }, /ce_sequence/],
    ['a ce_sequence that is no number', { headers: { ce_sequence: '2x' } }, /ce_sequence/],
    ['a ce_sequence beyond int4', { headers: { ce_sequence: '2147483648' } }, /ce_sequence/],
    ['no value (a tombstone)', { value: null }, /no value/],
    ['a value that is not JSON', { value: '{"id":' }, /not JSON/],
  ])('refuses %s', (_, change, reason) => {
    const decoded = decode(change)
    expect(decoded.ok).toBe(false)
    if (!decoded.ok) expect(decoded.reason).toMatch(reason)
  })
})
