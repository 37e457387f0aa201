/** Human-readable output of the operator CLI: plain aligned tables, no colour (pipes, logs). */
import { fixed } from '../config/fixed'
import type { DeadEvent, OutboxStatus } from '../outbox/admin'
import type { EventDetail } from '../outbox/admin-event'

export function formatStatus(s: OutboxStatus): string {
  const lines = [...eventLines(s), ...topicLines(s), ...relayLines(s), ...strandedLines(s)]
  return `${lines.join('\n')}\n`
}

function eventLines(s: OutboxStatus): string[] {
  const oldestKept = s.oldestPublishedAt ? `oldest kept ${s.oldestPublishedAt.toISOString()}` : ''
  return [
    table(
      ['EVENTS', 'COUNT', ''],
      [
        [
          'pending',
          s.pending,
          s.pending > 0 ? `oldest ${formatAge(s.oldestPendingAgeSeconds)}` : '',
        ],
        ['dead', s.dead, s.dead > 0 ? 'see: npm run outbox -- dead' : ''],
        ['published', s.published, oldestKept],
      ],
    ),
    '',
  ]
}

function topicLines(s: OutboxStatus): string[] {
  if (s.topics.length === 0) return []
  const rows = s.topics.map((t) => [
    printable(t.topic),
    t.pending,
    t.dead,
    t.published,
    t.waitingForTopic > 0 ? `${t.waitingForTopic} waiting: the topic does not exist` : '',
  ])
  return [table(['TOPIC', 'PENDING', 'DEAD', 'PUBLISHED', ''], rows), '']
}

function relayLines(s: OutboxStatus): string[] {
  const lines = [
    `relays: ${s.liveRelays} live, ${s.ownedPartitions} of ${s.partitions} partitions owned`,
  ]
  if (s.owners.length === 0) return [...lines, 'no relay is running: nothing is being published']
  const rows = s.owners.map((o) => [
    o.pid,
    printable(o.applicationName ?? '-'),
    o.clientAddress ?? '-',
    o.partitions.length,
    o.awake,
    o.backendStart?.toISOString() ?? '-',
  ])
  lines.push(
    table(['PID', 'APPLICATION', 'CLIENT', 'PARTITIONS', 'AWAKE', 'CONNECTED SINCE'], rows),
  )
  const unowned = s.partitions - s.ownedPartitions
  if (unowned > 0) lines.push(`${unowned} partition(s) unowned: relays are starting or rebalancing`)
  return lines
}

/** What only an operator can fix; silent when there is nothing. */
function strandedLines({ stranded: x }: OutboxStatus): string[] {
  const lines: string[] = []
  if (x.unclaimable > 0) {
    lines.push(
      `${x.unclaimable} event(s) no relay can claim: written with the outbox trigger off ` +
        '(docs/outbox.md, "What the relay does not support", says how to release them)',
    )
  }
  if (x.preparedPartitions.length > 0) {
    const gids = x.prepared.map((p) => `${printable(p.gid)} (${p.prepared.toISOString()})`)
    lines.push(
      `partition(s) ${x.preparedPartitions.join(', ')} cannot go to sleep: a prepared ` +
        `transaction holds their trace lock; COMMIT PREPARED or ROLLBACK PREPARED one of: ${gids.join(', ')}`,
    )
  }
  return lines.length > 0 ? ['', ...lines] : []
}

/**
 * A table of the dead events, each row followed by its whole last error on indented lines:
 * the error is what the operator acts on, and a column would have to cut it.
 */
export function formatDead(events: DeadEvent[], limit: number): string {
  if (events.length === 0) return 'no dead-lettered events\n'
  const rows = events.map((e) => [
    e.id,
    e.eventId,
    printable(e.eventType),
    printable(`${e.aggregateType}/${e.aggregateId}`),
    e.attempts,
    e.deadAt.toISOString(),
  ])
  const [header = '', ...lines] = table(
    ['ID', 'EVENT ID', 'TYPE', 'AGGREGATE', 'ATTEMPTS', 'DEAD AT'],
    rows,
  ).split('\n')
  const body = lines.flatMap((line, i) => [
    line,
    indent(`LAST ERROR: ${printableLines(events[i]?.lastError ?? '-')}`),
  ])
  const more = events.length === limit ? ` (the newest ${limit}; --limit N for more)` : ''
  return (
    `${events.length} dead-lettered event(s)${more}\n${[header, ...body].join('\n')}\n` +
    'one whole: npm run outbox -- show <event-id>; requeue: retry <event-id> | --all; ' +
    'give up on one: discard <event-id>\n'
  )
}

/** One event, a field per line; payload and headers as indented JSON. `route`: its topic. */
export function formatEvent(e: EventDetail, route: string): string {
  const at = (d: Date | null) => d?.toISOString() ?? '-'
  const fields: [string, string | number][] = [
    ['event id', e.eventId],
    ['state', e.state],
    ['id', e.id],
    ['type', `${e.eventType} (schema v${e.schemaVersion})`],
    ['aggregate', `${e.aggregateType}/${e.aggregateId}`],
    ['topic', `${route} (${e.topic ? 'its own' : 'KAFKA_TOPIC_TEMPLATE for its aggregate type'})`],
    ['source', e.source ?? `(the relay's default, ${fixed.relay.eventSource})`],
    ['sequence', e.sequence ?? '-'],
    ['occurred at', at(e.occurredAt)],
    ['published at', at(e.publishedAt)],
    ['dead at', at(e.deadAt)],
    ['attempts', e.attempts],
    ['next attempt at', at(e.nextAttemptAt)],
    ['request id', e.requestId ?? '-'],
    ['traceparent', e.traceparent ?? '-'],
  ]
  const width = Math.max(...fields.map(([k]) => k.length)) + 1
  return [
    ...fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${printable(String(v))}`),
    `last error:\n${indent(printableLines(e.lastError ?? '-'))}`,
    `headers:\n${indent(JSON.stringify(e.headers ?? {}, null, 2))}`,
    `payload:\n${indent(JSON.stringify(e.payload, null, 2))}`,
    '',
  ].join('\n')
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')

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

/** printable(), line by line: an error's own line breaks stay line breaks. */
const printableLines = (text: string) => text.split('\n').map(printable).join('\n')

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
