/** The system under test for one benchmark phase: its own database, topic, API and relay. */
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Worker } from 'node:worker_threads'
import postgres from 'postgres'
import { settingNames } from '../src/config'
import { API_DB_POOL_SIZE } from '../src/config/fixed'
import type { WakeupMode } from '../src/db/doorbell-trigger'
import { fitDoorbellTrigger } from '../src/db/doorbell-trigger'
import { freePort } from '../src/dev/free-port'
import { type Spawned, spawnEntrypoint, spawnRelayProcess } from '../test/helpers/process'
import type { ConsumerWorkerData, FromConsumer } from './consumer-worker'
import { closeClient } from './load'
import { type BenchBroker, createBenchDatabase, dropBenchDatabase } from './targets'

export type Arrivals = Map<string, number>

export type Phase = {
  name: string
  dbUrl: string
  sql: postgres.Sql
  topic: string
  apiUrl: string
  arrivals: Arrivals
  api: Spawned
  relay: Spawned
  stop(): Promise<void>
}

export function createPhaseDatabase(serverUrl: string, template: string): Promise<string> {
  return createBenchDatabase(serverUrl, `bench_${randomUUID().slice(0, 8)}`, template)
}

/**
 * Starts the arrivals consumer in a worker thread (consumer-worker.ts, fetch-loop.ts) and
 * resolves once it reads the topic. Arrivals are timed with nowMs() (clock.ts), as the load
 * generator times responses. It asks for the topic's `partitions` partitions on the first of
 * `brokers` (the benchmark's broker has one), and pauses BENCH_CONSUMER_PAUSE_MS (default 0.25)
 * after each fetch that found nothing.
 */
export async function startConsumer(
  brokers: string,
  topic: string,
  partitions: number,
  arrivals: Arrivals,
): Promise<{ disconnect(): Promise<void> }> {
  const data: ConsumerWorkerData = {
    broker: brokers.split(',')[0] ?? brokers,
    topic,
    partitions,
    pauseMs: Number(process.env.BENCH_CONSUMER_PAUSE_MS ?? 0.25),
  }
  // tsx does not reach into worker threads by itself: load the worker through its API.
  const file = new URL('./consumer-worker.ts', import.meta.url).href
  const worker = new Worker(
    `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(file)}, ${JSON.stringify(import.meta.url)}))`,
    { eval: true, workerData: data },
  )
  // A failure after start-up is printed at once (arrivals would just stop) and thrown at stop.
  let failure: Error | undefined
  let finished: () => void = () => {}
  const done = new Promise<void>((r) => {
    finished = r
  })
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      failure = err
      console.error(`bench consumer failed: ${err.message}`)
      reject(err)
      finished()
    }
    worker.on('error', fail)
    worker.on('message', (m: FromConsumer) => {
      if (m.type === 'arrived') {
        for (const key of m.keys) if (!arrivals.has(key)) arrivals.set(key, m.at)
      } else if (m.type === 'ready') resolve()
      else if (m.type === 'stopped') finished()
      else fail(new Error(m.message))
    })
  })
  return {
    async disconnect() {
      worker.postMessage({ type: 'stop' })
      await done
      await worker.terminate()
      if (failure) throw failure
    },
  }
}

/**
 * Relay settings written `NAME=value`, several joined by `@` (BENCH_RELAY_ENV, and the settings
 * of a write stack in BENCH_WRITE_KINDS). A name must be a relay setting of config.ts, so that
 * a typo fails instead of running the stack unchanged.
 */
export function settingsList(list: string | undefined): Record<string, string> {
  const settings = (list ?? '').split('@').filter((kv) => kv.trim() !== '')
  return Object.fromEntries(
    settings.map((kv) => {
      const at = kv.indexOf('=')
      const name = kv.slice(0, at).trim()
      if (at <= 0) throw new Error(`not NAME=value: "${kv}"`)
      // NODE_OPTIONS too, to load a profiler into the relays (--import of a preload script),
      // and NODE_FLAGS, Node's own flags for the stack's API and relay (test/helpers/process.ts).
      if (!settingNames.includes(name) && name !== 'NODE_OPTIONS' && name !== 'NODE_FLAGS') {
        throw new Error(`"${name}" is not a setting (src/config.ts)`)
      }
      return [name, kv.slice(at + 1)]
    }),
  )
}

