/** argv of `npm run outbox -- replay ...` into a ReplayCommand, or a UsageError (exit 2). */
import { parseArgs } from 'node:util'
import { z } from 'zod'
import type { ReplayFilters } from '../outbox/replay-queries'
import { isValidTopicName } from '../outbox/routing'
import { UsageError } from './usage-error'

export type ReplayCommand =
  | {
      name: 'replay'
      action: 'start'
      filters: ReplayFilters
      toTopic: string | null
      dryRun: boolean
      rate?: number
      json: boolean
    }
  | { name: 'replay'; action: 'status'; json: boolean }
  | { name: 'replay'; action: 'resume'; runId: number; rate?: number }
  | { name: 'replay'; action: 'cancel'; runId: number }

const time = (flag: string) =>
  z
    .string()
    .refine(
      (s) => !Number.isNaN(Date.parse(s)),
      `${flag} must be a time (ISO 8601: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)`,
    )
    .transform((s) => new Date(s).toISOString())
const text = (flag: string) => z.string().min(1, `${flag} must not be empty`)
const topic = (flag: string) =>
  z
    .string()
    .refine(isValidTopicName, `${flag} must be a topic name (1-249 letters, digits, '.', '_', '-')`)
const runId = z.coerce.number().int().min(1, 'expected a run id (a number, as --status lists)')
const rate = z.coerce
  .number({ error: '--rate must be a number' })
  .min(1, '--rate must be at least 1 event/s')
  .max(1_000_000, '--rate must be at most 1000000')

const FILTERS = ['since', 'until', 'aggregate-type', 'aggregate-id', 'event-type', 'topic'] as const

export function parseReplay(argv: readonly string[]): ReplayCommand {
  let parsed: ReturnType<typeof options>
  try {
    parsed = options(argv)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values: v, positionals } = parsed
  if (positionals.length > 0)
    throw new UsageError(`replay takes options only (got '${positionals.join(' ')}')`)
  const filtersGiven = FILTERS.filter((f) => v[f] !== undefined)
  const actions = (['status', 'resume', 'cancel'] as const).filter((a) => v[a] !== undefined)
  if (actions.length > 1) throw new UsageError(`--${actions.join(' and --')} cannot go together`)
  const action = actions[0]
  if (action && (filtersGiven.length > 0 || v['to-topic'] || v['dry-run'])) {
    throw new UsageError(`--${action} takes no filters, --to-topic or --dry-run`)
  }
  const rateOf = () => (v.rate === undefined ? undefined : valid(rate, v.rate))
  if (action === 'status') return { name: 'replay', action, json: v.json ?? false }
  if (action === 'resume')
    return { name: 'replay', action, runId: valid(runId, v.resume), rate: rateOf() }
  if (action === 'cancel') return { name: 'replay', action, runId: valid(runId, v.cancel) }
  const filters: ReplayFilters = {}
  if (v.since !== undefined) filters.since = valid(time('--since'), v.since)
  if (v.until !== undefined) filters.until = valid(time('--until'), v.until)
  if (filters.since && filters.until && filters.since >= filters.until) {
    throw new UsageError('--since must be before --until')
  }
  if (v['aggregate-type'] !== undefined)
    filters.aggregateType = valid(text('--aggregate-type'), v['aggregate-type'])
  if (v['aggregate-id'] !== undefined)
    filters.aggregateId = valid(text('--aggregate-id'), v['aggregate-id'])
  if (v['event-type'] !== undefined)
    filters.eventType = valid(text('--event-type'), v['event-type'])
  if (v.topic !== undefined) filters.topic = valid(topic('--topic'), v.topic)
  return {
    name: 'replay',
    action: 'start',
    filters,
    toTopic: v['to-topic'] === undefined ? null : valid(topic('--to-topic'), v['to-topic']),
    dryRun: v['dry-run'] ?? false,
    rate: rateOf(),
    json: v.json ?? false,
  }
}

function options(argv: readonly string[]) {
  const str = { type: 'string' } as const
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      since: str,
      until: str,
      'aggregate-type': str,
      'aggregate-id': str,
      'event-type': str,
      topic: str,
      'to-topic': str,
      rate: str,
      resume: str,
      cancel: str,
      status: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
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
