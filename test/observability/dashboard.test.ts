/**
 * The Grafana dashboard against the code: every query selects only metrics the job it reads
 * registers (src/observability/metrics.ts), names only labels those metrics carry, and every
 * panel reads the provisioned datasource. A renamed metric or a typo in a query fails here
 * instead of leaving a blank panel in a stack CI cannot start.
 */
import { describe, expect, it } from 'vitest'
import { checkExpression as checkPromql, readExpression } from '../helpers/promql'
import { metricsByJob } from '../helpers/registered-metrics'
import { readDashboard, readGrafanaProvisioning } from '../helpers/stack-files'

const byJob = metricsByJob()

/** Problems with one PromQL expression; empty when every name and label resolves. */
const checkExpression = (expr: string) => checkPromql(expr, byJob)

describe('the Grafana dashboard', () => {
  const dashboard = readDashboard()
  const panels = dashboard.panels.filter((p) => p.type !== 'row')
  const queries = panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, ...t })))

  it('is a Grafana JSON model with a fixed uid and unique panel ids', () => {
    expect(dashboard.uid).toBe('outbox')
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(panels.length).toBeGreaterThan(10)
  })

  it('every panel and query reads the provisioned Prometheus datasource, by uid', () => {
    const [datasource, ...others] = readGrafanaProvisioning().datasources
    expect(others).toEqual([])
    expect(datasource?.type).toBe('prometheus')
    const expected = { type: 'prometheus', uid: datasource?.uid }
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual(expected)
      expect(p.targets.length, `${p.title} has no query`).toBeGreaterThan(0)
      for (const t of p.targets) expect(t.datasource ?? expected, p.title).toEqual(expected)
    }
  })

  it('every query names only metrics and labels the code registers, for the job it reads', () => {
    const problems = queries.flatMap((q) =>
      checkExpression(q.expr).map((problem) => `${q.panel} ${q.refId}: ${problem}`),
    )
    expect(problems).toEqual([])
  })

  it('shows every outbox and request metric, and the process basics', () => {
    const used = new Set(queries.flatMap((q) => readExpression(q.expr).metrics))
    const shown = (name: string) =>
      [name, `${name}_bucket`, `${name}_count`].some((n) => used.has(n))
    const contract = [
      'http_request_duration_seconds',
      'outbox_pending_events',
      'outbox_oldest_pending_age_seconds',
      'outbox_dead_events',
      'outbox_published_events_total',
      'outbox_publish_errors_total',
      'outbox_publish_latency_seconds',
      'relay_wakeups_total',
      'relay_owned_partitions',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]
    expect(contract.filter((name) => !shown(name))).toEqual([])
  })
})

describe('the query check itself', () => {
  it('accepts the shapes the dashboard uses', () => {
    expect(
      checkExpression(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="api"}[$__rate_interval])))',
      ),
    ).toEqual([])
    expect(checkExpression('sum by (class) (rate(outbox_publish_errors_total[5m]))')).toEqual([])
  })

  it.each([
    ['a misspelt metric', 'rate(outbox_published_event_total[5m])'],
    ['a histogram without its suffix', 'outbox_publish_latency_seconds{job="relay"}'],
    ['a metric of another job', 'rate(http_request_duration_seconds_count{job="relay"}[1m])'],
    ['an unknown job', 'process_resident_memory_bytes{job="billing"}'],
    ['a label the metric lacks', 'sum by (reason) (rate(outbox_publish_errors_total[5m]))'],
    ['a label in a matcher', 'relay_wakeups_total{kind="notify"}'],
    ['le outside a bucket series', 'sum by (le) (outbox_pending_events)'],
  ])('rejects %s', (_, expr) => {
    expect(checkExpression(expr)).not.toEqual([])
  })
})
