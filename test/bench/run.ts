/**
 * `npm run bench`: the three wake-up modes side by side, in one run, on this machine.
 * Starts an embedded Postgres (fsync on) and the in-process broker unless DATABASE_URL /
 * KAFKA_BROKERS are given... (a given broker must already have the topics; see README).
 * BENCH_SECONDS (default 10) sets each measurement's length; BENCH_BACKLOG (default 1,000,000)
 * the drain scenario's size. BENCH_SCENARIOS (default `modes,drain,retention`) picks parts:
 * `modes` is latency, scale and write throughput per wake-up mode. Prints tables, writes
 * bench-results/results.json and (with `modes`) bench-results/latency.svg.
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
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'modes,drain,retention').split(','))
for (const s of SCENARIOS) {
  if (!['modes', 'drain', 'retention'].includes(s)) {
    throw new Error(`BENCH_SCENARIOS: unknown "${s}" (known: modes, drain, retention)`)
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
    const throughput: Record<string, unknown> = {}
    const scale: Record<string, unknown> = {}
    for (const mode of SCENARIOS.has('modes') ? ([...MODES, 'no-trigger'] as const) : []) {
      const phase = await startPhase({
        name: mode,
        serverUrl,
        template: TEMPLATE,
        kafka,
        relayEnv: { RELAY_WAKEUP: mode === 'no-trigger' ? 'poll' : mode },
        dropTrigger: mode === 'no-trigger',
      })
      try {
        // Warm-up: JIT, and the API's connection pool opened (it opens connections on demand).
        await closedLoop(32, 2, () => postOrder(phase.apiUrl))
        if (mode !== 'no-trigger') {
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
        }
        const http = await closedLoop(32, SECONDS, () => postOrder(phase.apiUrl))
        const direct = await closedLoop(32, SECONDS, directWrite(phase.sql))
        throughput[mode] = { httpPerSecond: http.perSecond, directPerSecond: direct.perSecond }
        log(
          `write   ${mode.padEnd(10)} 32 writers  HTTP ${http.perSecond.toFixed(0).padStart(6)}/s  direct SQL ${direct.perSecond.toFixed(0).padStart(6)}/s`,
        )
      } finally {
        await phase.stop()
      }
    }
    if (SCENARIOS.has('modes')) {
      results.latency = latency
      results.scale = scale
      results.throughput = throughput
      summarizeRatios(latency, throughput)
    }
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

function summarizeRatios(latency: Record<string, unknown>, throughput: Record<string, unknown>) {
  const p50 = (k: string) =>
    (latency[k] as { event: { p50: number } } | undefined)?.event.p50 ?? Number.NaN
  const tp = (k: string) => throughput[k] as { httpPerSecond: number; directPerSecond: number }
  const none = tp('no-trigger')
  const ratios = {
    pollOverAdaptiveP50At1000: p50('poll@1000/s') / p50('adaptive@1000/s'),
    adaptiveHttpVsNoTrigger: tp('adaptive').httpPerSecond / none.httpPerSecond,
    notifyHttpVsNoTrigger: tp('notify').httpPerSecond / none.httpPerSecond,
    adaptiveDirectVsNoTrigger: tp('adaptive').directPerSecond / none.directPerSecond,
    notifyDirectVsNoTrigger: tp('notify').directPerSecond / none.directPerSecond,
    apiVsDirectCeiling: tp('adaptive').httpPerSecond / tp('adaptive').directPerSecond,
  }
  results.ratios = ratios
  log('\nratios (same run):')
  for (const [k, v] of Object.entries(ratios)) log(`  ${k.padEnd(28)} ${v.toFixed(2)}`)
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
