/**
 * `npm run outbox -- <command>`: argv in, text out. parseCommand turns argv into a Command (or a
 * UsageError, exit 2); runCommand runs it through src/outbox/admin.ts and prints the result
 * as a table, or as JSON with --json. Exit codes: 0 done, 1 refused or failed, 2 usage.
 */
import { parseArgs } from 'node:util'
import type postgres from 'postgres'
import { z } from 'zod'
import { discardDead, listDead, OutboxAdminError, readStatus, requeueDead } from '../outbox/admin'
import { formatDead, formatStatus } from './format'

export const USAGE = `Usage: npm run outbox -- <command> [options]

Commands:
  status [--json]             Pending, dead and published events, in all and by topic (routed
                              by KAFKA_TOPIC_TEMPLATE; events waiting for a missing topic are
                              named), the oldest pending event's age, and which relay (pid,
                              application, address) owns how many of the 64 partitions.
  dead [--limit N] [--json]   Dead-lettered events, newest first (default 50).
  retry <event-id>            Requeue a dead-lettered event: attempts reset to 0, publishable
  retry --all                 at once, relays woken. Its last_error is kept until the next
                              failure overwrites it. --all requeues every dead event.
  discard <event-id>          Mark a dead-lettered event handled WITHOUT publishing it. Later
                              events of its aggregate are released and published; consumers never
                              get this one: an EventDiscarded marker with its id and sequence
                              (ce_sequence) is published in its place. last_error records it.
  help                        This text.

<event-id> is the event's uuid (EVENT ID in \`dead\`; the ce_id consumers see).
Environment: DATABASE_URL (else the database of an "npm start" running here).
Exit status: 0 done; 1 refused (event not found or not dead) or failed (configuration,
database); 2 usage error.
`

export type Command =
  | { name: 'status'; json: boolean }
  | { name: 'dead'; json: boolean; limit: number }
  | { name: 'retry'; target: { eventId: string } | 'all' }
  | { name: 'discard'; eventId: string }

export class UsageError extends Error {
  readonly code = 'USAGE'
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export type Output = { out(text: string): void; err(text: string): void }

const eventIdSchema = z.guid('expected an event id (a uuid, as listed by `npm run outbox -- dead`)')
const limitSchema = z.coerce
  .number({ error: '--limit must be a number' })
  .int('--limit must be a whole number')
  .min(1, '--limit must be at least 1')
  .max(10_000, '--limit must be at most 10000')

/** Options each command accepts; anything else is a usage error, not silently ignored. */
const ALLOWED: Record<string, readonly string[]> = {
  status: ['json'],
  dead: ['json', 'limit'],
  retry: ['all'],
  discard: [],
}

/** What argv asks for: a command to run against the database, or the usage text. */
export function parseCommand(argv: readonly string[]): Command | { name: 'help' } {
  let parsed: ReturnType<typeof parseOptions>
  try {
    parsed = parseOptions(argv)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  const [name, ...args] = positionals
  if (values.help || name === 'help') return { name: 'help' }
  if (name === undefined) throw new UsageError('no command given')
  const allowed = ALLOWED[name]
  if (!allowed) throw new UsageError(`unknown command '${name}'`)
  for (const option of Object.keys(values)) {
    if (!allowed.includes(option)) throw new UsageError(`${name} does not take --${option}`)
  }
  const expected = name === 'discard' || (name === 'retry' && !values.all) ? 1 : 0
  if (args.length !== expected) {
    throw new UsageError(
      expected === 0
        ? `${name}${values.all ? ' --all' : ''} takes no arguments (got '${args.join(' ')}')`
        : `${name} takes exactly one event id${name === 'retry' ? ' (or --all)' : ''}`,
    )
  }
  const json = values.json ?? false
  switch (name) {
    case 'status':
      return { name, json }
    case 'dead':
      return { name, json, limit: valid(limitSchema, values.limit ?? '50') }
    case 'retry':
      return { name, target: values.all ? 'all' : { eventId: valid(eventIdSchema, args[0]) } }
    default:
      return { name: 'discard', eventId: valid(eventIdSchema, args[0]) }
  }
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function valid<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input)
  if (!result.success) {
    throw new UsageError(`${result.error.issues[0]?.message ?? 'invalid'}: '${String(input)}'`)
  }
  return result.data
}

/**
 * Runs a parsed command; returns the exit code. Refusals (OutboxAdminError) exit 1.
 * `topicTemplate`: KAFKA_TOPIC_TEMPLATE, for the status by topic.
 */
export async function runCommand(
  sql: postgres.Sql,
  command: Command,
  io: Output,
  options: { topicTemplate?: string } = {},
): Promise<number> {
  try {
    switch (command.name) {
      case 'status': {
        const status = await readStatus(sql, options.topicTemplate)
        io.out(command.json ? toJson(status) : formatStatus(status))
        return 0
      }
      case 'dead': {
        const dead = await listDead(sql, command.limit)
        io.out(command.json ? toJson(dead) : formatDead(dead, command.limit))
        return 0
      }
      case 'retry': {
        const requeued = await requeueDead(sql, command.target)
        io.out(`requeued ${requeued.length} event(s)\n`)
        return 0
      }
      case 'discard': {
        const { discardedAt } = await discardDead(sql, command.eventId)
        io.out(
          `discarded event ${command.eventId} at ${discardedAt.toISOString()}: it will not be ` +
            'published; later events of its order are released, and consumers get an EventDiscarded ' +
            'marker in its place\n',
        )
        return 0
      }
    }
  } catch (err) {
    if (!(err instanceof OutboxAdminError)) throw err
    io.err(`${err.message}\n`)
    return 1
  }
}

const toJson = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