/** The API of a stack is started with its relay's Node flags (NODE_FLAGS), if it has any. */
function nodeFlags(relayEnv: Record<string, string>): Record<string, string> {
  const flags = relayEnv.NODE_FLAGS ?? settingsList(process.env.BENCH_RELAY_ENV).NODE_FLAGS
  return flags === undefined ? {} : { NODE_FLAGS: flags }
}

/** A relay of the benchmark: BENCH_RELAY_ENV (e.g. `RELAY_BATCH_SIZE=100`) first, then `env`. */
export function spawnRelay(
  dbUrl: string,
  brokers: string,
  topic: string,
  env: Record<string, string>,
) {
  return spawnRelayProcess(
    { databaseUrl: dbUrl, brokers, topic },
    { LOG_LEVEL: 'warn', ...settingsList(process.env.BENCH_RELAY_ENV), ...env },
  )
}

/** Ready = it owns all 64 partitions (the processes log only warnings, so no log to wait on). */
async function waitForRelay(sql: postgres.Sql): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks
       where locktype = 'advisory' and classid = 780001 and objsubid = 2 and granted
         and database = (select oid from pg_database where datname = current_database())`
    if (row?.n === 64) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('the relay did not take its partitions')
}

export async function startPhase(o: {
  name: string
  serverUrl: string
  template: string
  kafka: BenchBroker
  relayEnv: Record<string, string>
  apiEnv?: Record<string, string>
  dropTrigger?: boolean
  /**
   * Start a consumer that timestamps arrivals (default true). Scenarios that only count writes
   * leave it out: it polls the broker every millisecond (the test broker holds an empty fetch
   * for the whole max wait, see startConsumer), which costs ~18% of a core per stack even with
   * no traffic, measured; the write scenario runs four stacks at once.
   */
  consume?: boolean
}): Promise<Phase> {
  const dbUrl = await createPhaseDatabase(o.serverUrl, o.template)
  // The direct writers' pool is the API's (API_DB_POOL_SIZE, fixed), so the ceiling they measure is
  // the same statement over the same number of connections, without HTTP.
  const sql = postgres(dbUrl, { max: API_DB_POOL_SIZE, onnotice: () => {} })
  // The database as db:migrate leaves it for the relay's mode: for `poll`, the trigger disabled.
  if (o.dropTrigger) await sql`drop trigger outbox_notify on outbox`
  else await fitDoorbellTrigger(sql, (o.relayEnv.RELAY_WAKEUP ?? 'adaptive') as WakeupMode)
  const topic = `bench.${o.name}`
  const partitions = 6
  await o.kafka.createTopic(topic, partitions)
  const arrivals: Arrivals = new Map()
  const consumer =
    o.consume === false
      ? undefined
      : await startConsumer(o.kafka.bootstrap, topic, partitions, arrivals)
  const port = await freePort()
  const apiUrl = `http://127.0.0.1:${port}`
  const api = spawnEntrypoint('src/main/api.ts', {
    DATABASE_URL: dbUrl,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0', // the load comes from one address
    ...nodeFlags(o.relayEnv),
    ...o.apiEnv,
  })
  const relayMetricsPort = await freePort()
  const relay = spawnRelay(dbUrl, o.kafka.bootstrap, topic, {
    METRICS_PORT: String(relayMetricsPort),
    ...o.relayEnv,
  })
  await Promise.all([waitForPort(port), waitForRelay(sql)])
  return {
    name: o.name,
    dbUrl,
    sql,
    topic,
    apiUrl,
    arrivals,
    api,
    relay,
    async stop() {
      await closeClient(apiUrl)
      api.child.kill('SIGTERM')
      relay.child.kill('SIGTERM')
      await Promise.all([api.exited, relay.exited])
      await consumer?.disconnect()
      await sql.end()
      await dropBenchDatabase(dbUrl)
    },
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`API on ${port} did not come up`)
}

/** Peak resident set size of a process, in MB (Linux VmHWM). */
export async function peakRssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}
