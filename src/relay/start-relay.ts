import postgres from 'postgres'
import type { Config } from '../config'
import { checkTriggerAtStart, doorbellTrigger, triggerMismatch } from '../db/doorbell-trigger'
import type { Logger } from '../logger'
import { createRegistry, createRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { createReplayMetrics, REPORTED_RUNS } from '../observability/replay-metrics'
import {
  createTopicMetrics,
  readTopicBacklog,
  type TopicMetrics,
} from '../observability/topic-metrics'
import { tracedPublish } from '../observability/tracing'
import { listRuns } from '../outbox/replay-queries'
import { routeOf } from '../outbox/routing'
import { oldestPublishableAge, readOutboxStats } from '../outbox/stats'
import { classifyPublishError, describeError } from './classify-error'
import { Doorbell } from './doorbell'
import { createKafkaPublisher, type KafkaPublisher } from './kafka-publisher'
import { type Listener, startListener } from './listener'
import type { Publish } from './publish'
import { runRelay } from './relay'
import { checkRelayReadiness, type Readiness, relayHttpApp, serveRelayHttp } from './relay-http'
import { RelayStatus } from './relay-status'
import { startRetention } from './retention'
import { RelaySession } from './session'

export type RelayService = {
  /** The port of the relay's /metrics, /healthz and /readyz server. */
  httpPort: number
  stop(): Promise<void>
}

type RelayConfig = Config & { databaseUrl: string; kafka: { brokers: string[] } }

/** Wires the relay: its database session, the LISTEN connection, the Kafka producer, the loop. */
export async function startRelay(config: RelayConfig, logger: Logger): Promise<RelayService> {
  const log = logger.child({ component: 'relay' })
  const session = new RelaySession(config.databaseUrl, 'outbox-relay')
  // Metrics and readiness read the outbox on their own small pool, never the claiming session.
  const statsSql = sideConnection(config.databaseUrl, 'outbox-relay-stats', 5000)
  const closeEarly = () =>
    Promise.all([statsSql.end({ timeout: 1 }), session.close()]).catch(() => {})
  await checkTriggerAtStart(statsSql, config.relay.mode, log).catch(async (err: unknown) => {
    await closeEarly()
    throw err
  })
  const status = new RelayStatus()
  const stalledSeconds = () => relayStalledSeconds(statsSql, session, status)
  let listener: Listener | undefined
  const readiness: Readiness = {
    lagSeconds: () => oldestPublishableAge(statsSql, session.owned),
    stalledSeconds,
    ownedPartitions: () => session.owned.length,
    notYetReached: () => notYetReached(status, () => publisher.connect()),
    listenerHealthy: config.relay.mode === 'poll' ? undefined : () => !!listener?.healthy(),
    maxLagSeconds: config.readyMaxLagSeconds,
    wakeupMismatch: async () => triggerMismatch(config.relay.mode, await doorbellTrigger(statsSql)),
  }
  const registry = createRegistry()
  const metrics = createRelayMetrics(registry, {
    ready: async () => (await checkRelayReadiness(readiness)).ready,
    stats: () => readOutboxStats(statsSql),
    ownedPartitions: () => session.owned.length,
    stalledSeconds,
    longestWaitSeconds: () => status.waits.longestMs(Date.now()) / 1000,
  })
  const template = config.kafka.topicTemplate
  const topicMetrics = createTopicMetrics(registry, {
    template,
    backlog: () => readTopicBacklog(statsSql, template),
  })
  createReplayMetrics(registry, () => listRuns(statsSql, REPORTED_RUNS))
  const publisher = createKafkaPublisher({
    ...config.kafka,
    cloudEvents: {
      source: config.relay.eventSource,
      schemaBaseUrl: config.relay.eventSchemaBaseUrl,
    },
    logger: log,
  })
  // First of the parts that can fail to start (a port in use): nothing else runs yet.
  const http = await serveRelayHttp(
    relayHttpApp(registry, readiness),
    config.relayMetricsPort,
    config.relayMetricsHost,
  ).catch(async (err: unknown) => {
    await closeEarly()
    throw err
  })

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
  const loop = runRelay({
    ...config.relay,
    session,
    publish: measuredPublish(publisher, template, { metrics, topicMetrics, status }),
    metrics,
    status,
    doorbell,
    logger: log,
    signal: controller.signal,
  })
  const { mode, pollIntervalMs, lingerMs } = config.relay
  log.info(
    { topicTemplate: template, mode, pollIntervalMs, lingerMs, httpPort: http.port },
    'relay started',
  )

  return {
    httpPort: http.port,
    async stop() {
      controller.abort()
      // The loop stops between batches; a batch stuck on the broker is abandoned by closing
      // the session below (it stays unmarked and is published again later).
      if (await outlasts(loop, config.shutdownTimeoutMs)) {
        log.warn('batch in hand abandoned at shutdown; it will be published again')
      }
      // A retention batch in progress is cut off (closing its connection rolls it back).
      await outlasts(retention.stop(), 1000)
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

/** A small pool of its own, with a statement timeout, for work beside the claiming session. */
function sideConnection(url: string, applicationName: string, statementTimeoutMs: number) {
  return postgres(url, {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    connection: {
      application_name: applicationName,
      statement_timeout: statementTimeoutMs,
      lock_timeout: 2000,
    },
  })
}

function measuredPublish(
  publisher: KafkaPublisher,
  template: string,
  to: { metrics: RelayMetrics; topicMetrics: TopicMetrics; status: RelayStatus },
) {
  const publish: Publish = async (batch) => {
    const topics = [...new Set(batch.map((m) => routeOf(m, template)))].join(',')
    try {
      await tracedPublish(topics, batch, () => publisher.publish(batch))
      to.status.brokerReached = true
    } catch (err) {
      to.metrics.publishFailed(classifyPublishError(err))
      throw err
    }
    to.metrics.published(batch, Date.now())
    to.topicMetrics.published(batch)
  }
  return publish
}

/**
 * How long the relay has made no progress while its partitions hold publishable events (s).
 * Bounded by the oldest such event's age, so an event that just committed after a quiet spell
 * does not read as a stall.
 */
async function relayStalledSeconds(sql: postgres.Sql, session: RelaySession, status: RelayStatus) {
  const age = await oldestPublishableAge(sql, session.owned)
  if (age === 0) return 0
  return Math.min(age, Math.max(0, (Date.now() - status.lastProgressAt) / 1000))
}

/**
 * What the relay has not reached even once since it started. The broker is tried here (the
 * producer connects once, shared with publishing) for at most a second, so /readyz stays quick.
 */
async function notYetReached(status: RelayStatus, connect: () => Promise<void>) {
  const missing: { database?: string; broker?: string } = {}
  if (!status.databaseReached) {
    missing.database = `database not reached yet: ${status.lastFailure ?? 'connecting'}`
  }
  if (!status.brokerReached) {
    const tried = await Promise.race([
      connect().then(
        () => undefined,
        (err: unknown) => describeError(err),
      ),
      new Promise<string>((r) => setTimeout(() => r('connecting'), 1000).unref()),
    ])
    if (tried === undefined) status.brokerReached = true
    else missing.broker = `broker not reached yet: ${tried}`
  }
  return missing
}

/** True when `work` is still running after `ms`. */
async function outlasts(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(true), ms)
  })
  return Promise.race([work.then(() => false), late]).finally(() => clearTimeout(timer))
}
