/** The system under test for one benchmark phase: its own database, topic, API and relay. */
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Kafka, logLevel } from 'kafkajs'
import postgres from 'postgres'
import { freePort } from '../../src/dev/free-port'
import type { MockKafka } from '../../src/dev/mock-kafka'
import { type Spawned, spawnEntrypoint, spawnRelayProcess } from '../helpers/process'
import { closeClient } from './load'

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

export async function createPhaseDatabase(serverUrl: string, template: string): Promise<string> {
  const name = `bench_${randomUUID().slice(0, 8)}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name} template ${template}`)
  await admin.end()
  return serverUrl.replace(/\/[^/]*$/, `/${name}`)
}

export async function startConsumer(brokers: string, topic: string, arrivals: Arrivals) {
  const consumer = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).consumer({
    groupId: `bench-${randomUUID()}`,
    // The development broker (librdkafka's mock) answers a fetch that finds nothing only after
    // the whole max wait, and does not cut the wait short when a message arrives meanwhile
    // (rd_kafka_mock_handle_Fetch): each millisecond of max wait adds up to a millisecond to the
    // latency measured here. 1 ms keeps that small, at ~1,000 fetches/s from this process.
    maxWaitTimeInMs: Number(process.env.BENCH_CONSUMER_WAIT_MS ?? 1),
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let joined: () => void = () => {}
  const ready = new Promise<void>((r) => {
    joined = r
  })
  consumer.on(consumer.events.GROUP_JOIN, () => joined())
  await consumer.run({
    // It only timestamps arrivals: committing offsets after every batch (kafkajs's default)
    // would put a round trip between one fetch and the next.
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const now = performance.now()
      for (const m of batch.messages) {
        const key = m.key?.toString()
        if (key && !arrivals.has(key)) arrivals.set(key, now)
      }
    },
  })
  await ready
  return consumer
}

export function spawnRelay(
  dbUrl: string,
  brokers: string,
  topic: string,
  env: Record<string, string>,
) {
  return spawnRelayProcess({ databaseUrl: dbUrl, brokers, topic }, { LOG_LEVEL: 'warn', ...env })
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
  kafka: MockKafka
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
  const sql = postgres(dbUrl, { max: 40, onnotice: () => {} })
  if (o.dropTrigger) await sql`drop trigger outbox_notify on outbox`
  const topic = `bench.${o.name}`
  o.kafka.createTopic(topic, 6)
  const arrivals: Arrivals = new Map()
  const consumer =
    o.consume === false ? undefined : await startConsumer(o.kafka.bootstrap, topic, arrivals)
  const port = await freePort()
  const apiUrl = `http://127.0.0.1:${port}`
  const api = spawnEntrypoint('src/main/api.ts', {
    DATABASE_URL: dbUrl,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '0', // the load comes from one address
    ...o.apiEnv,
  })
  const relay = spawnRelay(dbUrl, o.kafka.bootstrap, topic, o.relayEnv)
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
