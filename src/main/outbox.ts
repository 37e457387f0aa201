/** `npm run outbox -- <command>`: one-shot operator commands (src/ops/cli.ts lists them). */
import postgres from 'postgres'
import { ConfigError, loadConfig } from '../config'
import { readDevServices } from '../dev/dev-services-file'
import { type Output, runCommand, USAGE } from '../ops/cli'
import { parseCommand, UsageError } from '../ops/parse-command'

const io: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }

async function main(argv: string[]): Promise<number> {
  const command = parseCommand(argv)
  if (command.name === 'help') {
    io.out(USAGE)
    return 0
  }
  const config = loadConfig(process.env)
  // Unset: the embedded database of a `npm start` running here, if there is one.
  const databaseUrl = config.databaseUrl ?? (await readDevServices())?.databaseUrl
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
    return await runCommand(sql, command, io, { topicTemplate: config.kafka.topicTemplate })
  } finally {
    await sql.end({ timeout: 1 })
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
