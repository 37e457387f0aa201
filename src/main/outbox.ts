/** `npm run outbox -- <command>`: one-shot operator commands (src/ops/cli.ts lists them). */

import { pino } from 'pino'
import postgres from 'postgres'
import { type Config, ConfigError, loadConfig } from '../config'
import { devDataDirOf, readDevServices } from '../dev/dev-services-file'
import { eventSchemas } from '../events/contract'
import { type Output, runCommand, USAGE } from '../ops/cli'
import { parseCommand, UsageError } from '../ops/parse-command'
import type { ReplayCommand } from '../ops/parse-replay'
import { runReplayCommand } from '../ops/replay-command'
import { createKafkaPublisher } from '../relay/kafka-publisher'

// Where a running `npm start` recorded its database and broker, for whichever is unset.
const devDataDir = devDataDirOf(process.env)
const io: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }

async function main(argv: string[]): Promise<number> {
  const command = parseCommand(argv)
  if (command.name === 'help') {
    io.out(USAGE)
    return 0
  }
  const config = loadConfig(process.env)
  // Unset: the embedded database of a `npm start` running here, if there is one.
  const databaseUrl = config.databaseUrl ?? (await readDevServices(devDataDir))?.databaseUrl
  if (!databaseUrl) {
    throw new ConfigError([
      'DATABASE_URL: required but not set (and no `npm start` is running here)',
    ])
  }
  const sql = postgres(databaseUrl, {
    max: 1,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'outbox-cli' },
  })
  try {
    if (command.name === 'replay') return await replay(command, sql, config)
    return await runCommand(sql, command, io, { topicTemplate: config.kafka.topicTemplate })
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** Replay talks to Kafka too; Ctrl-C stops it after the batch in hand, resumable. */
async function replay(command: ReplayCommand, sql: postgres.Sql, config: Config): Promise<number> {
  const brokers = config.kafka.brokers ?? (await readDevServices(devDataDir))?.brokers
  if (!brokers) {
    throw new ConfigError([
      'KAFKA_BROKERS: required but not set (and no `npm start` is running here)',
    ])
  }
  const publisher = createKafkaPublisher({
    ...config.kafka,
    brokers,
    clientId: `${config.kafka.clientId}-replay`,
    cloudEvents: {
      source: config.relay.eventSource,
      schemas: eventSchemas(config.relay.eventSchemaBaseUrl),
    },
    logger: pino({ level: 'silent' }),
  })
  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  try {
    return await runReplayCommand(command, {
      sql,
      io: { ...io, tty: process.stderr.isTTY === true },
      topicTemplate: config.kafka.topicTemplate,
      retentionMs: config.retention.maxAgeMs,
      batchSize: config.relay.batchSize,
      missingTopics: (topics) => publisher.missingTopics(topics),
      publish: (batch) => publisher.publish(batch),
      signal: stop.signal,
    })
  } finally {
    await publisher.disconnect().catch(() => {})
  }
}

// Exit codes: 0 done, 1 refused or failed, 2 usage. exitCode, not exit(): output is flushed.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof UsageError) io.err(`outbox: ${err.message}\n\n${USAGE}`)
    else if (err instanceof ConfigError) io.err(`${err.message}\n`)
    else io.err(`outbox: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = err instanceof UsageError ? 2 : 1
  },
)
