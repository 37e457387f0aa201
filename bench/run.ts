/**
 * `npm run bench`: the three wake-up modes side by side, in one run, on this machine.
 * Runs against an embedded Postgres (fsync on) and the in-process broker, or the server of
 * DATABASE_URL and the brokers of KAFKA_BROKERS when given (targets.ts says what they need).
 * BENCH_SECONDS (default 10) sets each measurement's length; BENCH_BACKLOG (default 1,000,000)
 * the drain scenario's size. BENCH_SCENARIOS (default `modes,write,drain,retention,cost,horizon`) picks
 * parts: `modes` is latency and scale per wake-up mode, `write` the write throughput of every
 * mode in alternating slices (BENCH_WRITE_KINDS, e.g. `adaptive,no-trigger`, runs only some of
 * its stacks, for a quick look; `adaptive@RELAY_BATCH_SIZE=100` is a stack with a setting of its
 * own). `cost` counts WAL, row versions and buffers per event (cost.ts; BENCH_COST_EVENTS,
 * BENCH_COST_DESIGNS); `horizon` 1,000 orders/s under a snapshot held open (horizon.ts;
 * BENCH_HORIZON_SECONDS, BENCH_HORIZON_WINDOW_SECONDS). BENCH_RELAY_ENV (`NAME=value`, several joined by `@`) gives every relay of the run
 * settings (settingsList in stack.ts). Prints tables, writes bench-results/results.json and
 * (with `modes`) bench-results/latency.svg.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import postgres from 'postgres'
import { migrateDatabase } from '../src/db/migrate'
import { positionsPassed as passed, unpublishedCount } from '../test/helpers/ledger'
import { latencyChart } from './chart'
import { benchCost } from './cost'
import {
  cpuBetween,
  databaseCpuBetween,
  processCpuSeconds,
  readDatabaseCpu,
  readRelayCpu,
} from './cpu'
import { benchHorizon } from './horizon'
import { closedLoop, directWrite, openLoop, type Placed, postOrder } from './load'
import { benchRetention } from './retention'
import {
  createPhaseDatabase,
  type Phase,
  peakRssMb,
  settingsList,
  spawnRelay,
  startPhase,
} from './stack'
import { fmt, summarize } from './stats'
import {
  type BenchBroker,
  benchBroker,
  benchServer,
  createBenchDatabase,
  dropBenchDatabase,
} from './targets'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 1_000_000)
const SCENARIOS = new Set(
  (process.env.BENCH_SCENARIOS ?? 'modes,write,drain,retention,cost,horizon').split(','),
)
for (const s of SCENARIOS) {
  if (!['modes', 'write', 'drain', 'retention', 'cost', 'horizon'].includes(s)) {
    throw new Error(
      `BENCH_SCENARIOS: unknown "${s}" (known: modes, write, drain, retention, cost, horizon)`,
    )
  }
}
const MODES = ['adaptive', 'notify', 'poll'] as const
const LEAD_IN_SECONDS = 0.25
const TEMPLATE = `bench_template_${randomUUID().slice(0, 8)}`
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
  results.run = {
    commit: gitCommit(),
    at: new Date().toISOString(),
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
  }
  log(`each measurement ${SECONDS} s; backlog ${BACKLOG.toLocaleString()} events\n`)
  const server = await benchServer(process.env.DATABASE_URL)
  const kafka = await benchBroker(process.env.KAFKA_BROKERS).catch(async (err: unknown) => {
    await server.close()
    throw err
  })
  log(
    `against: ${server.description}; ${process.env.KAFKA_BROKERS ? `brokers ${kafka.bootstrap}` : 'in-process broker'}\n`,
  )
  try {
    const serverUrl = server.url
    await migrateDatabase(await createBenchDatabase(serverUrl, TEMPLATE))

    const latency: Record<string, unknown> = {}
    const scale: Record<string, unknown> = {}
    // BENCH_MODES (comma-separated, default the three modes) runs only some; a mode may carry
    // settings to compare, e.g. `adaptive,adaptive@NODE_FLAGS=` (both run one after the other).
    const modes = pickKinds('BENCH_MODES', [...MODES], MODES)
    for (const [k, { kind: mode, base, settings }] of SCENARIOS.has('modes')
      ? modes.entries()
      : []) {
      const phase = await startPhase({
        name: mode === base ? mode : `${base}-${k}`,
        serverUrl,
        template: TEMPLATE,
        kafka,
        relayEnv: { RELAY_WAKEUP: base, ...settings },
      })
      try {
        // Warm-up: JIT, and the API's connection pool opened (it opens connections on demand).
        await closedLoop(32, 2, () => postOrder(phase.apiUrl))
        for (const rate of [100, 1000]) {
          const sent = await openLoop(phase.apiUrl, rate, SECONDS)
          const r = {
            ...(await eventLatencies(phase, sent.placed)),
            failedRequests: sent.failed,
          }
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
    if (SCENARIOS.has('drain')) results.drain = await drain(serverUrl, kafka)
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

    if (SCENARIOS.has('cost')) {
      log('')
      results.cost = await benchCost({
        serverUrl,
        events: Number(process.env.BENCH_COST_EVENTS ?? 20_000),
        seconds: SECONDS,
        log,
        designs: process.env.BENCH_COST_DESIGNS?.split(','),
      })
    }

    if (SCENARIOS.has('horizon')) {
      results.horizon = await benchHorizon({
        serverUrl,
        template: TEMPLATE,
        kafka,
        seconds: Number(process.env.BENCH_HORIZON_SECONDS ?? 600),
        windowSeconds: Number(process.env.BENCH_HORIZON_WINDOW_SECONDS ?? 60),
        rate: 1000,
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
    await kafka.close()
    await server.close()
  }
}

/**
 * Write throughput with 32 closed-loop writers, through HTTP and directly, per wake-up mode and
 * with no trigger, twice: `no-trigger` with its relay polling once a second (the cheapest relay
 * there is: what low latency costs the writers in all is measured against it), and
 * `no-trigger-10ms` with its relay polling every 10 ms, so that under load it streams paced
 * batches as an awake relay does (what the doorbell itself costs is measured against that).
 * The stacks run at once and take turns in short slices, the order rotating
 * each round, so the shared machine's drift in speed hits every mode alike. (Measured one mode
 * after another, minutes apart, the same code gave `adaptive` 54% to 96% of no trigger.) After
 * each slice the next waits until that stack's relay has published everything (up to 10 s, not
 * counted), so no relay's leftover work lands in another mode's slice. What is counted is the
 * steady state: a relay polling once a second publishes, at the end of a slice, up to a second
 * of its writes after it; counting starts a poll interval into the slice (the run-in), so
 * the counted part holds as much work carried in from before it as it leaves for after it.
 * Then (also uncounted) that stack's outbox is vacuumed and the server
 * checkpoints, so every slice starts alike: no stack's dead rows are vacuumed by autovacuum
 * in another stack's slice, and no slice alone pays the full-page writes after a checkpoint.
 */
