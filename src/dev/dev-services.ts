/**
 * What `npm start` runs when DATABASE_URL or KAFKA_BROKERS is not set: an embedded Postgres
 * (data kept in .data/postgres, so orders survive a restart) and an in-process
 * Kafka-protocol broker (memory only). For development and trying things out, not production.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Config } from '../config'
import { createEmbeddedPostgres } from './embedded-postgres'
import { freePort } from './free-port'
import { startMockKafka } from './mock-kafka'

export const devDataDir = resolve(process.env.DEV_DATA_DIR ?? '.data')
/**
 * Where a running `npm start` records the services it started itself (the embedded database's
 * URL, the in-process broker's address and topic), so `npm run tail`, `npm run consume` and
 * `npm run outbox` beside it need no settings. Removed when it stops.
 */
export const devServicesFile = resolve(devDataDir, 'dev-services.json')

export type DevServicesRecord = { databaseUrl?: string; brokers?: string[]; topic: string }

/** What a running `npm start` recorded here, if anything. */
export async function readDevServices(): Promise<DevServicesRecord | undefined> {
  const text = await readFile(devServicesFile, 'utf8').catch(() => undefined)
  return text === undefined ? undefined : (JSON.parse(text) as DevServicesRecord)
}

export type DevServices = {
  config: Config & { databaseUrl: string; kafka: { brokers: string[] } }
  embedded: { postgres: boolean; kafka: boolean }
  stop(): Promise<void>
}

export async function startDevServices(config: Config): Promise<DevServices> {
  const stops: Array<() => Promise<void> | void> = []
  let databaseUrl = config.databaseUrl
  if (!databaseUrl) {
    const pg = await createEmbeddedPostgres({
      dataDir: resolve(devDataDir, 'postgres'),
      port: await freePort(),
    })
    await pg.start()
    stops.push(() => pg.stop())
    databaseUrl = pg.url()
  }
  let brokers = config.kafka.brokers
  let idempotent = config.kafka.idempotent
  if (!brokers) {
    const kafka = startMockKafka({ brokers: 1 })
    kafka.createTopic(config.kafka.topic, 3)
    kafka.createTopic(config.kafka.inventoryTopic, 3) // the example consumer's own events
    stops.push(() => kafka.close())
    brokers = kafka.bootstrap.split(',')
    idempotent = false // the mock cannot run the idempotent producer (DESIGN.md)
  }
  if (!config.databaseUrl || !config.kafka.brokers) {
    const record: DevServicesRecord = {
      ...(config.databaseUrl ? {} : { databaseUrl }),
      ...(config.kafka.brokers ? {} : { brokers }),
      topic: config.kafka.topic,
    }
    await mkdir(devDataDir, { recursive: true })
    await writeFile(devServicesFile, JSON.stringify(record))
    stops.push(() => rm(devServicesFile, { force: true }))
  }
  return {
    config: { ...config, databaseUrl, kafka: { ...config.kafka, brokers, idempotent } },
    embedded: { postgres: !config.databaseUrl, kafka: !config.kafka.brokers },
    async stop() {
      for (const stop of stops.reverse()) await stop()
    },
  }
}
