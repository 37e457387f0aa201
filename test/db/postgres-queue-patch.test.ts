/**
 * postgres.js 3.4.9 keeps its pool's connections in queues (src/queue.js) whose array never
 * shrank while the queue was not empty: shift() blanks the head slot, and remove() searched
 * from slot 0. The pool calls remove(c) right after shift() returned c, so with an idle
 * connection or two under steady load (the API's normal state) every query scanned the whole
 * history: measured 7% of the API's CPU in a profile, and growing with uptime.
 * patches/postgres+3.4.9.patch searches only the live part and drops the consumed head.
 *
 * These tests count the work instead of timing it: they wrap Array.prototype.indexOf and
 * record the longest stretch any call scanned and the longest array it was called on.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

type Queue<T> = {
  readonly length: number
  push(x: T): T
  shift(): T | undefined
  remove(x: T): T | null
}
type QueueFactory = <T>(initial?: T[]) => Queue<T>

const require = createRequire(import.meta.url)
// The package's exports map hides src/; find both builds next to its CommonJS entry point.
const packageRoot = join(dirname(require.resolve('postgres')), '..', '..')
const builds: Record<string, () => Promise<QueueFactory>> = {
  esm: async () => (await import(pathToFileURL(join(packageRoot, 'src', 'queue.js')).href)).default,
  cjs: async () => require(join(packageRoot, 'cjs', 'src', 'queue.js')),
}

/** Wraps Array.prototype.indexOf while `run` runs; returns what the calls scanned. */
async function watchIndexOf(
  run: () => unknown,
): Promise<{ calls: number; maxScan: number; maxArray: number }> {
  const original = Array.prototype.indexOf
  const seen = { calls: 0, maxScan: 0, maxArray: 0 }
  Array.prototype.indexOf = function (this: unknown[], x: unknown, from?: number) {
    seen.calls++
    seen.maxScan = Math.max(seen.maxScan, this.length - Math.max(0, from ?? 0))
    seen.maxArray = Math.max(seen.maxArray, this.length)
    return original.call(this, x, from)
  }
  try {
    await run()
  } finally {
    Array.prototype.indexOf = original
  }
  return seen
}

/**
 * What the pool does per query with 10 connections of which 6 or 7 are busy: take the first idle
 * one (shift), move it to busy (remove from its current queue, push), and later move the
 * oldest busy one back to the idle queue. The idle queue is never empty.
 */
function poolCycles(Queue: QueueFactory, cycles: number) {
  type Conn = { id: number; queue: Queue<Conn> }
  const open = Queue<Conn>()
  const busy = Queue<Conn>()
  const move = (c: Conn, to: Queue<Conn>) => {
    c.queue.remove(c)
    to.push(c)
    c.queue = to
  }
  for (let id = 0; id < 10; id++) open.push({ id, queue: open })
  const inFlight: Conn[] = []
  for (let i = 0; i < cycles; i++) {
    const c = open.shift()
    if (!c) throw new Error('the idle queue drained')
    move(c, busy)
    inFlight.push(c)
    if (inFlight.length === 7) move(inFlight.shift() as Conn, open)
  }
  return { open: open.length, busy: busy.length }
}

describe.each(Object.entries(builds))('postgres.js queue (%s build)', (_name, load) => {
  let Queue: QueueFactory
  beforeAll(async () => {
    Queue = await load()
  })

  it('scans only live entries however long a queue has gone without draining', async () => {
    let lengths: { open: number; busy: number } | undefined
    const seen = await watchIndexOf(() => {
      lengths = poolCycles(Queue, 100_000)
    })
    expect(lengths).toEqual({ open: 4, busy: 6 })
    expect(seen.calls).toBe(2 * 100_000 - 6) // two moves per cycle; six stay busy at the end
    // Unpatched: the scan and the array reach 100,000 (one slot per cycle).
    expect(seen.maxScan).toBeLessThanOrEqual(10)
    expect(seen.maxArray).toBeLessThanOrEqual(2 * 1024 + 10)
  })

  it('is still a FIFO queue with remove: the same answers as an array model', () => {
    type Op = { op: 'push' } | { op: 'shift' } | { op: 'remove'; pick: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.constant({ op: 'push' as const }) },
      { weight: 4, arbitrary: fc.constant({ op: 'shift' as const }) },
      { weight: 1, arbitrary: fc.nat(50).map((pick) => ({ op: 'remove' as const, pick })) },
    )
    // Long runs, and a prefix of pushes, so that the head is dropped (>= 1024 shifts without
    // draining) in many of them.
    fc.assert(
      fc.property(fc.nat(1500), fc.array(op, { maxLength: 6000 }), (prefix, ops) => {
        const q = Queue<number>()
        const model: number[] = []
        let next = 0
        const push = () => {
          expect(q.push(next)).toBe(next)
          model.push(next++)
        }
        for (let i = 0; i < prefix; i++) push()
        for (const o of ops) {
          if (o.op === 'push') push()
          else if (o.op === 'shift') {
            if (model.length === 0) continue // the pool checks length before shift()
            expect(q.shift()).toBe(model.shift())
          } else {
            // Remove a live entry, or one that was already taken (null).
            const x = next - 1 - o.pick
            const at = model.indexOf(x)
            if (at !== -1) model.splice(at, 1)
            expect(q.remove(x)).toBe(at === -1 ? null : x)
          }
          expect(q.length).toBe(model.length)
        }
        while (model.length > 0) expect(q.shift()).toBe(model.shift())
        expect(q.length).toBe(0)
      }),
      { numRuns: 60 },
    )
  })
})

describe('a real pool under steady partial load', () => {
  let db: TestDatabase
  let sql: ReturnType<typeof postgres>
  beforeAll(async () => {
    db = await createTestDatabase()
    sql = postgres(db.url, { max: 4, onnotice: () => {} })
  })
  afterAll(async () => {
    await sql.end({ timeout: 1 })
    await db.close()
  })

  it('does not scan its history of queries', async () => {
    // Open all four connections, then keep two busy: two stay idle, so the idle queue never
    // drains and (unpatched) its array grows by a slot per query.
    await Promise.all([0, 1, 2, 3].map(() => sql`select pg_sleep(0.05)`))
    let done = 0
    const seen = await watchIndexOf(() =>
      Promise.all(
        [0, 1].map(async () => {
          for (let i = 0; i < 3000; i++) {
            await sql`select 1`
            done++
          }
        }),
      ),
    )
    expect(done).toBe(6000)
    // All four connections took part (else the idle queue would drain and reset on its own).
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where datname = current_database()
        and application_name = ${'postgres.js'}`
    expect(row?.n).toBe(4)
    expect(seen.calls).toBeGreaterThanOrEqual(6000)
    // Unpatched this reads about 6,000: every query scanned all the ones before it.
    expect(seen.maxScan).toBeLessThan(100)
  })
})
