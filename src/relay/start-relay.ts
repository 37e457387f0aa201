import type postgres from 'postgres'
import type { Config } from '../config'
import { checkTriggerAtStart } from '../db/doorbell-trigger'
import type { Logger } from '../logger'
import { Doorbell } from './doorbell'
import type { EventSchemas } from './kafka-message'
import { createKafkaPublisher, type KafkaPublisher } from './kafka-publisher'
import { type Listener, startListener } from './listener'
import { observeRelay } from './observe-relay'
import { runRelay } from './relay'
import { relayConnection } from './relay-connection'
import { relayHttpApp, serveRelayHttp } from './relay-http'
import { RelayStatus } from './relay-status'
import { type Retention, startRetention } from './retention'
import { RelaySession } from './session'

export type RelayService = {
  /** The port of the relay's /metrics, /healthz and /readyz server. */
  httpPort: number
  stop(): Promise<void>
}

type RelayConfig = Config & { databaseUrl: string; kafka: { brokers: string[] } }

/**
 * Wires the relay: its database session, the LISTEN connection, the Kafka producer, the loop.
 * `schemas` are the declared event types' (src/events), checked before each publish.
 */
export async function startRelay(
  config: RelayConfig,
  logger: Logger,
  schemas: EventSchemas,
): Promise<RelayService> {
  const log = logger.child({ component: 'relay' })
  const session = new RelaySession(config.databaseUrl, 'outbox-relay')
  // Metrics and readiness read the outbox on their own small pool, never the claiming session.
  const statsSql = sideConnection(config.databaseUrl, 'outbox-relay-stats', 5000)
  const closeEarly = async (err: unknown): Promise<never> => {
    await Promise.all([statsSql.end({ timeout: 1 }), session.close()]).catch(() => {})
    throw err
  }
  await checkTriggerAtStart(statsSql, config.relay.mode, log).catch(closeEarly)
  const status = new RelayStatus()
  let listener: Listener | undefined
  const publisher = createKafkaPublisher({
    ...config.kafka,
    cloudEvents: { source: config.relay.eventSource, schemas },
    logger: log,
  })
  const sources = { config, statsSql, session, status, publisher }
  const observed = observeRelay({ ...sources, listener: () => listener })
  // First of the parts that can fail to start (a port in use): nothing else runs yet.
  const http = await serveRelayHttp(
    relayHttpApp(observed.registry, observed.readiness),
    config.relayMetricsPort,
    config.relayMetricsHost,
  ).catch(closeEarly)

  const doorbell = new Doorbell()
  // In poll mode nobody rings, so there is nothing to listen for.
  if (config.relay.mode !== 'poll') listener = startListener(config.databaseUrl, doorbell, log)
  // Retention deletes old published rows on its own connection, never the claiming session.
  const retentionSql = sideConnection(config.databaseUrl, 'outbox-relay-retention', 60_000)
  const retention = startRetention({ sql: retentionSql, ...config.retention, logger: log })
  // Connected now, not at the first event: readiness says whether the broker can be reached.
  publisher.connect().then(
    () => {
      status.brokerReached = true
    },
    () => {}, // readiness says why, and publishing connects again
  )
  const controller = new AbortController()
  const loop = startLoop(config, { session, status, doorbell, observed, log }, controller.signal)
  const { mode, pollIntervalMs, lingerMs } = config.relay
  const topicTemplate = config.kafka.topicTemplate
  log.info({ topicTemplate, mode, pollIntervalMs, lingerMs, httpPort: http.port }, 'relay started')
  const parts = { loop, retention, retentionSql, listener, session, publisher, http, statsSql }
  return {
    httpPort: http.port,
    async stop() {
      controller.abort()
      await stopRelay(parts, config.shutdownTimeoutMs, log)
    },
  }
}

/** The relay loop (relay.ts), publishing and reporting through what observe-relay.ts made. */
function startLoop(
  config: RelayConfig,
  p: {
    session: RelaySession
    status: RelayStatus
    doorbell: Doorbell
    observed: ReturnType<typeof observeRelay>
    log: Logger
  },
  signal: AbortSignal,
) {
  return runRelay({
    ...config.relay,
    topicTemplate: config.kafka.topicTemplate,
    session: p.session,
    publish: p.observed.publish,
    metrics: p.observed.metrics,
    status: p.status,
    doorbell: p.doorbell,
    logger: p.log,
    signal,
  })
}

/** Stops the parts in order: the loop first, the connections it used after it. */
async function stopRelay(
  p: {
    loop: Promise<void>
    retention: Retention
    retentionSql: postgres.Sql
    listener: Listener | undefined
    session: RelaySession
    publisher: KafkaPublisher
    http: { close(): Promise<void> }
    statsSql: postgres.Sql
  },
  shutdownTimeoutMs: number,
  log: Logger,
) {
  // The loop stops between batches; a batch stuck on the broker is abandoned by closing
  // the session below (the positions stay before it: it is published again later).
  if (await outlasts(p.loop, shutdownTimeoutMs)) {
    log.warn('batch in hand abandoned at shutdown; it will be published again')
  }
  // A retention batch in progress is cut off (closing its connection rolls it back).
  await outlasts(p.retention.stop(), 1000)
  await p.retentionSql.end({ timeout: 0 }).catch(() => {})
  await p.listener?.close().catch(() => {})
  await p.session.close()
  await p.publisher.disconnect().catch(() => {})
  await p.http.close()
  await p.statsSql.end({ timeout: 1 }).catch(() => {})
  log.info('relay stopped')
}

/** A pool of one beside the claiming session, with a statement timeout of its own. */
function sideConnection(url: string, applicationName: string, statementTimeoutMs: number) {
  return relayConnection(url, applicationName, {
    connectTimeout: 3,
    settings: { statement_timeout: statementTimeoutMs },
  })
}

/** True when `work` is still running after `ms`. */
async function outlasts(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(true), ms)
  })
  return Promise.race([work.then(() => false), late]).finally(() => clearTimeout(timer))
}
