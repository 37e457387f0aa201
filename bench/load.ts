/** Load generators: open-loop at a fixed rate, and closed-loop with N concurrent writers. */
import { randomUUID } from 'node:crypto'
import type postgres from 'postgres'
import { Pool } from 'undici'
import { nowMs } from './clock'

/** Times from nowMs() (clock.ts), comparable with the consumer's arrival times. */
export type Placed = { id: string; sentAt: number; respondedAt: number }

const body = JSON.stringify({ item: 'bench', quantity: 1 })

// undici's Pool, not fetch or node:http: on a 2-core machine the load generator shares the CPU
// with the API and Postgres, and what it spends per request is taken from the API. Measured on a
// trivial server, 32 concurrent requests: client CPU 26-32 us per request with undici's Pool,
// 59-82 with node:http (keep-alive), about three times that with fetch. Against the API, side by
// side in one run (scratch probe): 8-11% more orders/s through HTTP with undici than node:http.
const pools = new Map<string, Pool>()
function poolFor(baseUrl: string): Pool {
  let pool = pools.get(baseUrl)
  if (!pool) {
    pool = new Pool(baseUrl, { connections: 256 })
    pools.set(baseUrl, pool)
  }
  return pool
}

/** Closes the connections of `baseUrl`'s pool (an API about to stop). */
export async function closeClient(baseUrl: string): Promise<void> {
  const pool = pools.get(baseUrl)
  pools.delete(baseUrl)
  await pool?.close()
}

export async function postOrder(baseUrl: string): Promise<Placed> {
  const sentAt = nowMs()
  const res = await poolFor(baseUrl).request({
    path: '/orders',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })
  const text = await res.body.text()
  const respondedAt = nowMs()
  const json = JSON.parse(text) as { id?: string }
  if (res.statusCode !== 201 || !json.id) throw new Error(`POST /orders answered ${res.statusCode}`)
  return { id: json.id, sentAt, respondedAt }
}

/**
 * Sends `rate` requests per second for `seconds`, not waiting for answers before the next.
 * When the API cannot keep up, requests queue and some fail (connection resets): they are
 * counted, not thrown, so an overloaded run still reports what it saw.
 */
export async function openLoop(
  baseUrl: string,
  rate: number,
  seconds: number,
): Promise<{ placed: Placed[]; failed: number }> {
  const total = Math.round(rate * seconds)
  const start = performance.now()
  const inflight: Promise<Placed | undefined>[] = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    inflight.push(postOrder(baseUrl).catch(() => undefined))
  }
  const results = await Promise.all(inflight)
  const placed = results.filter((r): r is Placed => r !== undefined)
  return { placed, failed: total - placed.length }
}

/**
 * `writers` loops, each doing one write after another, for `seconds`. With `leadInSeconds`, the
 * loops first run that long uncounted (the writes that finish then are tallied apart, in
 * `leadIn`), then `runInSeconds` more, uncounted too (`runIn`); `results` and `perSecond` cover
 * only the `seconds` after both.
 */
export async function closedLoop<T>(
  writers: number,
  seconds: number,
  write: () => Promise<T>,
  leadInSeconds = 0,
  runInSeconds = 0,
): Promise<{
  results: T[]
  perSecond: number
  seconds: number
  leadIn: { writes: number; seconds: number }
  runIn: { writes: number; seconds: number }
}> {
  const started = performance.now()
  const leadInUntil = started + leadInSeconds * 1000
  const counting = leadInUntil + runInSeconds * 1000
  const until = counting + seconds * 1000
  const results: T[] = []
  let leadInWrites = 0
  let runInWrites = 0
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < until) {
        const result = await write()
        const at = performance.now()
        if (at < leadInUntil) leadInWrites++
        else if (at < counting) runInWrites++
        else results.push(result)
      }
    }),
  )
  const countedMs = performance.now() - Math.min(counting, performance.now())
  return {
    results,
    perSecond: results.length / (countedMs / 1000),
    seconds: countedMs / 1000,
    leadIn: { writes: leadInWrites, seconds: leadInSeconds },
    runIn: { writes: runInWrites, seconds: runInSeconds },
  }
}

/**
 * The API's write, issued directly through postgres.js: the same single statement (order and
 * event in one data-modifying CTE, see placeOrder), without HTTP, validation or the ORM. The
 * ceiling for what the API could reach.
 */
export function directWrite(sql: postgres.Sql): () => Promise<void> {
  return async () => {
    const id = randomUUID()
    const now = new Date().toISOString()
    const order = {
      id,
      item: 'bench',
      quantity: 1,
      customerId: null,
      status: 'pending',
      version: 1,
      cancellationReason: null,
      createdAt: now,
      updatedAt: now,
    }
    await sql`
      with new_order as (
        insert into orders (id, item, quantity, customer_id, status, version, created_at, updated_at)
        values (${id}, 'bench', 1, null, 'pending', 1, ${now}, ${now})
        returning id)
      insert into outbox (event_id, event_type, aggregate_id, payload, sequence, schema_version,
                          occurred_at, request_id, traceparent)
      select ${randomUUID()}, 'OrderCreated', id, ${sql.json(order)}, 1, 1, ${now}, null, null
        from new_order`
  }
}
