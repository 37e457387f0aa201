/**
 * Which topic an outbox row goes to: its own `topic` column when set, else the topic template
 * (KAFKA_TOPIC_TEMPLATE, by default `{aggregate_type}.events`) filled with its aggregate type.
 * A template without the placeholder is one fixed topic for every aggregate.
 *
 * The one place a topic is computed from the template: a message is routed once, when it is
 * read (routeOf), and carries its topic from then on; statements that group or filter rows by
 * topic use routedTopicSql, the same rule in SQL.
 */
import type { Q } from './client'

export const AGGREGATE_TYPE_PLACEHOLDER = '{aggregate_type}'
export const DEFAULT_TOPIC_TEMPLATE = `${AGGREGATE_TYPE_PLACEHOLDER}.events`

/** Kafka's rule for a topic name: 1-249 of letters, digits, `.`, `_` and `-`. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..'
}

/**
 * Why the template cannot name topics, or undefined when it can. With the placeholder, the text
 * around it must be valid in a topic name (an aggregate type like `orders` then makes a valid
 * name); without it, the whole template must be one valid topic name.
 */
export function topicTemplateProblem(template: string): string | undefined {
  if (!template.includes(AGGREGATE_TYPE_PLACEHOLDER)) {
    return isValidTopicName(template)
      ? undefined
      : `must contain ${AGGREGATE_TYPE_PLACEHOLDER} or be a valid topic name (letters, digits, '.', '_', '-'; at most 249)`
  }
  const sample = topicFor(template, 'x')
  return isValidTopicName(sample)
    ? undefined
    : `the text around ${AGGREGATE_TYPE_PLACEHOLDER} may hold only letters, digits, '.', '_' and '-'`
}

/** The template's topic for an aggregate type. */
export function topicFor(template: string, aggregateType: string): string {
  return template.replaceAll(AGGREGATE_TYPE_PLACEHOLDER, aggregateType)
}

/** Where one row goes: its `topic` override, else the template's topic for its type. */
export function routeOf(
  row: { aggregateType: string; topic?: string | null },
  template: string,
): string {
  return row.topic ?? topicFor(template, row.aggregateType)
}

/** routeOf in SQL, for the row `alias` of outbox (or a view with its columns). */
export function routedTopicSql(q: Q, template: string, alias: string) {
  const row = q(alias)
  return q`coalesce(${row}.topic, replace(${template}::text, ${AGGREGATE_TYPE_PLACEHOLDER}::text, ${row}.aggregate_type))`
}
