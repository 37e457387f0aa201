/**
 * observability/prometheus/alerts.yml against Prometheus and the code: `promtool check rules`
 * accepts it, `promtool test rules` shows each alert firing on the trouble it is for and quiet on
 * a healthy relay (alerts.test.yml), and every metric and label a rule names is one the job it
 * reads exposes (the code's registries; kafka_exporter's declared metrics for job kafka).
 *
 * promtool comes with Prometheus (Debian: apt-get install prometheus; .ci/run installs it).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { z } from 'zod'
import { checkExpression, readExpression } from '../helpers/promql'
import { exporterMetrics, metricsByJob } from '../helpers/registered-metrics'
import { repoPath } from '../helpers/stack-files'

const RULES = 'observability/prometheus/alerts.yml'
const byJob = { ...metricsByJob(), ...exporterMetrics }

const Rule = z.object({
  alert: z.string(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.object({ severity: z.enum(['page', 'ticket']) }),
  annotations: z.object({ summary: z.string().min(1) }),
})
const { groups } = z
  .object({ groups: z.array(z.object({ name: z.string(), rules: z.array(Rule) })) })
  .parse(parse(readFileSync(repoPath(RULES), 'utf8')))
const rules = groups.flatMap((g) => g.rules)

async function promtool(...args: string[]) {
  try {
    return await promisify(execFile)('promtool', args, { cwd: repoPath('') })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string }
    if (e.code === 'ENOENT') {
      throw new Error('promtool not found: install Prometheus (Debian: apt-get install prometheus)')
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout}${e.stderr}`)
  }
}

describe('the alert rules', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await promtool('check', 'rules', RULES)
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`)
  })

  it('fire on the trouble each is for, and not on a healthy relay (promtool test rules)', async () => {
    const { stdout } = await promtool('test', 'rules', 'observability/prometheus/alerts.test.yml')
    expect(stdout).toContain('SUCCESS')
    // Every alert is exercised by the unit tests.
    const tests = readFileSync(repoPath('observability/prometheus/alerts.test.yml'), 'utf8')
    expect(
      rules.filter((r) => !tests.includes(`alertname: ${r.alert}`)).map((r) => r.alert),
    ).toEqual([])
  })

  it('name only metrics and labels that the job they read exposes', () => {
    const problems = rules.flatMap((r) =>
      checkExpression(r.expr, byJob).map((p) => `${r.alert}: ${p}`),
    )
    expect(problems).toEqual([])
  })

  it('cover a stalled relay, dead letters, a topic waited for, consumer lag, and relays down', () => {
    const used = new Set(rules.flatMap((r) => readExpression(r.expr).metrics))
    expect(
      [
        'relay_stalled_seconds',
        'outbox_dead_events',
        'outbox_waiting_for_topic_events',
        'kafka_consumergroup_lag_sum',
        'up',
        'relay_owned_partitions',
      ].filter((m) => !used.has(m)),
    ).toEqual([])
  })

  it('never alert on the missing-topic class of publish errors, which counts while a topic is waited for', () => {
    const onErrors = rules.filter((r) => r.expr.includes('outbox_publish_errors_total'))
    expect(onErrors.length).toBeGreaterThan(0)
    for (const r of onErrors) expect(r.expr, r.alert).toMatch(/class=~?"[^"]+"/)
    for (const r of onErrors) expect(r.expr, r.alert).not.toContain('missing-topic')
  })
})
