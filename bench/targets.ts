/**
 * What the benchmark runs against: an embedded Postgres (fsync on) and the in-process broker by
 * default, or the server of DATABASE_URL and the brokers of KAFKA_BROKERS when given.
 *
 * A given server must let the URL's role create databases (each phase gets its own, from a
 * migrated template); they are dropped at the end. Its settings are its own: the embedded one
 * gets max_connections 300 and shared_buffers 512MB. The checkpoint between write slices needs
 * superuser or pg_checkpoint; without it slices are not evened out (said once).
 * Given brokers get their topics through kafkajs's admin client (a real Kafka or Redpanda; the
 * in-process broker cannot serve it, see mock-kafka.ts). Arrivals are read from the first
 * broker of the list, so the topics' leaders must be there: one broker, as in compose.yaml.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import postgres from 'postgres'
import { createEmbeddedPostgres } from '../src/dev/embedded-postgres'
import { freePort } from '../src/dev/free-port'
import { startMockKafka } from '../src/dev/mock-kafka'

export type BenchBroker = {
  bootstrap: string
  createTopic(topic: string, partitions: number): Promise<void>
  close(): Promise<void>
}

export type BenchServer = {
  /** The server's URL (its database part is replaced per phase). */
  url: string
  /** Drops the databases the run created (given server) or the whole cluster (embedded). */
  close(): Promise<void>
  description: string
}

export async function benchServer(given: string | undefined): Promise<BenchServer> {
  if (given) {
    return {
      url: given,
      description: `given server ${new URL(given).host}`,
      close: () => dropDatabases(given, [...createdDatabases.keys()]),
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'outbox-bench-'))
  await chmod(dataDir, 0o755)
  const pg = await createEmbeddedPostgres({
    dataDir: join(dataDir, 'pg'),
    port: await freePort(),
    // pg_stat_statements: the horizon scenario reports the relay's claims per window.
    settings: {
      max_connections: '300',
      shared_buffers: '512MB',
      shared_preload_libraries: 'pg_stat_statements',
    },
  })
  await pg.start()
  return {
    url: pg.url(),
    description: 'embedded Postgres (fsync on)',
    async close() {
      await pg.stop()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** The databases this run created (phases and template), dropped at the end on a given server. */
export const createdDatabases = new Map<string, string>() // name -> the server URL it came from

/** Creates a database of this run (from `template`, if given); returns its URL. */
export async function createBenchDatabase(
  serverUrl: string,
  name: string,
  template?: string,
): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database "${name}"${template ? ` template "${template}"` : ''}`)
  } finally {
    await admin.end()
  }
  createdDatabases.set(name, serverUrl)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * Drops a database of this run once its phase is over, so that no finished phase's tables are
 * vacuumed or checkpointed while a later one is measured.
 */
export async function dropBenchDatabase(dbUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(dbUrl).pathname.slice(1))
  const serverUrl = createdDatabases.get(name)
  if (serverUrl === undefined) throw new Error(`not a database of this run: ${name}`)
  await dropDatabases(serverUrl, [name])
  createdDatabases.delete(name)
}

async function dropDatabases(url: string, names: string[]): Promise<void> {
  const admin = postgres(url, { max: 1, onnotice: () => {} })
  try {
    // Phases first: a template cannot be dropped while a copy is being made of it.
    for (const name of names.reverse()) {
      await admin.unsafe(`drop database if exists "${name}" with (force)`)
    }
  } finally {
    await admin.end()
  }
}

export async function benchBroker(given: string | undefined): Promise<BenchBroker> {
  if (!given) {
    const mock = startMockKafka({ brokers: 1 })
    return {
      bootstrap: mock.bootstrap,
      createTopic: async (topic, partitions) => mock.createTopic(topic, partitions),
      close: async () => mock.close(),
    }
  }
  const admin = new Kafka({ brokers: given.split(','), logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  const created: string[] = []
  return {
    bootstrap: given,
    async createTopic(topic, partitions) {
      await admin.createTopics({
        topics: [{ topic, numPartitions: partitions }],
        waitForLeaders: true,
      })
      created.push(topic)
    },
    async close() {
      if (created.length > 0) await admin.deleteTopics({ topics: created })
      await admin.disconnect()
    },
  }
}
