/**
 * `npm run tail [-- [topic ...] [--from-beginning]]`: prints events as they arrive on one or
 * more topics, by default the orders' and the inventory's (KAFKA_TOPIC_TEMPLATE for `orders` and
 * `inventory`). Each line names its topic. A fresh consumer group each run: it never takes
 * messages from a real consumer, and commits nothing anyone reads.
 */
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs'
import { isValidTopicName } from '../outbox/routing'
import type { Output } from './cli'
import { printable } from './format'

export type TailOptions = { topics: string[]; fromBeginning: boolean }

/** argv -> what to tail; `defaults` when no topic is named. Throws on a bad topic or option. */
export function parseTailArgs(argv: readonly string[], defaults: readonly string[]): TailOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: { 'from-beginning': { type: 'boolean' } },
  })
  for (const topic of positionals) {
    if (!isValidTopicName(topic)) throw new Error(`not a topic name: '${topic}'`)
  }
  const topics = positionals.length > 0 ? positionals : [...defaults]
  return { topics: [...new Set(topics)], fromBeginning: values['from-beginning'] ?? false }
}

/**
 * One message as two lines. Everything from the message is escaped (printable): anyone who can
 * write an event chooses its key, type and value, and must not reach the operator's terminal.
 */
export function formatTailed(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, 'headers' | 'key' | 'value' | 'offset'>,
): string {
  const h = (name: string) => printable(message.headers?.[name]?.toString() ?? '-')
  const key = printable(message.key?.toString() ?? '')
  return (
    `${h('ce_time')} ${topic} ${h('ce_type')} id=${h('ce_id')} key=${key} ` +
    `partition=${partition} offset=${message.offset}\n  ${printable(message.value?.toString() ?? '')}\n`
  )
}

/** Subscribes and prints until `stop()`. */
export async function startTail(
  brokers: string[],
  options: TailOptions,
  io: Output,
): Promise<{ stop(): Promise<void> }> {
  const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `outbox-tail-${randomUUID()}`,
    maxWaitTimeInMs: 500,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 }, // outlive broker restarts
  })
  // Without --from-beginning only events after the join are printed: say when that is (a few
  // seconds after start; again after a rebalance).
  consumer.on(consumer.events.GROUP_JOIN, () => {
    const from = options.fromBeginning ? 'every event from the beginning' : 'events from now on'
    io.err(`joined: printing ${from}\n`)
  })
  await consumer.connect()
  await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning })
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) =>
      io.out(formatTailed(topic, partition, message)),
  })
  io.err(`tailing ${options.topics.join(', ')} on ${brokers.join(',')} (Ctrl-C to stop)\n`)
  return { stop: () => consumer.disconnect() }
}
