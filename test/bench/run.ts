/**
 * `npm run bench`: the three wake-up modes side by side, in one run, on this machine.
 * Starts an embedded Postgres (fsync on) and the in-process broker unless DATABASE_URL /
 * KAFKA_BROKERS are given... (a given broker must already have the topics; see README).
 * BENCH_SECONDS (default 10) sets each measurement's length; BENCH_BACKLOG (default 1,000,000)
 * the drain scenario's size. BENCH_SCENARIOS (default `modes,write,drain,retention`) picks
 * parts: `modes` is latency and scale per wake-up mode, `write` the write throughput of every
 * mode in alternating slices. Prints tables, writes bench-results/results.json and (with
 * `modes`) bench-results/latency.svg.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { migrateDatabase } from '../../src/db/migrate'
import { createEmbeddedPostgres } from '../../src/dev/embedded-postgres'
import { freePort } from '../../src/dev/free-port'
import { startMockKafka } from '../../src/dev/mock-kafka'
import { latencyChart } from './chart'
import { closedLoop, directWrite, openLoop, type Placed, postOrder } from './load'
import { benchRetention } from './retention'
import { createPhaseDatabase, type Phase, peakRssMb, spawnRelay, startPhase } from './stack'
import { fmt, summarize } from './stats'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 1_000_000)
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'modes,write,drain,retention').split(','))
for (const s of SCENARIOS) {
  if (!['modes', 'write', 'drain', 'retention'].includes(s)) {
    throw new Error(`BENCH_SCENARIOS: unknown "${s}" (known: modes, write, drain, retention)`)
  }
}
const MODES = ['adaptive', 'notify', 'poll'] as const
const TEMPLATE = 'bench_template'
const results: Record<string, unknown> = {}
const log = (line: string) => process.stdout.write(`${line}\n`)

async function eventLatencies(phase: Phase, placed: Placed[]) {
  const deadline = performance.now() + 15_000
  while (placed.some((p) => !phase.arrivals.has(p.id)) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
  }
  const lost = placed.filter((p) => !phase.arrivals.has(p.id)).length
  const event = summarize(
    placed
      .filter((p) => phase.arrivals.has(p.id))
      .map((p) => (phase.arrivals.get(p.id) ?? 0) - p.respondedAt),
  )
  const http = summarize(placed.map((p) => p.respondedAt - p.sentAt))
  return { event, http, notArrivedWithin15s: lost }
}

async function main() {
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  )
  log(`each measurement ${SECONDS} s; backlog ${BACKLOG.toLocaleString()} events\n`)
  const dataDir = await mkdtemp(join(tmpdir(), 'outbox-bench-'))
  await chmod(dataDir, 0o755)
  const pg = await createEmbeddedPostgres({
    dataDir: join(dataDir, 'pg'),
    port: await freePort(),
    settings: { max_connections: '300', shared_buffers: '512MB' },
  })
  const kafka = startMockKafka({ brokers: 1 })
  try {
    await pg.start()
    const serverUrl = pg.url()
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${TEMPLATE}`)
    await admin.end()
    await migrateDatabase(pg.url(TEMPLATE))

    const latency: Record<string, unknown> = {}
    const scale: Record<string, unknown> = {}
    for (const mode of SCENARIOS.has('modes') ? MODES : []) {
      const phase = await startPhase({
        name: mode,
        serverUrl,
        template: TEMPLATE,
        kafka,
        relayEnv: { RELAY_WAKEUP: mode },
      })
      try {
        // Warm-up: JIT, and the API's connection pool opened (it opens connections on demand).
        await closedLoop(32, 2, () => postOrder(phase.apiUrl))
        for (const rate of [100, 1000]) {
          const sent = await openLoop(phase.apiUrl, rate, SECONDS)
          const r = { ...(await eventLatencies(phase, sent.placed)), failedRequests: sent.failed }
          latency[`${mode}@${rate}/s`] = r
          log(
            `latency ${mode.padEnd(8)} ${String(rate).padStart(5)}/s  event p50 ${fmt(r.event.p50)} p95 ${fmt(r.event.p95)} p99 ${fmt(r.event.p99)} max ${fmt(r.event.max)} ms | http p50 ${fmt(r.http.p50)} p99 ${fmt(r.http.p99)} ms | failed requests ${sent.failed}`,
          )
        }
        for (const writers of [1, 8, 32, 64]) {
          const run = await closedLoop(writers, Math.max(3, SECONDS / 2), () =>
            postOrder(phase.apiUrl),
          )
          const r = await eventLatencies(phase, run.results)
          scale[`${mode}/${writers}`] = {
            ordersPerSecond: run.perSecond,
            event: r.event,
            http: r.http,
          }
          log(
            `scale   ${mode.padEnd(8)} ${String(writers).padStart(2)} writers  ${run.perSecond.toFixed(0).padStart(6)} orders/s  event p99 ${fmt(r.event.p99)} ms  http p99 ${fmt(r.http.p99)} ms`,
          )
        }
      } finally {
        await phase.stop()
      }
    }
    if (SCENARIOS.has('modes')) {
      results.latency = latency
      results.scale = scale
    }
    const throughput = SCENARIOS.has('write') ? await writeThroughput(serverUrl, kafka) : {}
    if (SCENARIOS.has('write')) results.throughput = throughput
    summarizeRatios(latency, throughput)
    if (SCENARIOS.has('drain')) results.drain = await drain(serverUrl, kafka.bootstrap, kafka)
    if (SCENARIOS.has('retention')) {
      results.retention = await benchRetention({
        serverUrl,
        template: TEMPLATE,
        kafka,
        seconds: SECONDS,
        backlog: Number(process.env.BENCH_RETENTION_BACKLOG ?? 300_000),
        log,
      })
    }

    await mkdir('bench-results', { recursive: true })
    await writeFile('bench-results/results.json', `${JSON.stringify(results, null, 2)}\n`)
    if (!SCENARIOS.has('modes')) {
      log('\nwrote bench-results/results.json')
      return
    }
    const bars = Object.entries(latency).flatMap(([key, v]) => {
      const e = (v as { event: Record<string, number> }).event
      return ['p50', 'p95', 'p99'].map((p) => ({ group: key, series: p, value: e[p] ?? 0 }))
    })
    await writeFile(
      'bench-results/latency.svg',
      latencyChart('Commit-to-consumer latency by wake-up mode and rate (log scale)', bars),
    )
    log('\nwrote bench-results/results.json and bench-results/latency.svg')
  } finally {
    kafka.close()
    await pg.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Write throughput with 32 closed-loop writers, through HTTP and directly, per wake-up mode and
 * with no trigger. The four stacks run at once and take turns in short slices, the order rotating
 * each round, so the shared machine's drift in speed hits every mode alike. (Measured one mode
 * after another, minutes apart, the same code gave `adaptive` 54% to 96% of no trigger.) After
 * each slice the next waits until that stack's relay has published everything (up to 3 s, not
 * counted), so no relay's leftover work lands in another mode's slice; a polling relay's last
 * drain of a slice is then not counted against its writers, which if anything favours the
 * no-trigger baseline.
 */
