/** argv of `npm run outbox -- <command>` into a Command, or a UsageError (exit 2). */
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { isValidTopicName } from '../outbox/routing'
import { parseReplay, type ReplayCommand } from './parse-replay'
import { UsageError } from './usage-error'

export type Command =
  | { name: 'status'; json: boolean }
  | { name: 'dead'; json: boolean; limit: number }
  | { name: 'show'; json: boolean; eventId: string }
  | { name: 'retry'; target: { eventId: string } | 'all' }
  | { name: 'discard'; eventId: string }
  | { name: 'reroute'; eventId: string; topic: string }
  | ReplayCommand

export { UsageError }

const eventIdSchema = z.guid('expected an event id (a uuid, as listed by `npm run outbox -- dead`)')
const limitSchema = z.coerce
  .number({ error: '--limit must be a number' })
  .int('--limit must be a whole number')
  .min(1, '--limit must be at least 1')
  .max(10_000, '--limit must be at most 10000')
const topicSchema = z
  .string()
  .refine(isValidTopicName, "expected a topic name (1-249 letters, digits, '.', '_', '-')")

/** Options each command accepts, and its arguments; anything else is a usage error. */
const COMMANDS: Record<string, { options: readonly string[]; args: readonly string[] }> = {
  status: { options: ['json'], args: [] },
  dead: { options: ['json', 'limit'], args: [] },
  show: { options: ['json'], args: ['event id'] },
  retry: { options: ['all'], args: ['event id'] },
  discard: { options: [], args: ['event id'] },
  reroute: { options: [], args: ['event id', 'topic'] },
}
/** Commands with options of their own, parsed apart (parse-replay.ts). */
const OWN_PARSERS = ['replay']

/** Every command, `help` included: the usage text and docs/operations.md list these. */
export const commandNames = [...Object.keys(COMMANDS), ...OWN_PARSERS, 'help']

/** What argv asks for: a command to run against the database, or the usage text. */
export function parseCommand(argv: readonly string[]): Command | { name: 'help' } {
  if (argv[0] === 'replay') return parseReplay(argv.slice(1))
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
  const spec = COMMANDS[name]
  if (!spec) throw new UsageError(`unknown command '${name}'`)
  for (const option of Object.keys(values)) {
    if (!spec.options.includes(option)) throw new UsageError(`${name} does not take --${option}`)
  }
  const expected = values.all ? [] : spec.args
  if (args.length !== expected.length) throw new UsageError(wrongArgs(name, expected, args, values))
  const json = values.json ?? false
  const eventId = () => valid(eventIdSchema, args[0])
  switch (name) {
    case 'status':
      return { name, json }
    case 'dead':
      return { name, json, limit: valid(limitSchema, values.limit ?? '50') }
    case 'show':
      return { name, json, eventId: eventId() }
    case 'retry':
      return { name, target: values.all ? 'all' : { eventId: eventId() } }
    case 'reroute':
      return { name, eventId: eventId(), topic: valid(topicSchema, args[1]) }
    default:
      return { name: 'discard', eventId: eventId() }
  }
}

function wrongArgs(
  name: string,
  expected: readonly string[],
  args: readonly string[],
  values: { all?: boolean },
): string {
  if (expected.length === 0) {
    return `${name}${values.all ? ' --all' : ''} takes no arguments (got '${args.join(' ')}')`
  }
  if (expected.length === 1) {
    return `${name} takes exactly one event id${name === 'retry' ? ' (or --all)' : ''}`
  }
  return `${name} takes ${expected.map((a) => `<${a}>`).join(' ')}`
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
