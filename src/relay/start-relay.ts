import postgres from 'postgres'
import { type Config, ConfigError } from '../config'
import { doorbellTrigger, triggerMismatch } from '../db/doorbell-trigger'
import type { Logger } from '../logger'
import {
  createRegistry,
  createRelayMetrics,
  oldestPublishableAge,
  readOutboxStats,
} from '../observability/metrics'
import { tracedPublish } from '../observability/tracing'
import { classifyPublishError } from './classify-error'
import { CPU_FILES, machineCpuPressure } from './cpu-pressure'
import { Doorbell } from './doorbell'
import { createKafkaPublisher } from './kafka-publisher'
import { type Listener, startListener } from './listener'
import { readsCpuLoad } from './pace'
import type { Publish } from './publish'
import { runRelay } from './relay'
import { relayHttpApp, serveRelayHttp } from './relay-http'
import { startRetention } from './retention'
import { RelaySession } from './session'

export type RelayService = {
  /** The port of the relay's /metrics, /healthz and /readyz server. */
  httpPort: number
  stop(): Promise<void>
}

/** Wires the relay: its database session, the LISTEN connection, the Kafka producer, the loop. */
export async function startRelay(
  config: Config & { databaseUrl: string; kafka: { brokers: string[] } },
  logger: Logger,
): Promise<RelayService> {
  const log = logger.child({ component: 'relay' })
  const session = new RelaySession(config.databaseUrl, 'outbox-relay')
  const publisher = createKafkaPublisher({
    ...config.kafka,
    cloudEvents: {
      source: config.relay.eventSource,
      schemaBaseUrl: config.relay.eventSchemaBaseUrl,
    },
    logger: log,
  })
  const doorbell = new Doorbell()
  const controller = new AbortController()

  // Metrics and readiness read the outbox on their own small pool, never the claiming session.
  const statsSql = postgres(config.databaseUrl, {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    connection: { application_name: 'outbox-relay-stats', statement_timeout: 5000 },
  })
  try {
    await checkDoorbellTrigger(statsSql, config.relay.mode, log)
  } catch (err) {
    await Promise.all([statsSql.end({ timeout: 1 }), session.close()]).catch(() => {})
    throw err
  }
  const ownedPartitions = () => session.owned.length
  const registry = createRegistry()
  const metrics = createRelayMetrics(registry, {
    stats: () => readOutboxStats(statsSql),
    ownedPartitions,
  })
  let listener: Listener | undefined
  // First of the parts that can fail to start (a port in use): nothing else runs yet.
  const http = await serveRelayHttp(
    relayHttpApp(registry, {
      lagSeconds: () => oldestPublishableAge(statsSql, session.owned),
      ownedPartitions,
      listenerHealthy: config.relay.mode === 'poll' ? undefined : () => !!listener?.healthy(),
      maxLagSeconds: config.readyMaxLagSeconds,
      wakeupMismatch: async () =>
        triggerMismatch(config.relay.mode, await doorbellTrigger(statsSql)),
    }),
    config.relayMetricsPort,
  ).catch(async (err: unknown) => {
    await Promise.all([statsSql.end({ timeout: 1 }), session.close()]).catch(() => {})
    throw err
  })

  // In poll mode nobody rings, so there is nothing to listen for.
  if (config.relay.mode !== 'poll') listener = startListener(config.databaseUrl, doorbell, log)
  // Retention deletes old published rows on its own connection, never the claiming session.
  const retentionSql = postgres(config.databaseUrl, {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    connection: { application_name: 'outbox-relay-retention', statement_timeout: 60_000 },
  })
  const retention = startRetention({ sql: retentionSql, ...config.retention, logger: log })
  const publish: Publish = async (batch) => {
    try {
      await tracedPublish(config.kafka.topic, batch, () => publisher.publish(batch))
    } catch (err) {
      metrics.publishFailed(classifyPublishError(err))
      throw err
    }
    metrics.published(batch, Date.now())
  }

  // Pacing for a saturated CPU reads the machine's CPU pressure and use (cpu-pressure.ts).
  const readsCpu = config.relay.mode !== 'poll' && readsCpuLoad(config.relay.pace)
  const cpuPressure = readsCpu ? machineCpuPressure() : undefined
  const loop = runRelay({
    session,
    publish,
    metrics,
    doorbell,
    logger: log,
    signal: controller.signal,
    ...config.relay,
    cpuPressure,
  })
  log.info(
    {
      topic: config.kafka.topic,
      mode: config.relay.mode,
      pollIntervalMs: config.relay.pollIntervalMs,
      paceMs: config.relay.pace.waitMs,
      paceAbove: config.relay.pace.paceAbove,
      paceSaturatedMs: config.relay.pace.saturatedWaitMs,
      cpuSaturation: !readsCpu
        ? 'not read (poll mode, or RELAY_PACE_MS=0)'
        : cpuPressure
          ? `${CPU_FILES.pressure} and ${CPU_FILES.stat}`
          : 'unreadable here (no Linux PSI): never paces for the CPU',
      httpPort: http.port,
    },
    'relay started',
  )

  return {
    httpPort: http.port,
    async stop() {
      controller.abort()
      // The loop stops between batches; a batch stuck on the broker is abandoned by closing
      // the session below (it stays unmarked and is published again later).
      let timer: NodeJS.Timeout | undefined
      const within = <T>(work: Promise<T>, ms: number) =>
        Promise.race([
          work.then(() => false),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(true), ms)
          }),
        ]).finally(() => clearTimeout(timer))
      if (await within(loop, config.shutdownTimeoutMs)) {
        log.warn('batch in hand abandoned at shutdown; it will be published again')
      }
      // A retention batch in progress is cut off (closing its connection rolls it back).
      await within(retention.stop(), 1000)
      await retentionSql.end({ timeout: 0 }).catch(() => {})
      await listener?.close().catch(() => {})
      await session.close()
      await publisher.disconnect().catch(() => {})
      await http.close()
      await statsSql.end({ timeout: 1 }).catch(() => {})
      log.info('relay stopped')
    },
  }
}

/**
 * Refuses to start in a mode the database does not fit (src/db/doorbell-trigger.ts): an
 * `adaptive` or `notify` relay over a disabled trigger would wait for rings nobody makes. A
 * polling relay over an enabled trigger works and is only told what it costs. A database that
 * cannot be reached is not checked: the relay starts anyway and waits for it, as it always has.
 */
async function checkDoorbellTrigger(
  sql: postgres.Sql,
  mode: Config['relay']['mode'],
  log: Logger,
): Promise<void> {
  let state: Awaited<ReturnType<typeof doorbellTrigger>>
  try {
    state = await doorbellTrigger(sql)
  } catch (err) {
    log.warn({ err }, 'could not check the outbox trigger against RELAY_WAKEUP; starting anyway')
    return
  }
  const mismatch = triggerMismatch(mode, state)
  if (!mismatch) return
  // A setting that does not fit the database: printed as configuration, without a stack.
  if (mismatch.fatal) throw new ConfigError([mismatch.message])
  log.warn(mismatch.message)
}