async function writeThroughput(serverUrl: string, kafka: ReturnType<typeof startMockKafka>) {
  const kinds = [...MODES, 'no-trigger'] as const
  const phases: Phase[] = []
  try {
    for (const kind of kinds) {
      phases.push(
        await startPhase({
          name: `write-${kind}`,
          serverUrl,
          template: TEMPLATE,
          kafka,
          relayEnv: { RELAY_WAKEUP: kind === 'no-trigger' ? 'poll' : kind },
          dropTrigger: kind === 'no-trigger',
          consume: false,
        }),
      )
    }
    for (const phase of phases) await closedLoop(32, 2, () => postOrder(phase.apiUrl))
    // Ten 2-second slices per mode and path (20 s at the default BENCH_SECONDS): with five, the
    // ratios to no trigger moved by up to 6 points between full runs of the same code.
    const slices = 10
    const sliceSeconds = (2 * SECONDS) / slices
    type Tally = { orders: number; seconds: number }
    const tallies = kinds.map(() => ({
      http: { orders: 0, seconds: 0 } as Tally,
      direct: { orders: 0, seconds: 0 } as Tally,
    }))
    const timed = async (tally: Tally, run: () => Promise<{ results: unknown[] }>) => {
      const started = performance.now()
      tally.orders += (await run()).results.length
      tally.seconds += (performance.now() - started) / 1000
    }
    for (let round = 0; round < slices; round++) {
      for (let i = 0; i < kinds.length; i++) {
        const k = (i + round) % kinds.length
        const phase = phases[k] as Phase
        const tally = tallies[k] as { http: Tally; direct: Tally }
        await timed(tally.http, () => closedLoop(32, sliceSeconds, () => postOrder(phase.apiUrl)))
        await timed(tally.direct, () => closedLoop(32, sliceSeconds, directWrite(phase.sql)))
        await settled(phase.sql, 3000)
      }
    }
    const rate = (t: Tally) => t.orders / t.seconds
    const out: Record<string, { httpPerSecond: number; directPerSecond: number }> = {}
    kinds.forEach((kind, k) => {
      const tally = tallies[k] as { http: Tally; direct: Tally }
      out[kind] = { httpPerSecond: rate(tally.http), directPerSecond: rate(tally.direct) }
      log(
        `write   ${kind.padEnd(10)} 32 writers  HTTP ${rate(tally.http).toFixed(0).padStart(6)}/s  direct SQL ${rate(tally.direct).toFixed(0).padStart(6)}/s  (${slices} alternating slices)`,
      )
    })
    return out
  } finally {
    for (const phase of phases) await phase.stop()
  }
}

