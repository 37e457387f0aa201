/**
 * The event contract: every event this service publishes, defined once with zod.
 *
 * The API writes events only through `enqueue`, which parses the data with the schema below,
 * so a mistyped event cannot reach the outbox. The relay reads the schema version stored with
 * each row to name the event's JSON Schema in the `ce_dataschema` header. The committed JSON
 * Schemas in `schemas/` are generated from these definitions (`npm run schemas`) and a test
 * fails if they drift.
 *
 * Evolving an event: the schemas are closed (`additionalProperties: false`), so any change to
 * a type's data bumps its `version`; the new schema gets a new file and URI and the old file
 * stays, so consumers on the old version keep validating what they already stored. `ce_type`
 * stays the plain name, so routing on type never breaks.
 *
 * Every event carries the whole order after the change (event-carried state transfer; its shape
 * is OrderJson, defined once in src/orders/order.ts) and the order's `version` after the change,
 * which is also the CloudEvents `sequence` (Kafka header `ce_sequence`): 1 for OrderCreated, +1
 * per change. A consumer that has applied version n of an order expects n + 1 next; anything
 * lower is a stale duplicate.
 */
import { z } from 'zod'
import { OrderJson } from '../orders/order'

/** The order after the change, in the status the event type implies. */
const order = <S extends OrderJson['status']>(status: S) =>
  OrderJson.extend({ status: z.literal(status) })

/** Every event type: its data schema and that schema's version. */
export const eventContract = {
  OrderCreated: {
    version: 1,
    description: 'An order was placed. Always version 1 of the order.',
    data: order('pending').extend({ version: z.literal(1) }),
  },
  OrderConfirmed: {
    version: 1,
    description: 'A pending order was confirmed.',
    data: order('confirmed'),
  },
  OrderShipped: {
    version: 1,
    description: 'A confirmed order was shipped.',
    data: order('shipped'),
  },
  OrderCancelled: {
    version: 1,
    description:
      'A pending or confirmed order was cancelled; `cancellationReason` says why, if given.',
    data: order('cancelled'),
  },
} as const

export type EventType = keyof typeof eventContract
export type EventData<T extends EventType> = z.output<(typeof eventContract)[T]['data']>

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventContract, type)
}

/**
 * Why an event of a declared type does not fit its schema at `version`, naming the first field
 * that is wrong; undefined when it fits. Whoever wrote the row (the API, or plain SQL), the
 * relay checks it before it names the schema in `ce_dataschema`.
 */
export function schemaProblem(type: EventType, version: number, data: unknown): string | undefined {
  const def = eventContract[type]
  const file = schemaFileName(type, version)
  if (version !== def.version) return `no schema ${file} is known (${type} is at v${def.version})`
  const parsed = def.data.safeParse(data)
  if (parsed.success) return undefined
  const issue = parsed.error.issues[0]
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(the data itself)'
  return `does not fit ${file}: ${field}: ${issue?.message ?? 'invalid'}`
}

/** The file (and URL path segment) of a type's JSON Schema at a version. */
export const schemaFileName = (type: EventType, version: number) => `${type}.v${version}.json`

/**
 * The `ce_dataschema` URI for an event: `<base>/<Type>.v<version>.json`. The API serves the
 * same documents under `/schemas/`, so with the default base the URI resolves against the
 * running service.
 */
export function dataSchemaUri(baseUrl: string, type: string, version: number): string {
  return `${baseUrl.replace(/\/+$/, '')}/${type}.v${version}.json`
}

/** The declared types' schemas, as the relay asks for them (its EventSchemas port). */
export function eventSchemas(baseUrl: string) {
  return {
    uri: (type: string, version: number) =>
      isEventType(type) ? dataSchemaUri(baseUrl, type, version) : undefined,
    problem: (type: string, version: number, data: unknown) =>
      isEventType(type) ? schemaProblem(type, version, data) : undefined,
  }
}

/** JSON Schema (draft 2020-12) of a type's data, generated from the zod definition. */
export function eventJsonSchema(type: EventType): Record<string, unknown> {
  const def = eventContract[type]
  return {
    $id: schemaFileName(type, def.version),
    title: type,
    description: def.description,
    ...z.toJSONSchema(def.data, { target: 'draft-2020-12' }),
  }
}
