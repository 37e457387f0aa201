/**
 * `npm run outbox -- <command>`: argv in, text out. parseCommand (parse-command.ts) turns argv
 * into a Command (or a UsageError, exit 2); runCommand runs it through src/outbox/admin.ts and
 * admin-event.ts and prints the result as text, or as JSON with --json.
 * Exit codes: 0 done, 1 refused or failed, 2 usage.
 */
import type postgres from 'postgres'
import { discardDead, listDead, OutboxAdminError, readStatus, requeueDead } from '../outbox/admin'
import { discardWaiting, readEvent, rerouteEvent } from '../outbox/admin-event'
import { DEFAULT_TOPIC_TEMPLATE, routeOf } from '../outbox/routing'
import { formatDead, formatEvent, formatStatus } from './format'
import type { Command } from './parse-command'
import type { ReplayCommand } from './parse-replay'

export const USAGE = `Usage: npm run outbox -- <command> [options]

Commands:
  status [--json]             Pending, dead and published events, in all and by topic (routed
                              by KAFKA_TOPIC_TEMPLATE; events waiting for a missing topic are
                              named), the oldest pending event's age, and which relay (pid,
                              application, address) owns how many of the 64 partitions.
  dead [--limit N] [--json]   Dead-lettered events, newest first (default 50), each with its
                              whole last error.
  show <event-id> [--json]    One event whole: its state, routing, headers, payload, attempts
                              and its whole last error.
  retry <event-id>            Requeue a dead-lettered event: attempts reset to 0, publishable
  retry --all                 at once, relays woken. Its last_error is kept until the next
                              failure overwrites it. --all requeues every dead event.
  discard <event-id>          Mark a dead-lettered event, or a pending one waiting for a topic
                              that does not exist, handled WITHOUT publishing it. Later events
                              of its aggregate are released and published; consumers never
                              get this one: for a dead one, an EventDiscarded marker with its
                              id and sequence (ce_sequence) is published in its place (a waiting
                              one's topic does not exist: no marker). last_error records it.
  reroute <event-id> <topic>  Send a dead-lettered event, or a pending one waiting for a topic
                              that does not exist, to <topic> instead (its row's topic column),
                              publishable at once. Only this event: later events of its
                              aggregate keep their own routing.
  replay [filters] [--to-topic <topic>] [--dry-run] [--rate N]
                              Publish retained, published events again, in their order per
                              aggregate, each with the header outbox_replay: <run>. Filters:
                              --since, --until (ISO times), --aggregate-type, --aggregate-id,
                              --event-type, --topic (where they went). --dry-run counts them.
  replay --status [--json]    Every replay run and its progress.
  replay --resume <run>       Go on with a run that was stopped (Ctrl-C, a kill).
  replay --cancel <run>       Stop a run for good.
  help                        This text.

<event-id> is the event's uuid (EVENT ID in \`dead\`; the ce_id consumers see).
Environment: DATABASE_URL (else the database of an "npm start" running here); replay also
KAFKA_BROKERS (likewise).
Exit status: 0 done; 1 refused (event not found, or not dead nor waiting for a topic) or
failed (configuration, database); 2 usage error.
`

export type Output = { out(text: string): void; err(text: string): void }

/**
 * Runs a parsed command; returns the exit code. Refusals (OutboxAdminError) exit 1.
 * `topicTemplate`: KAFKA_TOPIC_TEMPLATE, for the status by topic.
 */
export async function runCommand(
  sql: postgres.Sql,
  command: Exclude<Command, ReplayCommand>,
  io: Output,
  options: { topicTemplate?: string } = {},
): Promise<number> {
  try {
    io.out(await run(sql, command, options.topicTemplate))
    return 0
  } catch (err) {
    if (!(err instanceof OutboxAdminError)) throw err
    io.err(`${err.message}\n`)
    return 1
  }
}

async function run(
  sql: postgres.Sql,
  command: Exclude<Command, ReplayCommand>,
  topicTemplate?: string,
): Promise<string> {
  switch (command.name) {
    case 'status': {
      const status = await readStatus(sql, topicTemplate)
      return command.json ? toJson(status) : formatStatus(status)
    }
    case 'dead': {
      const dead = await listDead(sql, command.limit)
      return command.json ? toJson(dead) : formatDead(dead, command.limit)
    }
    case 'show': {
      const event = await readEvent(sql, command.eventId)
      const route = routeOf(event, topicTemplate ?? DEFAULT_TOPIC_TEMPLATE)
      return command.json ? toJson({ ...event, route }) : formatEvent(event, route)
    }
    case 'retry': {
      const requeued = await requeueDead(sql, command.target)
      return `requeued ${requeued.length} event(s)\n`
    }
    case 'discard': {
      const { discardedAt } = await discard(sql, command.eventId)
      return (
        `discarded event ${command.eventId} at ${discardedAt.toISOString()}: it will not be ` +
        'published; later events of its aggregate are released (a dead event is replaced by an ' +
        'EventDiscarded marker for consumers)\n'
      )
    }
    case 'reroute': {
      const { from } = await rerouteEvent(sql, command.eventId, command.topic)
      return (
        `rerouted event ${command.eventId} to ${command.topic}` +
        `${from ? ` (was ${from})` : ''}: the relay publishes it there next\n`
      )
    }
  }
}

/** A dead event, else a pending one that waits for a missing topic (which says why not). */
async function discard(sql: postgres.Sql, eventId: string): Promise<{ discardedAt: Date }> {
  try {
    return await discardDead(sql, eventId)
  } catch (err) {
    if (err instanceof OutboxAdminError && err.code === 'EVENT_NOT_DEAD') {
      return discardWaiting(sql, eventId)
    }
    throw err
  }
}

const toJson = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