async function writeThroughput(serverUrl: string, kafka: BenchBroker) {
  const baselines = ['no-trigger', 'no-trigger-10ms']
  // Not run by default: the doorbell trigger's own cost to the writers, with no wake-up behind
  // it. A `poll` relay (once a second) holds every awake lock, so each insert takes its trace
  // lock and fails its probe, as under an awake adaptive relay, but no claim follows it.
  const all: string[] = [...MODES, ...baselines, 'trigger-only']
  // BENCH_WRITE_KINDS (comma-separated, default all) runs only some, for a quick look; a kind
  // may carry relay settings to compare, e.g. `adaptive@RELAY_BATCH_SIZE=100`.
  // A stack's own settings win over BENCH_RELAY_ENV's.
  const picked = pickKinds('BENCH_WRITE_KINDS', [...MODES, ...baselines], all)
  const kinds = picked.map((p) => p.kind)
  const stacks = picked.map(({ base, settings }) => {
    const relayEnv: Record<string, string> = {
      ...(base === 'no-trigger' || base === 'trigger-only'
        ? { RELAY_WAKEUP: 'poll' }
        : base === 'no-trigger-10ms'
          ? { RELAY_WAKEUP: 'poll', RELAY_POLL_INTERVAL_MS: '10' }
          : { RELAY_WAKEUP: base }),
      ...settings,
    }
    const pollMs = Number(
      relayEnv.RELAY_POLL_INTERVAL_MS ??
        settingsList(process.env.BENCH_RELAY_ENV).RELAY_POLL_INTERVAL_MS ??
        1000,
    )
    return { base, relayEnv, pollMs }
  })
  // Uncounted writes after the lead-in, before the counted part of a slice: the longest poll
  // interval of the stacks (1 s, the no-trigger relay's), so that every relay is in its steady
  // state when counting starts (below).
  const runInSeconds = Math.max(...stacks.map((st) => st.pollMs)) / 1000
  const phases: Phase[] = []
  try {
    for (const [k, { base, relayEnv }] of stacks.entries()) {
      const phase = await startPhase({
        name: `write-${k}-${base}`,
        serverUrl,
        template: TEMPLATE,
        kafka,
        relayEnv,
        dropTrigger: base.startsWith('no-trigger'),
        consume: false,
      })
      // After the relay's start-up check, which holds a `poll` relay to a disabled trigger.
      if (base === 'trigger-only') await phase.sql`alter table outbox enable trigger outbox_notify`
      phases.push(phase)
    }
    for (const phase of phases) await closedLoop(32, 2, () => postOrder(phase.apiUrl))
    // Every warm-up published before the idle draw is read: a once-a-second poll still draining
    // its warm-up read as idle draw (0.15 cores where 0.04 is idle).
    for (const phase of phases) {
      if (!(await settled(phase.sql, 10_000))) throw new Error(`${phase.name}: warm-up unpublished`)
      await evenOut(phase.sql)
    }
    // Slices of BENCH_WRITE_SLICE_SECONDS (default 2), 2 x BENCH_SECONDS per mode and path in
    // all (20 s by default, in 10 rounds: with five, the ratios to no trigger had moved by up to
    // 6 points between full runs of the same code). Each slice starts from idle (the relays
    // asleep): its first LEAD_IN_SECONDS are a load step, tallied apart, so the steady rate is
    // not diluted by wake-ups that a continuous run would have once. (Waking under a load step
    // costs `adaptive` and `notify` the most: their first writers all ring, and NOTIFYs
    // serialise commits.) Then the run-in, uncounted, and the counted part: a relay that
    // polls once a second leaves up to a second of writes for after the slice (its settling,
    // while its writers are idle), but by then it has also published the run-in's writes inside
    // the counted part. Counted from the lead-in on, that baseline read 2-8 points faster than
    // it is, its leftover work free. The share of each slice's events still unpublished at its
    // end is printed for every mode (docs/benchmarks.md).
    const sliceSeconds = Number(process.env.BENCH_WRITE_SLICE_SECONDS ?? 2)
    const slices = Math.max(1, Math.round((2 * SECONDS) / sliceSeconds))
    // The relay's draw (its process and its backends) with every stack idle (idle relays poll),
    // per stack, to tell a relay's work from it. This process is left out: it generates the load
    // (and hosts the benchmark's broker).
    const relayCpu = (phase: Phase) => readRelayCpu(phase.sql, phase.relay.child.pid)
    // Over 5 s, timed: /proc counts in 10 ms ticks per process, and the draw is multiplied by
    // every slice's length.
    const idle0 = await Promise.all(phases.map(relayCpu))
    const idleStart = performance.now()
    await new Promise((r) => setTimeout(r, 5000))
    const idle1 = await Promise.all(phases.map(relayCpu))
    const idleSeconds = (performance.now() - idleStart) / 1000
    const idleCores = idle1.map((b, k) => {
      const used = cpuBetween(idle0[k] as (typeof idle0)[number], b)
      return { process: used.process / idleSeconds, backends: used.backends / idleSeconds }
    })
    type Tally = {
      orders: number
      seconds: number
      leftUnpublished: number
      unsettled: number
      /** The relay's CPU over whole slices and their settling, beyond its idle draw... */
      relayProcessCpuSeconds: number
      relayBackendsCpuSeconds: number
      /** The API process's CPU over the same (its idle draw included: about nothing). */
      apiCpuSeconds: number
      /** ...and the orders of those slices (lead-in and run-in included). */
      sliceOrders: number
      /** Every backend of the stack's database (writers, API pool, relay) over the same. */
      postgresCpuSeconds: number
    }
    const tally0 = (): Tally => ({
      orders: 0,
      seconds: 0,
      leftUnpublished: 0,
      unsettled: 0,
      relayProcessCpuSeconds: 0,
      relayBackendsCpuSeconds: 0,
      apiCpuSeconds: 0,
      sliceOrders: 0,
      postgresCpuSeconds: 0,
    })
    const tallies = kinds.map(() => ({
      http: tally0(),
      direct: tally0(),
      httpLeadIn: tally0(),
      directLeadIn: tally0(),
    }))
    // One slice: the writers (a lead-in from idle, the run-in, the counted part), then
    // (uncounted) the stack settles.
    const slice = async (
      k: number,
      steady: Tally,
      leadIn: Tally,
      write: () => Promise<unknown>,
    ): Promise<void> => {
      const phase = phases[k] as Phase
      const sliceStart = performance.now()
      const db0 = await readDatabaseCpu(phase.sql)
      const relay0 = await relayCpu(phase)
      const api0 = processCpuSeconds(phase.api.child.pid)
      const run = await closedLoop(32, sliceSeconds, write, LEAD_IN_SECONDS, runInSeconds)
      const left = await unpublishedCount(phase.sql) // the outbox was empty at the start
      const isSettled = await settled(phase.sql, 10_000)
      const relay1 = await relayCpu(phase)
      steady.postgresCpuSeconds += databaseCpuBetween(db0, await readDatabaseCpu(phase.sql))
      steady.apiCpuSeconds += processCpuSeconds(phase.api.child.pid) - api0
      const wholeSeconds = (performance.now() - sliceStart) / 1000
      const orders = run.results.length + run.leadIn.writes + run.runIn.writes
      steady.orders += run.results.length
      steady.seconds += run.seconds
      steady.leftUnpublished += left
      steady.sliceOrders += orders
      const idle = idleCores[k] ?? { process: Number.NaN, backends: Number.NaN }
      const used = cpuBetween(relay0, relay1)
      steady.relayProcessCpuSeconds += used.process - idle.process * wholeSeconds
      steady.relayBackendsCpuSeconds += used.backends - idle.backends * wholeSeconds
      if (!isSettled) {
        // Say what the relay is doing: a slice's events unpublished 10 s later is a fault (a
        // claim planned as a walk of the backlog per candidate did this; drizzle/0010).
        steady.unsettled++
        const [row] = await phase.sql<{ n: number; statement: string | null; for: string }[]>`
          select (select count(*)::int from outbox_unpublished) as n,
                 a.state || ': ' || left(a.query, 80) as statement,
                 (now() - a.query_start)::text as for
            from pg_stat_activity a
           where a.datname = current_database() and a.application_name = 'outbox-relay'`
        log(
          `        ${phase.name}: ${row?.n} events unpublished 10 s after a slice; relay's session ${row?.statement} (for ${row?.for}); its last words:\n${phase.relay.output().trim().split('\n').slice(-3).join('\n')}`,
        )
      }
      leadIn.orders += run.leadIn.writes
      leadIn.seconds += run.leadIn.seconds
      await evenOut(phase.sql)
    }
    for (let round = 0; round < slices; round++) {
      for (let i = 0; i < kinds.length; i++) {
        const k = (i + round) % kinds.length
        const phase = phases[k] as Phase
        const t = tallies[k] as (typeof tallies)[number]
        await slice(k, t.http, t.httpLeadIn, () => postOrder(phase.apiUrl))
        await slice(k, t.direct, t.directLeadIn, directWrite(phase.sql))
      }
    }
    const rate = (t: Tally) => t.orders / t.seconds
    // Share of a slice's orders (lead-in and run-in included) not yet published when it ended.
    const left = (t: Tally) => t.leftUnpublished / t.sliceOrders
    const micros = (t: Tally, of: 'process' | 'backends') =>
      ((of === 'process' ? t.relayProcessCpuSeconds : t.relayBackendsCpuSeconds) / t.sliceOrders) *
      1e6
    // The API's CPU per order through HTTP: two stacks alike differ in it when their rates do.
    const apiMicros = (t: Tally) => (t.apiCpuSeconds / t.sliceOrders) * 1e6
    const pgMicros = (t: Tally) => (t.postgresCpuSeconds / t.sliceOrders) * 1e6
    const out: Record<string, Record<string, number>> = {}
    const idleNote = idleCores.map(
      (c, k) => `${kinds[k]} ${c.process.toFixed(3)} + ${c.backends.toFixed(3)}`,
    )
    log(`write   relays' idle draw, process + backends (cores): ${idleNote.join(', ')}`)
    log(`write   counted after a lead-in of ${LEAD_IN_SECONDS} s and a run-in of ${runInSeconds} s`)
    kinds.forEach((kind, k) => {
      const t = tallies[k] as (typeof tallies)[number]
      out[kind] = {
        httpPerSecond: rate(t.http),
        directPerSecond: rate(t.direct),
        httpLeadInPerSecond: rate(t.httpLeadIn),
        directLeadInPerSecond: rate(t.directLeadIn),
        httpUnpublishedAtSliceEnd: left(t.http),
        directUnpublishedAtSliceEnd: left(t.direct),
        slicesNotSettledIn10s: t.http.unsettled + t.direct.unsettled,
        httpRelayProcessMicrosPerOrder: micros(t.http, 'process'),
        httpRelayBackendsMicrosPerOrder: micros(t.http, 'backends'),
        directRelayProcessMicrosPerOrder: micros(t.direct, 'process'),
        directRelayBackendsMicrosPerOrder: micros(t.direct, 'backends'),
        httpApiMicrosPerOrder: apiMicros(t.http),
        relayIdleProcessCores: idleCores[k]?.process ?? Number.NaN,
        relayIdleBackendsCores: idleCores[k]?.backends ?? Number.NaN,
        httpPostgresMicrosPerOrder: pgMicros(t.http),
        directPostgresMicrosPerOrder: pgMicros(t.direct),
      }
      log(
        `write   ${kind.padEnd(15)} 32 writers  HTTP ${rate(t.http).toFixed(0).padStart(6)}/s  direct SQL ${rate(t.direct).toFixed(0).padStart(6)}/s  (${slices} alternating slices) | unpublished at slice end: HTTP ${pct(left(t.http))} direct ${pct(left(t.direct))} | first ${LEAD_IN_SECONDS} s from idle: HTTP ${rate(t.httpLeadIn).toFixed(0).padStart(6)}/s  direct ${rate(t.directLeadIn).toFixed(0).padStart(6)}/s | relay's CPU per order, process + backends: HTTP ${micros(t.http, 'process').toFixed(0)} + ${micros(t.http, 'backends').toFixed(0)} direct ${micros(t.direct, 'process').toFixed(0)} + ${micros(t.direct, 'backends').toFixed(0)} µs | API's CPU per order (HTTP) ${apiMicros(t.http).toFixed(0)} µs`,
      )
      log(
        `        ${kind}: Postgres CPU per order (every backend of its database): HTTP ${pgMicros(t.http).toFixed(0)} µs, direct ${pgMicros(t.direct).toFixed(0)} µs`,
      )
      if (t.http.unsettled + t.direct.unsettled > 0) {
        log(`        ${kind}: ${t.http.unsettled + t.direct.unsettled} slices not settled in 10 s`)
      }
    })
    return out
  } finally {
    for (const phase of phases) await phase.stop()
  }
}