/** Waits (at most `ms`) until nothing in the phase's outbox is left unpublished. */
async function settled(sql: postgres.Sql, ms: number): Promise<void> {
  const until = performance.now() + ms
  while (performance.now() < until) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from outbox where published_at is null`
    if (row?.n === 0) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

function summarizeRatios(latency: Record<string, unknown>, throughput: Record<string, unknown>) {
  const p50 = (k: string) =>
    (latency[k] as { event: { p50: number } } | undefined)?.event.p50 ?? Number.NaN
  type Tp = { httpPerSecond: number; directPerSecond: number }
  const http = (k: string) => (throughput[k] as Tp | undefined)?.httpPerSecond ?? Number.NaN
  const direct = (k: string) => (throughput[k] as Tp | undefined)?.directPerSecond ?? Number.NaN
  const ratios = {
    pollOverAdaptiveP50At1000: p50('poll@1000/s') / p50('adaptive@1000/s'),
    adaptiveHttpVsNoTrigger: http('adaptive') / http('no-trigger'),
    notifyHttpVsNoTrigger: http('notify') / http('no-trigger'),
    adaptiveDirectVsNoTrigger: direct('adaptive') / direct('no-trigger'),
    notifyDirectVsNoTrigger: direct('notify') / direct('no-trigger'),
    apiVsDirectCeiling: http('adaptive') / direct('adaptive'),
  }
  const known = Object.entries(ratios).filter(([, v]) => Number.isFinite(v))
  if (known.length === 0) return
  results.ratios = Object.fromEntries(known)
  log('\nratios (same run):')
  for (const [k, v] of known) log(`  ${k.padEnd(28)} ${v.toFixed(2)}`)
}

async function drain(serverUrl: string, brokers: string, kafka: ReturnType<typeof startMockKafka>) {
  const out: Record<string, unknown> = {}
  for (const relays of [1, 2]) {
    const dbUrl = await createPhaseDatabase(serverUrl, TEMPLATE)
    const sql = postgres(dbUrl, { max: 2, onnotice: () => {} })
    const topic = `bench.drain${relays}`
    kafka.createTopic(topic, 6)
    // The backlog, in the outbox's own format, written in bulk (trigger off: nobody listens yet).
    await sql`alter table outbox disable trigger outbox_notify`
    await sql`
      insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
      select gen_random_uuid(), 'OrderCreated', gen_random_uuid(),
             jsonb_build_object('item', 'bench', 'quantity', 1, 'status', 'pending'), now()
        from generate_series(1, ${BACKLOG})`
    await sql`alter table outbox enable trigger outbox_notify`
    await sql`vacuum analyze outbox`
    const started = performance.now()
    const procs = Array.from({ length: relays }, () => spawnRelay(dbUrl, brokers, topic, {}))
    let remaining = BACKLOG
    let peak = 0
    while (remaining > 0) {
      await new Promise((r) => setTimeout(r, 250))
      for (const p of procs) peak = Math.max(peak, await peakRssMb(p.child.pid))
      const [row] = await sql<
        { n: number }[]
      >`select count(*)::int as n from outbox where published_at is null`
      remaining = row?.n ?? 0
    }
    const seconds = (performance.now() - started) / 1000
    for (const p of procs) p.child.kill('SIGTERM')
    await Promise.all(procs.map((p) => p.exited))
    await sql.end()
    out[`${relays} relay(s)`] = {
      events: BACKLOG,
      seconds,
      eventsPerSecond: BACKLOG / seconds,
      peakRssMb: peak,
    }
    log(
      `drain   ${relays} relay(s)  ${BACKLOG.toLocaleString()} events in ${seconds.toFixed(1)} s = ${(BACKLOG / seconds).toFixed(0)} events/s (including process start), peak RSS ${peak.toFixed(0)} MB`,
    )
  }
  return out
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
