/**
 * Just enough PromQL reading to check a dashboard against the metrics the code registers:
 * which metric names an expression selects, which labels it names (in `{...}` matchers and in
 * `by`/`without`/`on`/`ignoring`/`group_*` clauses) and which job it pins with `job="..."`.
 * Not a parser: it relies on the dashboard's queries being plain (no strings outside
 * matchers, no `}` inside label values), which the tests below keep them.
 */

const grouping = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g
const matcherBlock = /\{([^}]*)\}/g
const matcher = /([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"([^"]*)"/g
const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan'])

export type Selection = {
  /** Metric names as written, e.g. http_request_duration_seconds_bucket. */
  metrics: string[]
  /** Every label the expression names. */
  labels: string[]
  /** The values of `job="..."` matchers. */
  jobs: string[]
}

export function readExpression(expr: string): Selection {
  const labels: string[] = []
  const jobs: string[] = []
  let rest = expr
    .replace(/\[[^\]]*\]/g, ' ') // range selectors: [5m], [$__rate_interval]
    .replace(/\$\{?\w+\}?/g, ' ') // other Grafana variables
  rest = rest.replace(matcherBlock, (_, body: string) => {
    for (const [, label, value] of body.matchAll(matcher)) {
      if (label) labels.push(label)
      if (label === 'job' && value !== undefined) jobs.push(value)
    }
    return ' '
  })
  rest = rest.replace(grouping, (_, list: string) => {
    labels.push(
      ...list
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    )
    return ' '
  })
  rest = rest.replace(/"[^"]*"/g, ' ').replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, ' ')
  const metrics: string[] = []
  for (const m of rest.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const after = rest.slice((m.index ?? 0) + m[0].length).trimStart()
    if (after.startsWith('(') || keywords.has(m[0].toLowerCase())) continue // a function
    metrics.push(m[0])
  }
  return { metrics, labels, jobs }
}

/** What one registered metric allows a query to name. */
export type MetricShape = { name: string; histogram: boolean; labels: readonly string[] }

/** The series names a metric produces: histograms only as _bucket, _sum and _count. */
export function seriesNames(m: MetricShape): string[] {
  return m.histogram ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name]
}

/** Labels every scraped series carries: Prometheus adds job and instance. */
export const targetLabels = ['job', 'instance']

/**
 * Problems with one PromQL expression against the metrics each job exposes; empty when every
 * metric and label resolves (for the job a `job="..."` matcher pins, else for any job).
 */
export function checkExpression(expr: string, byJob: Record<string, MetricShape[]>): string[] {
  const { metrics, labels, jobs } = readExpression(expr)
  const problems: string[] = []
  const unknownJobs = jobs.filter((j) => !(j in byJob))
  if (unknownJobs.length > 0) problems.push(`no Prometheus job ${unknownJobs.join(', ')}`)
  const candidates: MetricShape[] = (jobs.length > 0 ? jobs : Object.keys(byJob)).flatMap(
    (j) => byJob[j] ?? [],
  )
  const allowedLabels = new Set(targetLabels)
  if (metrics.length === 0) problems.push('selects no metric')
  for (const series of metrics) {
    if (series === 'up') continue // Prometheus's own per-target series
    const metric = candidates.find((m) => seriesNames(m).includes(series))
    if (!metric) {
      problems.push(
        `${series} is not exposed by job ${jobs.join('|') || Object.keys(byJob).join(' or ')}`,
      )
      continue
    }
    for (const l of metric.labels) allowedLabels.add(l)
    if (series.endsWith('_bucket')) allowedLabels.add('le')
  }
  for (const l of labels) if (!allowedLabels.has(l)) problems.push(`no label ${l} on ${metrics}`)
  return problems
}
