/** Text for `npm run outbox -- replay`: counts, the runs, a progress line. */
import type { ReplayRun } from '../outbox/replay-queries'
import type { ReplayProgress } from '../replay/run-replay'
import { printable } from './format'

export function formatReplayCounts(
  counts: { topic: string; eventType: string; n: number }[],
  toTopic: string | null,
): string {
  const total = counts.reduce((n, c) => n + c.n, 0)
  const rows = counts.map(
    (c) => `  ${printable(c.topic).padEnd(30)} ${printable(c.eventType).padEnd(24)} ${c.n}`,
  )
  return [
    `${total} published events match${toTopic ? `, to be sent to ${toTopic}` : ', each to its own topic'}:`,
    `  ${'FROM TOPIC'.padEnd(30)} ${'EVENT TYPE'.padEnd(24)} EVENTS`,
    ...rows,
    '',
  ].join('\n')
}

export function formatRuns(runs: ReplayRun[]): string {
  if (runs.length === 0) return 'no replay runs\n'
  const lines = runs.map(
    (r) =>
      `  ${String(r.id).padEnd(5)} ${r.status.padEnd(10)} ${`${r.done}/${r.total}`.padEnd(15)} ` +
      `${(r.toTopic ?? '(own topics)').padEnd(24)} ${r.updatedAt.toISOString()}  ${JSON.stringify(r.filters)}`,
  )
  return [
    `  ${'RUN'.padEnd(5)} ${'STATUS'.padEnd(10)} ${'DONE'.padEnd(15)} ${'TO'.padEnd(24)} ${'UPDATED'.padEnd(24)}  FILTERS`,
    ...lines,
    '',
  ].join('\n')
}

/** `[#####.....] 500/1000 50% 120 events/s, 4 s left` */
export function progressLine(p: ReplayProgress): string {
  const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1
  const width = 30
  const filled = Math.round(share * width)
  const left = p.rate > 0 ? Math.ceil((p.total - p.done) / p.rate) : undefined
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ` +
    `${Math.round(share * 100)}% ${Math.round(p.rate)} events/s` +
    `${left === undefined ? '' : `, ${left} s left`}`
  )
}
