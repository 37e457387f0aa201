/** The CLI's pure parts: argv parsing and formatting. */
import { describe, expect, it } from 'vitest'
import { formatAge, formatDead, formatStatus } from '../../src/ops/format'
import { parseCommand, UsageError } from '../../src/ops/parse-command'

const id = '0f8fad5b-d9cb-469f-a165-70867728950e'

describe('parseCommand', () => {
  it.each([
    [['status'], { name: 'status', json: false }],
    [['status', '--json'], { name: 'status', json: true }],
    [['dead'], { name: 'dead', json: false, limit: 50 }],
    [['dead', '--limit', '5', '--json'], { name: 'dead', json: true, limit: 5 }],
    [['dead', '--limit=7'], { name: 'dead', json: false, limit: 7 }],
    [['retry', id], { name: 'retry', target: { eventId: id } }],
    [['retry', '--all'], { name: 'retry', target: 'all' }],
    [['discard', id], { name: 'discard', eventId: id }],
    [['show', id], { name: 'show', json: false, eventId: id }],
    [['show', id, '--json'], { name: 'show', json: true, eventId: id }],
    [['reroute', id, 'audit.log'], { name: 'reroute', eventId: id, topic: 'audit.log' }],
    [['help'], { name: 'help' }],
    [['status', '-h'], { name: 'help' }],
    [
      [
        'replay',
        '--since',
        '2026-12-05',
        '--aggregate-type',
        'orders',
        '--to-topic',
        'x.y',
        '--rate',
        '50',
      ],
      {
        name: 'replay',
        action: 'start',
        filters: { since: '2026-12-05T00:00:00.000Z', aggregateType: 'orders' },
        toTopic: 'x.y',
        dryRun: false,
        rate: 50,
        json: false,
      },
    ],
    [['replay', '--status'], { name: 'replay', action: 'status', json: false }],
    [['replay', '--resume', '3'], { name: 'replay', action: 'resume', runId: 3, rate: undefined }],
    [['replay', '--cancel', '3'], { name: 'replay', action: 'cancel', runId: 3 }],
  ])('%j', (argv, command) => {
    expect(parseCommand(argv)).toEqual(command)
  })

  it.each([
    [[], /no command given/],
    [['purge'], /unknown command 'purge'/],
    [['status', '--all'], /status does not take --all/],
    [['status', 'extra'], /status takes no arguments/],
    [['dead', '--limit', '0'], /--limit must be at least 1/],
    [['dead', '--limit', 'ten'], /--limit must be a number/],
    [['dead', '--limit'], /--limit/],
    [['retry'], /exactly one event id \(or --all\)/],
    [['retry', id, id], /exactly one event id/],
    [['retry', '--all', id], /retry --all takes no arguments/],
    [['retry', '42'], /expected an event id/],
    [['discard', '--all'], /discard does not take --all/],
    [['discard'], /discard takes exactly one event id$/],
    [['status', '--verbose'], /--verbose/],
    [['show'], /show takes exactly one event id$/],
    [['reroute', id], /reroute takes <event id> <topic>/],
    [['reroute', id, 'no such/topic'], /expected a topic name/],
    [['reroute', id, 'a', '--json'], /reroute does not take --json/],
    [['replay', '--since', 'yesterday'], /--since must be a time/],
    [
      ['replay', '--since', '2026-12-06', '--until', '2026-12-05'],
      /--since must be before --until/,
    ],
    [['replay', '--to-topic', 'no such/topic'], /--to-topic must be a topic name/],
    [['replay', '--rate', '0'], /--rate must be at least 1/],
    [['replay', '--resume', '2', '--cancel', '2'], /cannot go together/],
    [['replay', '--status', '--aggregate-id', 'a'], /--status takes no filters/],
    [['replay', 'now'], /replay takes options only/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError)
    expect(() => parseCommand(argv)).toThrow(message)
  })
})

describe('formatting', () => {
  it.each([
    [0.42, '0.4s'],
    [42, '42s'],
    [312, '5m 12s'],
    [3 * 3600 + 240, '3h 04m'],
    [2 * 86_400 + 7 * 3600, '2d 07h'],
  ])('formatAge(%d) = %s', (seconds, text) => {
    expect(formatAge(seconds)).toBe(text)
  })

  it('status: unowned partitions are called out', () => {
    const text = formatStatus({
      pending: 1,
      dead: 0,
      oldestPendingAgeSeconds: 2,
      published: 0,
      oldestPublishedAt: null,
      partitions: 64,
      ownedPartitions: 40,
      liveRelays: 1,
      stranded: { unclaimable: 0, preparedPartitions: [], prepared: [] },
      topics: [
        { topic: 'orders.events', pending: 1, dead: 0, published: 0, waitingForTopic: 0 },
        { topic: 'payment.events', pending: 2, dead: 0, published: 0, waitingForTopic: 2 },
      ],
      owners: [
        {
          pid: 7,
          applicationName: 'outbox-relay',
          clientAddress: null,
          backendStart: null,
          partitions: Array.from({ length: 40 }, (_, p) => p),
          awake: 3,
          member: true,
        },
      ],
    })
    expect(text).toMatch(/^7\s+outbox-relay\s+-\s+40\s+3\s+-$/m)
    expect(text).toContain('24 partition(s) unowned')
    expect(text).toMatch(/^orders\.events\s+1\s+0\s+0$/m)
    expect(text).toMatch(/^payment\.events\s+2\s+0\s+0\s+2 waiting: the topic does not exist$/m)
  })

  it('dead: an empty list says so; each error is shown whole, under its row', () => {
    expect(formatDead([], 50)).toBe('no dead-lettered events\n')
    const text = formatDead(
      [
        {
          id: 1,
          eventId: id,
          eventType: 'OrderCreated',
          aggregateType: 'orders',
          aggregateId: id,
          attempts: 3,
          occurredAt: new Date(0),
          deadAt: new Date(0),
          lastError: `line one\nline two ${'x'.repeat(200)}`,
        },
      ],
      50,
    )
    expect(text).toMatch(new RegExp(`^1\\s+${id}\\s+OrderCreated\\s+orders/${id}\\s+3\\s`, 'm'))
    expect(text).toContain(`    LAST ERROR: line one\n    line two ${'x'.repeat(200)}\n`)
    expect(text).not.toContain('…')
  })
})
