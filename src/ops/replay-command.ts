/**
 * `npm run outbox -- replay ...`: checks a run before it sends anything (retention, matches,
 * topics), records it, and drives it (src/replay/run-replay.ts) with a progress bar in a
 * terminal, plain lines otherwise. Exit 0 done (or nothing to do: --dry-run, --status), 1 refused
 * or stopped, 2 usage (parse-replay.ts).
 */
import type postgres from 'postgres'
import type { OutboxMessage } from '../outbox/message'
import {
  countReplayable,
  createRun,
  endRun,
  listRuns,
  lockRun,
  oldestKept,
  type ReplayFilters,
  readRun,
} from '../outbox/replay-queries'
import { runReplay } from '../replay/run-replay'
import type { Output } from './cli'
import { formatReplayCounts, formatRuns, progressLine } from './format-replay'
import type { ReplayCommand } from './parse-replay'

export type ReplayDeps = {
  sql: postgres.Sql
  io: Output & { tty: boolean }
  topicTemplate: string
  retentionMs: number
  batchSize: number
  /** The topics of these the cluster lacks. */
  missingTopics: (topics: string[]) => Promise<string[]>
  publish: (batch: readonly OutboxMessage[]) => Promise<void>
  signal: AbortSignal
}

export class ReplayRefused extends Error {}

export async function runReplayCommand(command: ReplayCommand, d: ReplayDeps): Promise<number> {
  try {
    return await dispatch(command, d)
  } catch (err) {
    if (!(err instanceof ReplayRefused)) throw err
    d.io.err(`${err.message}\n`)
    return 1
  }
}

async function dispatch(command: ReplayCommand, d: ReplayDeps): Promise<number> {
  if (command.action === 'status') {
    const runs = await listRuns(d.sql)
    d.io.out(command.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRuns(runs))
    return 0
  }
  if (command.action === 'cancel') {
    const run = await readRun(d.sql, command.runId)
    if (!run) throw new ReplayRefused(`no replay run ${command.runId}`)
    if ((await endRun(d.sql, run.id, 'cancelled')) === undefined) {
      throw new ReplayRefused(`replay run ${run.id} is ${run.status}: nothing to cancel`)
    }
    d.io.out(`replay run ${run.id} cancelled after ${run.done} of ${run.total} events\n`)
    return 0
  }
  if (command.action === 'resume') return drive(command.runId, d, command.rate)
  const { uptoId, total, topics } = await checkStart(command.filters, command.toTopic, d)
  if (command.dryRun) return 0
  const runId = await createRun(d.sql, {
    filters: command.filters,
    toTopic: command.toTopic,
    uptoId,
    total,
  })
  d.io.out(`replay run ${runId}: ${total} events to ${topics.join(', ')}\n`)
  return drive(runId, d, command.rate)
}

/** Everything that would make a run send nothing useful, each refused with one line. */
async function checkStart(filters: ReplayFilters, toTopic: string | null, d: ReplayDeps) {
  const keptSince = new Date(Date.now() - d.retentionMs)
  for (const [flag, at] of [
    ['--since', filters.since],
    ['--until', filters.until],
  ] as const) {
    if (at === undefined || new Date(at) >= keptSince) continue
    const oldest = await oldestKept(d.sql)
    throw new ReplayRefused(
      `${flag} ${at} is outside retention: events published more than ${Math.round(d.retentionMs / 3_600_000)} h ago ` +
        `(OUTBOX_RETENTION) may be deleted; replay from ${keptSince.toISOString()} on` +
        `${oldest ? ` (the oldest event kept occurred at ${oldest.toISOString()})` : ''}`,
    )
  }
  const { uptoId, counts } = await countReplayable(d.sql, filters, d.topicTemplate)
  const total = counts.reduce((n, c) => n + c.n, 0)
  if (total === 0) {
    throw new ReplayRefused(
      `no published event matches ${JSON.stringify(filters)}: nothing to replay`,
    )
  }
  const topics = toTopic ? [toTopic] : [...new Set(counts.map((c) => c.topic))]
  const missing = await d.missingTopics(topics)
  if (missing.length > 0) {
    throw new ReplayRefused(
      `the cluster has no topic ${missing.join(', ')}: create it first (replay never creates topics); nothing sent`,
    )
  }
  d.io.out(formatReplayCounts(counts, toTopic))
  return { uptoId, total, topics }
}

async function drive(runId: number, d: ReplayDeps, rate?: number): Promise<number> {
  const run = await readRun(d.sql, runId)
  if (!run) throw new ReplayRefused(`no replay run ${runId}`)
  if (run.status !== 'running') throw new ReplayRefused(`replay run ${runId} is ${run.status}`)
  if (!(await lockRun(d.sql, runId))) {
    throw new ReplayRefused(`replay run ${runId} is being replayed by another process`)
  }
  let lastLine = 0
  const status = await runReplay({
    sql: d.sql,
    publish: d.publish,
    runId,
    topicTemplate: d.topicTemplate,
    batchSize: d.batchSize,
    rate,
    signal: d.signal,
    onProgress: (p) => {
      if (d.io.tty) d.io.err(`\r${progressLine(p)}`)
      else if (Date.now() - lastLine >= 1000 || p.done === p.total) {
        lastLine = Date.now()
        d.io.err(`${progressLine(p)}\n`)
      }
    },
  })
  if (d.io.tty) d.io.err('\n')
  if (status === 'done') {
    d.io.out(`replay run ${runId} done\n`)
    return 0
  }
  if (status === 'cancelled') {
    d.io.out(`replay run ${runId} was cancelled\n`)
    return 1
  }
  d.io.out(
    `replay run ${runId} stopped; resume it with: npm run outbox -- replay --resume ${runId}\n`,
  )
  return 1
}
