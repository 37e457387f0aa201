/**
 * `npm run consume -- <command>`: the operator's view of parked messages. Without a command,
 * `npm run consume` runs the consumer (src/main/consume.ts).
 */
import { parseArgs } from 'node:util'
import type { Db } from '../db/client'
import { printable } from '../ops/format'
import { ParkedError, retryParked, skipParked } from './admin'
import { listParked, type ParkedMessage } from './parked-queries'

export const CONSUME_USAGE = `Usage: npm run consume [-- <command>]

Without a command: runs the inventory consumer.
Commands:
  parked [--json]   Messages set aside after their retries, oldest first, with the reason.
                    Later events of each one's order wait behind it.
  retry <id>        Handle the parked message again; released only if it now succeeds.
  skip <id>         Give up on it: its order goes on without that version (its parked
                    successors apply now), as after an outbox discard.
Exit status: 0 done; 1 refused or failed; 2 usage error.
`

export type ConsumeCommand =
  | { name: 'run' }
  | { name: 'help' }
  | { name: 'parked'; json: boolean }
  | { name: 'retry' | 'skip'; id: number }

export class ConsumeUsageError extends Error {}

export function parseConsumeCommand(argv: readonly string[]): ConsumeCommand {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    })
  } catch (err) {
    throw new ConsumeUsageError((err as Error).message)
  }
  const [name, ...args] = parsed.positionals
  if (parsed.values.help || name === 'help') return { name: 'help' }
  if (name === undefined) return { name: 'run' }
  if (name === 'parked' && args.length === 0) return { name, json: parsed.values.json === true }
  if ((name === 'retry' || name === 'skip') && !parsed.values.json) {
    const id = args.length === 1 ? Number(args[0]) : Number.NaN
    if (!Number.isSafeInteger(id) || id < 1)
      throw new ConsumeUsageError(`${name} takes one parked message id (a number from 'parked')`)
    return { name, id }
  }
  throw new ConsumeUsageError(`unknown command or arguments: '${argv.join(' ')}'`)
}

export type Output = { out(text: string): void; err(text: string): void }

export async function runConsumeCommand(
  db: Db,
  command: Exclude<ConsumeCommand, { name: 'run' | 'help' }>,
  io: Output,
): Promise<number> {
  try {
    if (command.name === 'parked') {
      const parked = await listParked(db, 1000)
      io.out(command.json ? `${JSON.stringify(parked, null, 2)}\n` : formatParked(parked))
      return 0
    }
    const handled =
      command.name === 'retry'
        ? await retryParked(db, command.id)
        : await skipParked(db, command.id)
    const what = command.name === 'retry' ? 'handled again' : 'skipped'
    io.out(`message ${command.id} ${what}: ${handled ? handled.outcome : 'no event'}\n`)
    return 0
  } catch (err) {
    if (!(err instanceof ParkedError)) throw err
    io.err(`${printable(err.message)}\n`)
    return 1
  }
}

export function formatParked(parked: ParkedMessage[]): string {
  if (parked.length === 0) return 'no parked messages\n'
  const lines = parked.map(
    (p) =>
      `${p.id}  ${p.parkedAt.toISOString()}  ${p.topic}/${p.partition}@${p.offset}  ` +
      `${printable(p.eventType ?? '-')} order=${p.orderId ?? '-'} v${p.version ?? '-'}  ` +
      `attempts=${p.attempts}\n    ${printable(p.reason)}`,
  )
  return (
    `${parked.length} parked message(s)\n${lines.join('\n')}\n` +
    'handle again: npm run consume -- retry <id>; give up on one: skip <id>\n'
  )
}
