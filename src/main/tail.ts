/**
 * `npm run tail [-- --from-beginning]`: prints events from the topic as they arrive.
 * Uses KAFKA_BROKERS, or the in-process broker a running `npm start` recorded in .data/.
 */
import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { loadConfig } from '../config'
import { readDevServices } from '../dev/dev-services-file'
import { runMain } from './run-main'

async function brokersAndTopic() {
  const config = loadConfig()
  if (config.kafka.brokers) return { brokers: config.kafka.brokers, topic: config.kafka.topic }
  const recorded = await readDevServices()
  if (!recorded?.brokers)
    throw new Error('KAFKA_BROKERS is not set and no `npm start` is running here to tail.')
  return { brokers: recorded.brokers, topic: recorded.topic }
}

runMain(async () => {
  const { brokers, topic } = await brokersAndTopic()
  const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `outbox-tail-${randomUUID()}`,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 }, // outlive broker restarts
  })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: process.argv.includes('--from-beginning') })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const h = (name: string) => message.headers?.[name]?.toString() ?? '-'
      process.stdout.write(
        `${h('ce_time')} ${h('ce_type')} id=${h('ce_id')} key=${message.key?.toString()} ` +
          `partition=${partition} offset=${message.offset}\n  ${message.value?.toString()}\n`,
      )
    },
  })
  process.stderr.write(`tailing ${topic} on ${brokers.join(',')} (Ctrl-C to stop)\n`)
  return { stop: () => consumer.disconnect() }
})
