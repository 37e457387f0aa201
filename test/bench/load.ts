/** Load generators: open-loop at a fixed rate, and closed-loop with N concurrent writers. */
import { randomUUID } from 'node:crypto'
import { Agent, request } from 'node:http'
import type postgres from 'postgres'

export type Placed = { id: string; sentAt: number; respondedAt: number }

const body = JSON.stringify({ item: 'bench', quantity: 1 })

// node:http with keep-alive, not fetch: on a 2-core machine the load generator shares the CPU
// with the API and Postgres, and undici's fetch costs about three times as much per request
// (measured: 4k vs 13k requests/s of client capacity), which would be charged to the API.
const agent = new Agent({ keepAlive: true, maxSockets: 256 })

export function postOrder(baseUrl: string): Promise<Placed> {
  const sentAt = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}/orders`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const respondedAt = performance.now()
          try {
            const json = JSON.parse(Buffer.concat(chunks).toString()) as { id?: string }
            if (res.statusCode !== 201 || !json.id) {
              reject(new Error(`POST /orders answered ${res.statusCode}`))
            } else resolve({ id: json.id, sentAt, respondedAt })
          } catch (err) {
            reject(err)
          }
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
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

/** `writers` loops, each doing one write after another, for `seconds`. */
export async function closedLoop<T>(
  writers: number,
  seconds: number,
  write: () => Promise<T>,
): Promise<{ results: T[]; perSecond: number }> {
  const until = performance.now() + seconds * 1000
  const results: T[] = []
  const started = performance.now()
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < until) results.push(await write())
    }),
  )
  return { results, perSecond: results.length / ((performance.now() - started) / 1000) }
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
