/**
 * The metrics each Prometheus job exposes, read from the code that registers them
 * (src/observability/metrics.ts and topic-metrics.ts), one registry per process as in
 * production: the API's request histogram, the relay's outbox metrics, and prom-client's
 * default process metrics in both. The one third-party job, kafka (kafka_exporter, for consumer
 * lag), is declared in `exporterMetrics`.
 */
import { Histogram, type Registry } from 'prom-client'
import { createConsumerMetrics } from '../../src/consumer/metrics'
import type { Db } from '../../src/db/client'
import {
  createHttpMetrics,
  createRegistry,
  createRelayMetrics,
} from '../../src/observability/metrics'
import { createReplayMetrics } from '../../src/observability/replay-metrics'
import { createTopicMetrics } from '../../src/observability/topic-metrics'
import type { MetricShape } from './promql'

function shapes(registry: Registry): MetricShape[] {
  return registry.getMetricsAsArray().map((m) => ({
    name: m.name,
    histogram: m instanceof Histogram,
    // prom-client keeps labelNames on the metric object but does not type it.
    labels: 'labelNames' in m && Array.isArray(m.labelNames) ? m.labelNames.map(String) : [],
  }))
}

export function metricsByJob(): Record<string, MetricShape[]> {
  const api = createRegistry()
  createHttpMetrics(api)
  const relay = createRegistry()
  createRelayMetrics(relay, {
    stats: async () => ({
      pending: 0,
      dead: 0,
      oldestPendingAgeSeconds: 0,
      unclaimable: 0,
      heldByPrepared: 0,
    }),
    ownedPartitions: () => 0,
    stalledSeconds: async () => 0,
    longestWaitSeconds: () => 0,
    ready: async () => true,
  })
  createTopicMetrics(relay, { backlog: async () => [] })
  createReplayMetrics(relay, async () => [])
  // The consumer's database is read only at a scrape, which shapes() never does.
  const consumer = createRegistry()
  createConsumerMetrics(consumer, {} as Db)
  return { api: shapes(api), relay: shapes(relay), consumer: shapes(consumer) }
}

/**
 * Jobs of exporters this repository does not build, with the metrics the rules and dashboard may
 * read from them: kafka_exporter's consumer-group lag (summed per group and topic, and per
 * partition), as its documentation names them. Not checked against a running exporter.
 */
export const exporterMetrics: Record<string, MetricShape[]> = {
  kafka: [
    { name: 'kafka_consumergroup_lag_sum', histogram: false, labels: ['consumergroup', 'topic'] },
    {
      name: 'kafka_consumergroup_lag',
      histogram: false,
      labels: ['consumergroup', 'topic', 'partition'],
    },
  ],
}