/**
 * The stacks a scenario runs: the comma-separated list in `variable`, or `defaults`. Each is a
 * known base, optionally with settings of its own after `@` (settingsList), e.g.
 * `adaptive@RELAY_BATCH_SIZE=100`; none twice.
 */
function pickKinds(variable: string, defaults: string[], known: readonly string[]) {
  const kinds = process.env[variable]?.split(',') ?? defaults
  if (new Set(kinds).size !== kinds.length) throw new Error(`${variable}: a kind twice`)
  return kinds.map((kind) => {
    const at = kind.indexOf('@')
    const base = at < 0 ? kind : kind.slice(0, at)
    if (!known.includes(base)) {
      throw new Error(`${variable}: unknown "${base}" (known: ${known.join(', ')})`)
    }
    return { kind, base, settings: settingsList(at < 0 ? '' : kind.slice(at + 1)) }
  })
}

/**
 * Between slices, uncounted, once the relay is done: the stack's dead rows vacuumed, a
 * checkpoint (on a given server whose role may not checkpoint, skipped after saying so once).
 */
let checkpoints = true
async function evenOut(sql: postgres.Sql): Promise<void> {
  await sql`vacuum outbox`
  if (!checkpoints) return
  try {
    await sql`checkpoint`
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err // insufficient_privilege
    checkpoints = false
    log('note: this role may not CHECKPOINT; write slices are not evened out by one')
  }
}

