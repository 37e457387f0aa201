/**
 * docs/operations.md against the code, where a table makes a checkable claim: the metrics table
 * names exactly the metrics the API and the relay register (beyond prom-client's process
 * defaults); the CLI table lists exactly the commands `npm run outbox` takes, as does its usage
 * text; the alerts table is alerts.yml, rule for rule and expression for expression. And every
 * `npm run` command README.md and the docs name exists.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { USAGE } from '../../src/ops/cli'
import { commandNames } from '../../src/ops/parse-command'
import { metricsByJob } from '../helpers/registered-metrics'
import { repoPath } from '../helpers/stack-files'

const docs = readFileSync(repoPath('docs/operations.md'), 'utf8')

/** The rows (cells, trimmed) of the first table under `## heading`, header row left out. */
function tableUnder(heading: string): string[][] {
  const lines = docs.split('\n')
  const start = lines.indexOf(`## ${heading}`)
  if (start < 0) throw new Error(`no "## ${heading}" section`)
  const rows: string[][] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break
    if (!line.startsWith('|')) {
      if (rows.length > 0) break
      continue
    }
    if (/^\|[\s:|-]+\|$/.test(line)) continue
    // A `\|` inside a cell is a pipe in PromQL, not a column.
    const cells = line.replaceAll('\\|', '\u0000').split('|').slice(1, -1)
    rows.push(cells.map((c) => c.trim().replaceAll('\u0000', '|')))
  }
  if (rows.length < 2) throw new Error(`no table under "## ${heading}"`)
  return rows.slice(1)
}

const code = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '')

describe('docs/operations.md: Metrics', () => {
  it('lists every metric the API and relay register beyond the process defaults, and no other', () => {
    const documented = tableUnder('Metrics and the Grafana board').map(
      ([metric = '']) => code(metric)[0]?.replace(/\{.*\}$/, '') ?? '',
    )
    const registered = Object.values(metricsByJob())
      .flat()
      .map((m) => m.name)
      .filter((name) => !/^(process|nodejs)_/.test(name))
    expect([...documented].sort()).toEqual([...new Set(registered)].sort())
  })
})

describe('docs/operations.md: The operator CLI', () => {
  it('lists exactly the commands the CLI takes', () => {
    const documented = tableUnder('The operator CLI').flatMap(([command = '']) =>
      code(command).map((c) => c.split(' ')[0] ?? ''),
    )
    expect([...new Set(documented)].sort()).toEqual([...commandNames].sort())
  })

  it('the usage text names every command', () => {
    for (const name of commandNames) expect(USAGE).toMatch(new RegExp(`^  ${name}\\b`, 'm'))
  })
})

describe('the commands README.md and docs/*.md tell you to run', () => {
  const scripts = Object.keys(
    (JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: object }).scripts,
  )
  const texts = ['README.md', 'docs/operations.md', 'docs/outbox.md'].map((f) => ({
    file: f,
    text: readFileSync(repoPath(f), 'utf8'),
  }))

  it('npm run <script> names a script of package.json', () => {
    const named = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/\bnpm run ([\w-]+(?::[\w-]+)*)/g)].map((m) => `${file}: ${m[1]}`),
    )
    expect(named.length).toBeGreaterThan(10)
    expect(named.filter((n) => !scripts.includes(n.split(': ')[1] ?? ''))).toEqual([])
  })

  it('npm run outbox -- <command> names a command of the CLI', () => {
    const named = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/\bnpm run outbox -- ([a-z-]+)/g)].map((m) => `${file}: ${m[1]}`),
    )
    expect(named.length).toBeGreaterThan(5)
    expect(named.filter((n) => !commandNames.includes(n.split(': ')[1] ?? ''))).toEqual([])
  })
})

describe('docs/operations.md: Alerts worth having', () => {
  const rules = (
    parse(readFileSync(repoPath('observability/prometheus/alerts.yml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string; for?: string }[] }[]
    }
  ).groups.flatMap((g) => g.rules)

  it('is alerts.yml: the same alerts, expressions and durations', () => {
    const documented = tableUnder('Alerts worth having').map(([alert = '', expr = '', f = '']) => ({
      alert: code(alert)[0],
      expr: code(expr)[0],
      for: f === '0m' ? undefined : f,
    }))
    expect(documented).toEqual(rules.map((r) => ({ alert: r.alert, expr: r.expr, for: r.for })))
  })
})
