/**
 * What `npm start` runs when DATABASE_URL or KAFKA_BROKERS is not set: an embedded Postgres
 * (data kept in .data/postgres, so orders survive a restart) and an in-process
 * Kafka-protocol broker (memory only). For development and trying things out, not production.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Config } from '../config'
import { type DevServicesRecord, devServicesFile } from './dev-services-file'
import { createEmbeddedPostgres } from './embedded-postgres'
import { freePort } from './free-port'
import { startMockKafka } from './mock-kafka'

export type DevServices = {
  config: Config & { databaseUrl: string; kafka: { brokers: string[] } }
  embedded: { postgres: boolean; kafka: boolean }
  /** Where the embedded database's data and the record for the other commands are kept. */
  dataDir: string
  /** The in-process broker's, when it runs (topics-on-first-use.ts). */
  createTopic?: (name: string, partitions?: number) => void
  stop(): Promise<void>
}

/**
 * Starts what is not configured, keeping its data in `dataDir` (devDataDirOf). If any part fails
 * to start, the parts already started are stopped again before the error is thrown: a failed
 * start leaves nothing running.
 */
export async function startDevServices(config: Config, dataDir: string): Promise<DevServices> {
  const stops: Array<() => Promise<void> | void> = []
  const stop = async () => {
    for (const s of stops.reverse()) await s()
  }
  try {
    // The broker first: it fails fast (librdkafka missing) before a database is started.
    let brokers = config.kafka.brokers
    let idempotent = config.kafka.idempotent
    let createTopic: DevServices['createTopic']
    if (!brokers) {
      const kafka = startMockKafka({ brokers: 1 })
      createTopic = kafka.createTopic
      stops.push(() => kafka.close())
      kafka.createTopic(config.kafka.topic, 3)
      kafka.createTopic(config.kafka.inventoryTopic, 3) // the example consumer's own events
      brokers = kafka.bootstrap.split(',')
      idempotent = false // the mock cannot run the idempotent producer (mock-kafka.ts)
    }
    let databaseUrl = config.databaseUrl
    if (!databaseUrl) {
      const pg = await createEmbeddedPostgres({
        dataDir: resolve(dataDir, 'postgres'),
        port: await freePort(),
      })
      await pg.start()
      stops.push(() => pg.stop())
      databaseUrl = pg.url()
    }
    if (!config.databaseUrl || !config.kafka.brokers) {
      const record: DevServicesRecord = {
        pid: process.pid,
        ...(config.databaseUrl ? {} : { databaseUrl }),
        ...(config.kafka.brokers ? {} : { brokers }),
        topic: config.kafka.topic,
      }
      await mkdir(dataDir, { recursive: true })
      stops.push(() => rm(devServicesFile(dataDir), { force: true }))
      await writeFile(devServicesFile(dataDir), JSON.stringify(record))
    }
    return {
      config: { ...config, databaseUrl, kafka: { ...config.kafka, brokers, idempotent } },
      embedded: { postgres: !config.databaseUrl, kafka: !config.kafka.brokers },
      dataDir,
      ...(createTopic ? { createTopic } : {}),
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
