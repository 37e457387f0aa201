/**
 * What the relay shows of itself: its Prometheus metrics and its readiness (relay-http.ts),
 * read from the loop's status, the session, and the outbox on a side connection of their own,
 * never the claiming session.
 */
import type postgres from 'postgres'
import type { Config } from '../config'
import { doorbellTrigger, triggerMismatch } from '../db/doorbell-trigger'
import { createRegistry, createRelayMetrics, type RelayMetrics } from '../observability/metrics'
import { createReplayMetrics, REPORTED_RUNS } from '../observability/replay-metrics'
import {
  createTopicMetrics,
  readTopicBacklog,
  type TopicMetrics,
} from '../observability/topic-metrics'
import { tracedPublish } from '../observability/tracing'
import { listRuns } from '../outbox/replay-queries'
import { oldestPublishableAge, readOutboxStats } from '../outbox/stats'
import { describeError } from './classify-error'
import type { KafkaPublisher } from './kafka-publisher'
import type { Listener } from './listener'
import type { Publish } from './publish'
import { checkRelayReadiness, type Readiness } from './relay-http'
import type { RelayStatus } from './relay-status'
import type { RelaySession } from './session'

type Observed = {
  config: Config & { kafka: { topicTemplate: string } }
  statsSql: postgres.Sql
  session: RelaySession
  status: RelayStatus
  publisher: KafkaPublisher
  listener: () => Listener | undefined
}

export function observeRelay(o: Observed) {
  const { config, statsSql, session, status } = o
  const stalledSeconds = () => relayStalledSeconds(statsSql, session, status)
  const readiness: Readiness = {
    lagSeconds: () => oldestPublishableAge(statsSql, session.owned),
    stalledSeconds,
    ownedPartitions: () => session.owned.length,
    notYetReached: () => notYetReached(status, () => o.publisher.connect()),
    listenerHealthy: config.relay.mode === 'poll' ? undefined : () => !!o.listener()?.healthy(),
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
  const topicMetrics = createTopicMetrics(registry, {
    backlog: () => readTopicBacklog(statsSql, config.kafka.topicTemplate),
  })
  createReplayMetrics(registry, () => listRuns(statsSql, REPORTED_RUNS))
  const publish = measuredPublish(o.publisher, { metrics, topicMetrics, status })
  return { registry, readiness, metrics, publish }
}

/** Publishes in a span named for the batch's topics, and counts what the broker acknowledged. */
function measuredPublish(
  publisher: KafkaPublisher,
  to: { metrics: RelayMetrics; topicMetrics: TopicMetrics; status: RelayStatus },
): Publish {
  return async (batch) => {
    const topics = [...new Set(batch.map((m) => m.topic))].join(',')
    await tracedPublish(topics, batch, () => publisher.publish(batch))
    to.status.brokerReached = true
    to.metrics.published(batch, Date.now())
    to.topicMetrics.published(batch)
  }
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
