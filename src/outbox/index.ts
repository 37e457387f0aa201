/**
 * The outbox, as a service imports it. Write side: `defineEvents(aggregateType, definitions)`
 * gives `enqueue(tx, event)` for that service's own events; the table contract itself (for SQL
 * in any language) is docs/outbox.md. Routing: which topic a row goes to.
 */
export type { NewOutboxRow, OutboxRow } from '../db/schema'
export {
  type AggregateEvents,
  defineEvents,
  type EnqueuedRow,
  type EventContext,
  type EventDefinition,
  type EventDefinitions,
  type OutboxEvent,
} from './define-events'
export {
  DEFAULT_TOPIC_TEMPLATE,
  isValidTopicName,
  routeOf,
  topicFor,
  topicTemplateProblem,
} from './routing'