/** The commit measured, with `+changes` when the work tree differs from it. */
function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim()
    return dirty ? `${head}+changes` : head
  } catch {
    return 'unknown'
  }
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`

/**
 * Waits (at most `ms`) until nothing in the phase's outbox is left unpublished; false if not.
 * The stored positions lag the relay by up to a second (src/relay/positions.ts).
 */
async function settled(sql: postgres.Sql, ms: number): Promise<boolean> {
  const until = performance.now() + ms
  while (performance.now() < until) {
    if ((await unpublishedCount(sql)) === 0) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

function summarizeRatios(latency: Record<string, unknown>, throughput: Record<string, unknown>) {
  const p50 = (k: string) =>
    (latency[k] as { event: { p50: number } } | undefined)?.event.p50 ?? Number.NaN
  type Tp = { httpPerSecond: number; directPerSecond: number }
  const http = (k: string) => (throughput[k] as Tp | undefined)?.httpPerSecond ?? Number.NaN
  const direct = (k: string) => (throughput[k] as Tp | undefined)?.directPerSecond ?? Number.NaN
  const leadIn = (k: string, path: 'http' | 'direct') =>
    (throughput[k] as Record<string, number> | undefined)?.[`${path}LeadInPerSecond`] ?? Number.NaN
  const pg = (k: string, path: 'http' | 'direct') =>
    (throughput[k] as Record<string, number> | undefined)?.[`${path}PostgresMicrosPerOrder`] ??
    Number.NaN
  const ratios = {
    pollOverAdaptiveP50At1000: p50('poll@1000/s') / p50('adaptive@1000/s'),
    adaptiveHttpVsNoTrigger: http('adaptive') / http('no-trigger'),
    notifyHttpVsNoTrigger: http('notify') / http('no-trigger'),
    adaptiveDirectVsNoTrigger: direct('adaptive') / direct('no-trigger'),
    notifyDirectVsNoTrigger: direct('notify') / direct('no-trigger'),
    apiVsDirectCeiling: http('adaptive') / direct('adaptive'),
    pollHttpVsNoTrigger: http('poll') / http('no-trigger'),
    pollDirectVsNoTrigger: direct('poll') / direct('no-trigger'),
    adaptivePostgresCpuDirectVsNoTrigger: pg('adaptive', 'direct') / pg('no-trigger', 'direct'),
    adaptivePostgresCpuHttpVsNoTrigger: pg('adaptive', 'http') / pg('no-trigger', 'http'),
    notifyPostgresCpuDirectVsNoTrigger: pg('notify', 'direct') / pg('no-trigger', 'direct'),
    triggerOnlyPostgresCpuDirectVsNoTrigger:
      pg('trigger-only', 'direct') / pg('no-trigger', 'direct'),
    triggerOnlyDirectVsNoTrigger: direct('trigger-only') / direct('no-trigger'),
    adaptiveHttpVsNoTrigger10ms: http('adaptive') / http('no-trigger-10ms'),
    adaptiveDirectVsNoTrigger10ms: direct('adaptive') / direct('no-trigger-10ms'),
    noTrigger10msDirectVsNoTrigger: direct('no-trigger-10ms') / direct('no-trigger'),
    adaptiveDirectFromIdleVsNoTrigger:
      leadIn('adaptive', 'direct') / leadIn('no-trigger', 'direct'),
    adaptiveHttpFromIdleVsNoTrigger: leadIn('adaptive', 'http') / leadIn('no-trigger', 'http'),
  }
  const known = Object.entries(ratios).filter(([, v]) => Number.isFinite(v))
  if (known.length === 0) return
  results.ratios = Object.fromEntries(known)
  log('\nratios (same run):')
  for (const [k, v] of known) log(`  ${k.padEnd(42)} ${v.toFixed(2)}`)
}

async function drain(serverUrl: string, kafka: BenchBroker) {
  const out: Record<string, unknown> = {}
  for (const relays of [1, 2]) {
    const dbUrl = await createPhaseDatabase(serverUrl, TEMPLATE)
    // Bitmap scans off, as on the relay's session (session.ts): with the stale statistics below,
    // the progress probe would otherwise read the whole backlog and sort it, every look.
    const sql = postgres(dbUrl, {
      max: 2,
      onnotice: () => {},
      connection: { enable_bitmapscan: 'off' },
    })
    const topic = `bench.drain${relays}`
    await kafka.createTopic(topic, 6)
    // The statistics a relay that kept up leaves: nothing unpublished (autovacuum analyzes the
    // outbox between its batches). Then the backlog, as after an outage: in the outbox's own
    // format, written in bulk (trigger off: nobody listens yet), vacuumed but not analyzed, so
    // the planner still believes the outbox empty (as it did when claims became quadratic in
    // the backlog, drizzle/0010).
    await sql`analyze outbox`
    await sql`alter table outbox disable trigger outbox_notify`
    const xid = await sql.begin(async (tx) => {
      // A type the event contract does not declare: the relay's schema check would
      // dead-letter these stand-in payloads as OrderCreated.
      await tx`
        insert into outbox (event_id, event_type, aggregate_id, payload, occurred_at)
        select gen_random_uuid(), 'BenchEvent', gen_random_uuid(),
               jsonb_build_object('item', 'bench', 'quantity', 1, 'status', 'pending'), now()
          from generate_series(1, ${BACKLOG})`
      const [row] = await tx<{ xid: string }[]>`select pg_current_xact_id()::text as xid`
      return row?.xid ?? '0'
    })
    await sql`alter table outbox enable trigger outbox_notify`
    await sql`vacuum outbox`
    const startedAtMs = Date.now()
    const procs = Array.from({ length: relays }, () =>
      spawnRelay(dbUrl, kafka.bootstrap, topic, {}),
    )
    let peak = 0
    let seconds = 0
    // Progress is read from the stored positions (passed): the first store after the start is
    // the first batch done, the one that passes the backlog's transaction the last (stored as
    // the drain ends: drain.ts).
    const before = (await passed(sql, xid)).at
    let first = Number.NaN
    let last = Number.NaN
    for (;;) {
      await new Promise((r) => setTimeout(r, 250))
      for (const p of procs) peak = Math.max(peak, await peakRssMb(p.child.pid))
      const [dead] = await sql<{ n: number }[]>`
        select count(*)::int as n from outbox_parked where dead_at is not null`
      if (dead && dead.n > 0) throw new Error(`drain: ${dead.n} events dead-lettered`)
      const now = await passed(sql, xid)
      if (Number.isNaN(first) && now.at !== before) first = now.at
      if (!now.done) continue
      last = now.at
      seconds = (last - startedAtMs) / 1000
      const left = await unpublishedCount(sql)
      if (left === 0) break
      // Nothing claimable and yet unpublished: dead-lettered, which a drain to the benchmark's
      // broker must not do.
      throw new Error(`drain: ${left} events left unpublished, dead-lettered`)
    }
    for (const p of procs) p.child.kill('SIGTERM')
    await Promise.all(procs.map((p) => p.exited))
    // Where the time went: from the start to the first stored position (the process starting,
    // connecting, taking its partitions, the first claim and publish), and the span of the
    // stores (the database's clock; same machine).
    const firstMarkSeconds = (first - startedAtMs) / 1000
    const markSpanSeconds = (last - first) / 1000
    await sql.end()
    await dropBenchDatabase(dbUrl)
    out[`${relays} relay(s)`] = {
      events: BACKLOG,
      seconds,
      eventsPerSecond: BACKLOG / seconds,
      firstMarkSeconds,
      eventsPerSecondFromFirstMark: BACKLOG / markSpanSeconds,
      peakRssMb: peak,
    }
    log(
      `drain   ${relays} relay(s)  ${BACKLOG.toLocaleString()} events in ${seconds.toFixed(1)} s = ${(BACKLOG / seconds).toFixed(0)} events/s (including process start), peak RSS ${peak.toFixed(0)} MB | first mark after ${firstMarkSeconds.toFixed(1)} s, then ${(BACKLOG / markSpanSeconds).toFixed(0)} events/s to the last`,
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
