/** Human-readable output of the operator CLI: plain aligned tables, no colour (pipes, logs). */
import type { DeadEvent, OutboxStatus } from '../outbox/admin'

export function formatStatus(s: OutboxStatus): string {
  const lines = [
    table(
      ['EVENTS', 'COUNT', ''],
      [
        [
          'pending',
          s.pending,
          s.pending > 0 ? `oldest ${formatAge(s.oldestPendingAgeSeconds)}` : '',
        ],
        ['dead', s.dead, s.dead > 0 ? 'see: npm run outbox -- dead' : ''],
        [
          'published',
          s.published,
          s.oldestPublishedAt ? `oldest kept ${s.oldestPublishedAt.toISOString()}` : '',
        ],
      ],
    ),
    '',
    ...(s.topics.length === 0
      ? []
      : [
          table(
            ['TOPIC', 'PENDING', 'DEAD', 'PUBLISHED', ''],
            s.topics.map((t) => [
              printable(t.topic),
              t.pending,
              t.dead,
              t.published,
              t.waitingForTopic > 0 ? `${t.waitingForTopic} waiting: the topic does not exist` : '',
            ]),
          ),
          '',
        ]),
    `relays: ${s.liveRelays} live, ${s.ownedPartitions} of ${s.partitions} partitions owned`,
  ]
  if (s.owners.length === 0) {
    lines.push('no relay is running: nothing is being published')
  } else {
    lines.push(
      table(
        ['PID', 'APPLICATION', 'CLIENT', 'PARTITIONS', 'AWAKE', 'CONNECTED SINCE'],
        s.owners.map((o) => [
          o.pid,
          printable(o.applicationName ?? '-'),
          o.clientAddress ?? '-',
          o.partitions.length,
          o.awake,
          o.backendStart?.toISOString() ?? '-',
        ]),
      ),
    )
    const unowned = s.partitions - s.ownedPartitions
    if (unowned > 0) {
      lines.push(`${unowned} partition(s) unowned: relays are starting or rebalancing`)
    }
  }
  return `${lines.join('\n')}\n`
}

export function formatDead(events: DeadEvent[], limit: number): string {
  if (events.length === 0) return 'no dead-lettered events\n'
  const rows = events.map((e) => [
    e.id,
    e.eventId,
    printable(e.eventType),
    printable(`${e.aggregateType}/${e.orderId}`),
    e.attempts,
    e.deadAt.toISOString(),
    printable(truncate(e.lastError ?? '-', 80)),
  ])
  const more = events.length === limit ? ` (the newest ${limit}; --limit N for more)` : ''
  return (
    `${events.length} dead-lettered event(s)${more}\n` +
    `${table(['ID', 'EVENT ID', 'TYPE', 'AGGREGATE', 'ATTEMPTS', 'DEAD AT', 'LAST ERROR'], rows)}\n` +
    'requeue: npm run outbox -- retry <event-id> | --all; give up on one: discard <event-id>\n'
  )
}

/** 0.4s, 42s, 5m 12s, 3h 04m, 2d 07h. */
export function formatAge(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`
  const s = Math.floor(seconds)
  const pad = (n: number) => String(n).padStart(2, '0')
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor(s / 3600) % 24)}h`
}

// C0 and C1 controls (ESC starts a terminal's escape sequences), DEL, the line and paragraph
// separators, the bidirectional overrides (text that reads differently than it is), and
// unpaired surrogates.
const nonPrintable =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * `text` safe to print to a terminal: anything that is not printable becomes a visible escape
 * (`\x1b`, `\u202e`), so data written by anyone cannot retitle, clear or rewrite the operator's
 * screen. Backslashes are left as they are: JSON text stays readable as JSON.
 */
export function printable(text: string): string {
  return text.replace(nonPrintable, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`
  })
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const truncate = (text: string, max: number) => {
  const line = text.replace(/\s+/g, ' ')
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
